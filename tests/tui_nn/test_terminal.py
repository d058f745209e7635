"""What reaches the terminal: only changed cells, the same screen, and the frame pace."""

from __future__ import annotations

import fcntl
import gc
import os
import threading
import time

import pyte
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual.drivers._writer_thread import WriterThread
from textual.strip import Strip

from engine.session import Session
from tui_nn.app import GC_THRESHOLDS, TuiNN
from tui_nn.catalog import shipped_dir
from tui_nn.messages import TrainingProgress
from tui_nn.screens import main as main_screen
from tui_nn.terminal import FORGET, MeteredDriver, MeteredFile, ScreenDiff, remote
from tui_nn.training import (
    LOCAL_FPS,
    LONGEST_BUDGET,
    REMOTE_FPS,
    SLOWEST_FRAME,
    TRAIN_FLOOR,
    TRAIN_SHARE,
    FramePacer,
    settled,
    thread_clock,
    training_budget,
)

WIDTH, HEIGHT = 30, 8
CONSOLES = {mode: Console(color_system=mode, force_terminal=True) for mode in ("truecolor", "256")}


def frame(lines: dict[int, list[tuple[str, Style | None]]], console: Console) -> str:
    """Textual's way of writing lines: a cursor move, then each run styled and reset."""
    out = []
    for y, segments in sorted(lines.items()):
        strip = Strip([Segment(text, style) for text, style in segments])
        out.append(f"\x1b[{y + 1};1H{strip.render(console)}")
    return "\n".join(out) + "\x1b[1;1H"


def screen_of(stream: list[str]) -> list[list[pyte.screens.Char]]:
    screen = pyte.Screen(WIDTH, HEIGHT)
    feed = pyte.Stream(screen).feed
    for data in stream:
        feed(data.replace("\n", "\r\n"))  # the terminal's line discipline (ONLCR)
    return [[screen.buffer[y][x] for x in range(WIDTH)] for y in range(HEIGHT)]


COLOURS = st.sampled_from(["#1e1e1e", "#0178d4", "#ffa62b", "#7bb1da", "red", None])
STYLES = (
    st.builds(
        lambda fg, bg, bold: Style(color=fg, bgcolor=bg, bold=bold or None),
        COLOURS,
        COLOURS,
        st.booleans(),
    )
    | st.none()
)
CHARS = st.sampled_from(["▀", "▀", "▀", " ", "●", "a", "1", "表"])


@st.composite
def frames(draw: st.DrawFn) -> dict[int, list[tuple[str, Style | None]]]:
    lines = {}
    for y in draw(st.sets(st.integers(0, HEIGHT - 1), min_size=1)):
        segments, width = [], 0
        while width < WIDTH:
            text = draw(CHARS) * draw(st.integers(1, 4))
            style = draw(STYLES)
            fit = ""
            for ch in text:
                w = 2 if ch == "表" else 1
                if width + w > WIDTH:
                    break
                fit, width = fit + ch, width + w
            if not fit:
                fit, width = " " * (WIDTH - width), WIDTH
            segments.append((fit, style))
        lines[y] = segments
    return lines


@settings(max_examples=60, deadline=None)
@given(st.lists(frames(), min_size=1, max_size=6), st.sampled_from(sorted(CONSOLES)))
def test_the_terminal_shows_what_textual_drew(drawn, mode) -> None:
    raw = [frame(lines, CONSOLES[mode]) for lines in drawn]
    diff = ScreenDiff()
    filtered = [diff.feed(data) for data in raw]
    for n in range(1, len(raw) + 1):
        assert screen_of(filtered[:n]) == screen_of(raw[:n])


def test_a_frame_drawn_again_sends_only_the_cursor() -> None:
    console = CONSOLES["truecolor"]
    lines = {
        y: [("▀" * 10, Style(color="#0178d4", bgcolor="#ffa62b")), ("●" * 20, Style(bold=True))]
        for y in range(HEIGHT)
    }
    diff = ScreenDiff()
    first = diff.feed(frame(lines, console))
    again = diff.feed(frame(lines, console))
    assert len(first) > 500
    assert again in ("", "\x1b[1;1H")


def test_one_changed_cell_sends_that_cell_and_its_style_change() -> None:
    console = CONSOLES["256"]
    blue, orange = (
        Style(color="#0178d4", bgcolor="#0178d4"),
        Style(color="#0178d4", bgcolor="#ffa62b"),
    )
    before = {0: [("▀" * WIDTH, blue)]}
    after = {0: [("▀" * 12, blue), ("▀", orange), ("▀" * (WIDTH - 13), blue)]}
    diff = ScreenDiff()
    first = diff.feed(frame(before, console))
    sent = diff.feed(frame(after, console))
    assert sent.count("▀") == 1
    assert "\x1b[0m" not in sent.split("▀")[0]  # no reset: only the background changes
    assert len(sent) < 40
    assert screen_of([first, sent]) == screen_of([frame(after, console)])


def test_forgetting_sends_everything_again() -> None:
    console = CONSOLES["truecolor"]
    lines = {0: [("hello", Style(bold=True))]}
    diff = ScreenDiff()
    diff.feed(frame(lines, console))
    assert "hello" not in diff.feed(frame(lines, console))
    diff.feed(FORGET)
    assert "hello" in diff.feed(frame(lines, console))
    diff.feed("\x1b[?1049h")  # another screen: unknown contents
    assert "hello" in diff.feed(frame(lines, console))


def test_the_app_writes_through_the_diff_and_the_meter() -> None:
    app = TuiNN(Session.from_file(shipped_dir() / "moons.toml"))
    driver = app.get_driver_class()
    assert issubclass(driver, MeteredDriver)


def test_ssh_lowers_the_frame_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    session = Session.from_file(shipped_dir() / "moons.toml")
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.delenv("SSH_CLIENT", raising=False)
    assert not remote()
    assert TuiNN(session).fps == LOCAL_FPS
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.2 50000 10.0.0.1 22")
    assert remote()
    assert TuiNN(session).fps == REMOTE_FPS < LOCAL_FPS
    assert TuiNN(session, fps=30).fps == 30  # --fps still decides


def test_frames_back_off_while_the_terminal_is_behind_and_come_back() -> None:
    """A real pipe nobody reads stands for a stalled link: the writer thread blocks on it."""
    read_end, write_end = os.pipe()
    capacity = fcntl.fcntl(write_end, 1032)  # F_GETPIPE_SZ
    file = os.fdopen(write_end, "w", encoding="utf-8")
    meter = MeteredFile(file)
    writer = WriterThread(meter)  # type: ignore[arg-type]
    writer.start()
    pacer = FramePacer(15, backlog=lambda: meter.backlog)
    pacer.drawn(now=0.0)
    assert pacer.wait(now=1.0) == 0  # nothing handed yet: draw

    chunk = "x" * 4096
    for _ in range(2 * capacity // len(chunk) + 4):  # more than the pipe holds
        meter.hand(len(chunk))
        writer.write(chunk)
    assert meter.backlog >= capacity  # the terminal has not taken it: the pipe is full
    waits = [pacer.wait(now=1.0) for _ in range(8)]
    assert waits[0] > 1 / 15 and waits == sorted(waits) and waits[-1] == SLOWEST_FRAME
    assert pacer.stalls == 8

    drained = threading.Thread(target=lambda: _read_all(read_end))
    drained.start()
    writer.stop()  # returns once every write went through
    file.close()
    drained.join()
    assert meter.backlog == 0
    assert pacer.wait(now=1.0) == 0  # caught up: draw now
    for frame_no in range(30):
        pacer.drawn(now=2.0 + frame_no)
    assert pacer.interval == pytest.approx(1 / 15)


def test_training_keeps_its_share_of_the_time_when_frames_are_slow_to_draw() -> None:
    frame = 1 / 15
    assert training_budget(frame, 0.005) == frame * TRAIN_SHARE  # cheap frames: as paced
    budget = training_budget(frame, 0.05)
    assert budget > frame * TRAIN_SHARE
    assert budget / (budget + 0.05) == pytest.approx(TRAIN_FLOOR)
    assert training_budget(frame, 1.0) == LONGEST_BUDGET  # still a few frames a second


class Burner:
    """A real thread that keeps a processor busy until told to stop, then sleeps."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.end = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()
        ident = self.thread.ident
        assert ident is not None
        clock = thread_clock(ident)
        assert clock is not None  # Linux has per-thread clocks
        self.clock = clock

    def _run(self) -> None:
        while not self.stop.is_set():
            pass
        self.end.wait()

    def close(self) -> None:
        self.stop.set()
        self.end.set()
        self.thread.join()


def test_the_trainer_goes_on_once_the_interface_thread_is_idle() -> None:
    burner = Burner()
    try:
        threading.Timer(0.05, burner.stop.set).start()
        assert settled(burner.clock, time.perf_counter() + 10, threading.Event())
        assert burner.stop.is_set()  # not before the thread stopped working
    finally:
        burner.close()


def test_the_trainer_stops_waiting_for_a_busy_interface_after_a_frame_or_a_cancel() -> None:
    burner = Burner()
    try:
        start = time.perf_counter()
        assert not settled(burner.clock, start + 0.05, threading.Event())
        assert time.perf_counter() - start >= 0.05
        cancelled = threading.Event()
        threading.Timer(0.05, cancelled.set).start()
        assert not settled(burner.clock, time.perf_counter() + 10, cancelled)
        assert cancelled.is_set()
        assert not burner.stop.is_set()  # it was busy all along
    finally:
        burner.close()


def _read_all(fd: int) -> None:
    while os.read(fd, 1 << 16):
        pass
    os.close(fd)


async def test_an_expensive_panel_redraws_at_its_own_pace_while_training(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tui_nn.widgets import panel
    from tui_nn.widgets.architecture_view import ArchitectureView

    now = [100.0]
    monkeypatch.setattr(panel, "clock", lambda: now[0])
    session = Session.from_file(shipped_dir() / "moons.toml")
    app = TuiNN(session, story=False)
    async with app.run_test(size=(120, 40)):
        view = app.trainer.query_one(ArchitectureView)
        real_draw = view.draw

        def slow_draw(snapshot) -> None:  # a draw that takes 50 ms of the panels' clock
            now[0] += 0.05
            real_draw(snapshot)

        monkeypatch.setattr(view, "draw", slow_draw)
        session.step(1)
        view.show(session.snapshot(), paced=True)
        drawn = view.draws
        session.step(1)
        view.show(session.snapshot(), paced=True)  # new data, 0 s later: waits its turn
        assert view.draws == drawn
        view.show(session.snapshot(), paced=False)  # paused: draws at once
        assert view.draws == drawn + 1
        session.step(1)
        view.select((0, 0, None))  # a view change draws at once, paced or not
        view.show(session.snapshot(), paced=True)
        assert view.draws == drawn + 2
        session.step(1)
        now[0] += 0.5  # ten times its draw time later: its turn again
        view.show(session.snapshot(), paced=True)
        assert view.draws == drawn + 3


async def test_the_program_freezes_its_start_up_heap_after_the_first_frame() -> None:
    """What start-up made is left out of later full collections (the program's own run only),
    and the youngest generation is collected less often."""
    before = gc.get_threshold()
    app = TuiNN(Session.from_file(shipped_dir() / "moons.toml"), story=False)
    app.freeze_heap = True
    gc.disable()  # as `tui_nn.launch` starts the program
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert app.trainer.frames_drawn >= 1
            assert gc.get_freeze_count() > 10_000
            assert gc.get_threshold() == GC_THRESHOLDS
            assert gc.isenabled()  # collecting again once the first frame is drawn
    finally:
        gc.enable()
        gc.unfreeze()
        gc.set_threshold(*before)


async def test_a_progress_message_draws_no_frame_while_a_key_is_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The key's own frame shows the state; a frame for a queued progress message would only
    make it wait."""
    monkeypatch.setattr(main_screen, "KEY_HOLD", 60.0)  # the key is answered all test long
    app = TuiNN(Session.from_file(shipped_dir() / "moons.toml"), story=False, fps=1000)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.trainer
        await pilot.pause()
        before = screen.frames_drawn
        screen.post_message(TrainingProgress(0))
        await pilot.pause()
        assert screen.frames_drawn == before + 1  # no key: the message draws a frame
        await pilot.press("y")  # a key (it draws its own frame)
        assert screen.answering()
        before = screen.frames_drawn
        screen.post_message(TrainingProgress(0))
        await pilot.pause()
        assert screen.frames_drawn == before
