"""Continuous training in a thread, paced so the interface stays responsive.

The worker trains in chunks short enough (~30 ms) that the interface thread, which needs the
session's lock to take a snapshot, never waits long. Each frame it trains for at most
TRAIN_SHARE of the frame, posts one progress message, and sleeps out the rest, so the redraw
runs while nothing competes for the lock or the interpreter: slow speeds stay watchable, and at
top speed the screen still keeps its frame rate.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from textual.message import Message
from textual.worker import get_current_worker

from engine.session import Session
from tui_nn.messages import TrainingProgress, TrainingStopped

CHUNK_SECONDS = 0.03
"""Longest the worker holds the session's lock in one call to step()."""
TRAIN_SHARE = 0.6
"""Share of each frame spent training at top speed; the rest is left to drawing."""
SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
"""Epochs per frame that `+` and `-` step through."""
DEFAULT_SPEED = 20
"""Epochs per frame at start: a baseline scenario converges in a few seconds of watching."""


def train_loop(
    session: Session,
    epochs_per_frame: Callable[[], int],
    fps: float,
    post: Callable[[Message], object],
    done: threading.Event,
    pause_at: int | None = None,
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
    """
    worker = get_current_worker()
    per_epoch = 1e-4
    frame = 1.0 / max(fps, 1.0)
    budget = frame * TRAIN_SHARE
    try:
        while not worker.is_cancelled:
            start = time.perf_counter()
            target, trained = epochs_per_frame(), 0
            while trained < target and not worker.is_cancelled:
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
            post(TrainingProgress(session.epoch))
            rest = frame - (time.perf_counter() - start)
            if rest > 0:
                worker.cancelled_event.wait(rest)
    finally:
        done.set()


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
