"""Continuous training in a thread, paced so the interface stays responsive.

The worker trains in chunks short enough (~10 ms) that the interface thread, which needs the
session's lock to take a snapshot, never waits long. Each frame it trains for at most
TRAIN_SHARE of the frame, posts one progress message, and waits until the interface has drawn
that frame (or a frame's time has passed) before sleeping out the rest, so the redraw runs while
nothing competes for the lock or the interpreter: slow speeds stay watchable, and at top speed
the screen still keeps its frame rate. Where a frame takes long to draw (many panels), frames
come less often instead of training slowing down: training keeps at least TRAIN_FLOOR of the
time.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from textual.message import Message
from textual.worker import get_current_worker

from engine.session import Session
from tui_nn.messages import TrainingProgress, TrainingStopped

CHUNK_SECONDS = 0.01
"""Longest the worker holds the session's lock in one call to step(): a key that needs the
session (a snapshot to draw) waits at most this long for it."""
TRAIN_SHARE = 0.8
"""Share of each frame spent training at top speed; the rest is left to drawing."""
TRAIN_FLOOR = 0.7
"""Share of the time training keeps at top speed however long a frame takes to draw."""
LONGEST_BUDGET = 0.25
"""Longest the worker trains between two frames (seconds): at least 4 frames a second."""
IDLE_POLL = 0.002
"""Seconds between looks at the interface thread's processor clock while waiting for it."""
IDLE_SHARE = 0.1
"""The interface thread counts as idle once it used less than this share of a poll interval
(Textual renders a frame's widgets in several passes after the redraw itself returns)."""
HOLD_POLL = 0.005
"""Seconds between looks at whether the interface still needs the interpreter."""
SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
"""Epochs per frame that `+` and `-` step through."""
DEFAULT_SPEED = 20
"""Epochs per frame at start: a baseline scenario converges in a few seconds of watching."""
LOCAL_FPS = 15.0
"""Frames per second at most, by default, on a terminal of this machine."""
REMOTE_FPS = 8.0
"""Frames per second at most, by default, over SSH: about half the bytes of LOCAL_FPS."""
SLOWEST_FRAME = 1.0
"""Longest wait between frames while the terminal lags behind (seconds)."""


def default_fps(remote: bool) -> float:
    """The frame cap when ``--fps`` is not given: lower when the terminal is remote."""
    return REMOTE_FPS if remote else LOCAL_FPS


def train_loop(
    session: Session,
    epochs_per_frame: Callable[[], int],
    fps: float,
    post: Callable[[Message], object],
    done: threading.Event,
    pause_at: int | None = None,
    hold: Callable[[], bool] | None = None,
    shown: threading.Event | None = None,
    interface_clock: Callable[[], float] | None = None,
) -> None:
    """Body of the training worker: train until cancelled, or until it should pause.

    It pauses (posting ``TrainingStopped``) when a run blows up, when the session reaches one
    of the scenario's moments, and at epoch ``pause_at``.

    Args:
        session: The session to train.
        epochs_per_frame: Read every frame, so `+`/`-` take effect while running.
        fps: Frames per second the interface draws at most.
        post: Sends a message to the interface thread (thread-safe).
        done: Set when the loop has returned, so the caller can wait for the thread itself.
        pause_at: Stop at this epoch (the scenario's training.epochs), or None.
        hold: While it returns True the worker trains nothing (a key is being answered: the
            interface thread then has the interpreter to itself).
        shown: Set by the interface once it has drawn the frame a progress message asked for
            (and by whoever cancels the worker, so it does not wait); the worker clears it
            before each message. None: no waiting for frames.
        interface_clock: The interface thread's processor time (``thread_clock``): after
            ``shown``, the worker also waits until that thread has gone idle.
    """
    worker = get_current_worker()
    per_epoch = 1e-4
    frame = 1.0 / max(fps, 1.0)
    budget = frame * TRAIN_SHARE
    drawing = 0.0  # seconds the last frames took to draw, smoothed
    try:
        while not worker.is_cancelled:
            start = time.perf_counter()
            target, trained = epochs_per_frame(), 0
            while trained < target and not worker.is_cancelled:
                while hold is not None and hold() and not worker.is_cancelled:
                    worker.cancelled_event.wait(HOLD_POLL)
                left = budget - (time.perf_counter() - start)
                chunk = max(1, min(target - trained, int(min(CHUNK_SECONDS, left) / per_epoch)))
                if pause_at is not None:
                    chunk = min(chunk, max(1, pause_at - session.epoch))
                moments = len(session.moments)
                t0 = time.perf_counter()
                n = session.step(chunk)
                if n:
                    per_epoch = 0.7 * per_epoch + 0.3 * (time.perf_counter() - t0) / n
                trained += n
                if session.blowup:
                    post(TrainingStopped(session.epoch, "blowup"))
                    return
                if len(session.moments) > moments:
                    post(TrainingStopped(session.epoch, "moment"))
                    return
                if pause_at is not None and session.epoch >= pause_at:
                    post(TrainingStopped(session.epoch, "target"))
                    return
                if time.perf_counter() - start >= budget:
                    break
            if shown is not None:
                shown.clear()
            posted = time.perf_counter()
            post(TrainingProgress(session.epoch))
            if (
                shown is not None
                and not worker.is_cancelled
                and shown.wait(frame)
                and settled(interface_clock, posted + frame, worker.cancelled_event)
            ):
                drawing = 0.7 * drawing + 0.3 * (time.perf_counter() - posted)
                budget = training_budget(frame, drawing)
            rest = frame - (time.perf_counter() - start)
            if rest > 0:
                worker.cancelled_event.wait(rest)
    finally:
        done.set()


def training_budget(frame: float, drawing: float) -> float:
    """Seconds to train before the next frame at top speed: TRAIN_SHARE of the frame, or more
    when drawing a frame takes ``drawing`` seconds, so training keeps TRAIN_FLOOR of the time
    (frames then come less often), and never more than LONGEST_BUDGET."""
    floor = drawing * TRAIN_FLOOR / (1 - TRAIN_FLOOR)
    return min(LONGEST_BUDGET, max(frame * TRAIN_SHARE, floor))


def thread_clock(ident: int) -> Callable[[], float] | None:
    """A reader of thread ``ident``'s processor time in seconds, callable from any thread;
    None where the platform has no per-thread clock."""
    try:
        clock = time.pthread_getcpuclockid(ident)
        time.clock_gettime(clock)
    except (AttributeError, OSError):
        return None
    return lambda: time.clock_gettime(clock)


def settled(clock: Callable[[], float] | None, deadline: float, cancelled: threading.Event) -> bool:
    """Wait until the thread ``clock`` reads has gone idle (it used less than IDLE_SHARE of an
    IDLE_POLL interval); False when ``deadline`` (time.perf_counter) or a cancel came first."""
    if clock is None:
        return True
    used = clock()
    while time.perf_counter() < deadline:
        if cancelled.wait(IDLE_POLL):
            return False
        now = clock()
        if now - used < IDLE_POLL * IDLE_SHARE:
            return True
        used = now
    return False


class FramePacer:
    """When the next frame may be drawn: at most ``fps`` a second, and less while the terminal
    has not taken the last frames yet (a slow link), coming back as it catches up.

    Args:
        fps: The frame cap.
        backlog: Characters handed to the terminal that it has not taken yet (None: no
            terminal to wait for, as in tests and the web view).
    """

    def __init__(self, fps: float, backlog: Callable[[], int] | None = None) -> None:
        self.fps = max(1.0, fps)
        """The frame cap."""
        self.interval = 1.0 / self.fps
        """Seconds between frames now: 1/fps, longer after the terminal fell behind."""
        self.backlog = backlog
        self.stalls = 0
        """Frames put off because the terminal was behind (for tests and benchmarks)."""
        self.last = -math.inf
        """When the last frame was drawn (time.perf_counter)."""

    def wait(self, now: float | None = None) -> float:
        """Seconds until the next frame may be drawn (0: now).

        A frame asked for while the terminal still holds part of an earlier one is put off,
        and the interval doubles (up to SLOWEST_FRAME); each frame the terminal kept up with
        brings it back towards 1/fps.
        """
        now = time.perf_counter() if now is None else now
        if self.backlog is not None and self.backlog() > 0:
            self.stalls += 1
            self.interval = min(SLOWEST_FRAME, 2 * self.interval)
            return self.interval
        return max(0.0, self.last + self.interval - now)

    def drawn(self, now: float | None = None) -> None:
        """A frame was drawn now."""
        self.last = time.perf_counter() if now is None else now
        self.interval = max(1.0 / self.fps, 0.8 * self.interval)


class SpeedMeter:
    """Epochs per second over the last second of (time, epoch) samples."""

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        """Seconds of samples kept."""
        self._samples: deque[tuple[float, int]] = deque()

    def reset(self) -> None:
        """Forget the samples (training paused or the session changed)."""
        self._samples.clear()

    def add(self, epoch: int, now: float | None = None) -> float | None:
        """Record the epoch now; returns the rate, or None until there are two samples."""
        now = time.perf_counter() if now is None else now
        self._samples.append((now, epoch))
        while len(self._samples) > 2 and now - self._samples[0][0] > self.window:
            self._samples.popleft()
        (t0, e0), (t1, e1) = self._samples[0], self._samples[-1]
        if t1 - t0 <= 0:
            return None
        return (e1 - e0) / (t1 - t0)
