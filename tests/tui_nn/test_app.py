"""The trainer driven by real key presses: training, stepping, probing, zooming, layouts."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import numpy as np
import pytest
from textual import constants
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from engine.session import Session
from engine.snapshot import Snapshot
from tui_nn.app import TuiNN, set_color_system
from tui_nn.catalog import shipped_dir
from tui_nn.plane import fit_aspect
from tui_nn.readouts import format_probe
from tui_nn.screens.main import BLOCK, MainScreen
from tui_nn.training import SPEEDS
from tui_nn.widgets.boundary_map import ZOOMS, BoundaryMap
from tui_nn.widgets.caption_bar import CaptionBar
from tui_nn.widgets.panel import Panel
from tui_nn.widgets.status_line import StatusLine, TitleBar

MOONS = shipped_dir() / "moons.toml"

NAN_SCENARIO = """
title = "A linear output with squared error and a huge step: blows up"
[data]
kind = "moons"
samples = 60
[model]
hidden = [8]
output = "linear"
[training]
loss = "squared_error_sum"
learning_rate = 50.0
"""

TWIN_SCENARIO = """
title = "Butterfly: a 1e-14 nudge"
[data]
kind = "moons"
samples = 60
[model]
hidden = [6]
[training]
learning_rate = 0.5
[experiments.butterfly]
epsilon = 1e-14
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def trainer(app: TuiNN) -> MainScreen:
    return app.trainer


async def wait_for(pilot: Pilot[int], condition, limit: int = 2000) -> None:
    """Let the app process messages until the condition holds."""
    for _ in range(limit):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError("condition not reached")


async def start_training(pilot: Pilot[int], screen: MainScreen) -> None:
    """Space, then wait until the trainer has trained an epoch."""
    await pilot.press("space")
    await wait_for(pilot, lambda: screen.session.epoch > 0)


def map_text(boundary: BoundaryMap) -> str:
    boundary._rows.clear()
    return "\n".join(boundary.render_line(y).text for y in range(boundary.size.height))


async def test_space_starts_and_stops_the_worker() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = trainer(app)
        await pilot.press("space")
        assert screen.running
        await wait_for(pilot, lambda: screen.session.epoch > 0)
        assert "running" in app.query_one(TitleBar).plain
        await pilot.press("space")
        await app.workers.wait_for_complete()
        assert not screen.running
        stopped_at = screen.session.epoch
        await pilot.pause(0.05)
        assert screen.session.epoch == stopped_at
        assert "paused" in app.query_one(TitleBar).plain


async def test_a_pause_is_on_screen_before_the_trainer_has_let_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Space while training: the title says paused in the next frame; waiting for the trainer's
    chunk and drawing the paused picture come after that frame."""
    seen: list[tuple[str, int]] = []
    paused = MainScreen._paused

    async def record(screen: MainScreen) -> None:
        seen.append((screen.app.query_one(TitleBar).plain, screen.frames_drawn))
        await paused(screen)

    monkeypatch.setattr(MainScreen, "_paused", record)
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = trainer(app)
        await start_training(pilot, screen)
        await pilot.press("space")
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: bool(seen) and screen.frames_drawn > seen[0][1])
        assert len(seen) == 1 and "paused" in seen[0][0]  # said before the paused picture
        assert not screen.running and "paused" in app.query_one(TitleBar).plain
        stopped_at = screen.session.epoch
        await pilot.pause(0.05)
        assert screen.session.epoch == stopped_at


async def test_space_twice_in_quick_succession_runs_on() -> None:
    """The second press lands before the first one's pause is drawn: training goes on."""
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = trainer(app)
        await start_training(pilot, screen)
        await pilot.press("space", "space")
        await pilot.pause()
        assert screen.running and "running" in app.query_one(TitleBar).plain
        epoch = screen.session.epoch
        await wait_for(pilot, lambda: screen.session.epoch > epoch)


async def test_n_steps_one_epoch_and_shift_n_a_block() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        session = trainer(app).session
        await pilot.press("n")
        assert session.epoch == 1
        await pilot.press("n")
        assert session.epoch == 2
        await pilot.press("N")
        assert session.epoch == 2 + BLOCK
        await pilot.pause()
        assert f"epoch {2 + BLOCK}/" in app.query_one(TitleBar).plain


async def test_plus_and_minus_change_epochs_per_frame() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = trainer(app)
        start = screen.epochs_per_frame
        await pilot.press("plus")
        assert screen.epochs_per_frame == SPEEDS[SPEEDS.index(start) + 1]
        await pilot.press("minus", "minus")
        assert screen.epochs_per_frame == SPEEDS[SPEEDS.index(start) - 1]
        assert f"{screen.epochs_per_frame} ep/frame" in app.query_one(TitleBar).plain
        for _ in SPEEDS:
            await pilot.press("minus")
        assert screen.epochs_per_frame == SPEEDS[0]


@pytest.mark.parametrize("width", [80, 120, 200])
async def test_status_line_never_wraps_and_keeps_the_loss(width: int) -> None:
    app = TuiNN(Session.from_file(shipped_dir() / "moons-poison.toml"), story=False)
    async with app.run_test(size=(width, 30)) as pilot:
        await pilot.press("N", "plus")
        await pilot.pause()
        status = app.query_one(StatusLine)
        line = status.plain
        assert "\n" not in line and len(line) <= width - 2
        assert line.startswith("poisoned (5 flips)  loss ")
        assert "probe (" in line  # the probe reading survives down to 80 columns
        if width >= 120:
            assert " p1=" in line  # the full probe reading
        if width >= 200:
            assert "lr 0.5" in line
        on_screen = [strip.text for strip in app.screen._compositor.render_strips()]
        assert on_screen[1].strip() == line.strip()
        assert "‖ paused  50 ep/frame  epoch 100/3,000" in on_screen[0]


@pytest.mark.parametrize(("name", "tests"), [("xor", 0), ("moons", 1)])
async def test_status_line_names_the_test_set_once_or_not_at_all(name: str, tests: int) -> None:
    """It once read 'loss 1.034 test -- acc -- test --' before the first epoch."""
    app = TuiNN(Session.from_file(shipped_dir() / f"{name}.toml"), story=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        line = app.query_one(StatusLine).plain
        assert line.count("test") == tests and "--" not in line, line


@pytest.mark.parametrize("width", [40, 44, 64])
async def test_title_bar_drops_the_speed_before_the_epoch(width: int) -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(width, 12)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        top = app.screen._compositor.render_strips()[0].text
        assert len(top) == width
        assert re.search(r" epoch 1(/3,000)? $", top), top  # whole, never cut off
        assert top.startswith(" tui-nn ") and "paused" in top


async def test_every_panel_shows_the_epoch_of_one_snapshot_while_training(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At 220x60 the status line and the Loss panel once showed 1,440 and 1,420 in one frame:
    every frame now hands one snapshot to all of them, the title bar included. (What a panel
    draws may lag: while training runs, a slow panel skips frames, ``Panel.show``.)"""
    frames: list[set[int]] = []
    show = Panel.show

    def show_and_record(panel: Panel, snapshot: Snapshot, *, paced: bool = False) -> None:
        if frames:
            frames[-1].add(snapshot.epoch)
        show(panel, snapshot, paced=paced)

    monkeypatch.setattr(Panel, "show", show_and_record)
    app = TuiNN(Session.from_file(shipped_dir() / "moons-poison.toml"), story=False)
    async with app.run_test(size=(220, 60)) as pilot:
        screen = trainer(app)
        redraw = screen.redraw

        def redraw_and_record() -> None:
            frames.append(set())
            redraw()
            status = app.query_one(StatusLine).snapshot
            assert status is not None
            frames[-1] |= {status.epoch, app.query_one(TitleBar).epoch}

        screen.redraw = redraw_and_record  # type: ignore[method-assign]
        await pilot.press("space")
        await wait_for(pilot, lambda: len(frames) >= 6 and max(max(f) for f in frames) > 0)
        await pilot.press("space")
        assert all(len(epochs) == 1 for epochs in frames), frames


async def test_r_resets_to_the_initial_weights() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        session = trainer(app).session
        initial = session.baseline.weights_sha256()
        await pilot.press("N")
        assert session.baseline.weights_sha256() != initial
        await pilot.press("r")
        assert session.epoch == 0
        assert session.baseline.weights_sha256() == initial


async def test_r_while_running_stops_training_first() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = trainer(app)
        await start_training(pilot, screen)
        await pilot.press("r")
        assert not screen.running
        assert screen.session.epoch == 0


@pytest.mark.parametrize(
    ("keys", "dx", "dy"),
    [
        (("right", "right"), 2, 0),
        (("l",), 1, 0),
        (("h", "left"), -2, 0),
        (("up", "k"), 0, 2),
        (("j",), 0, -1),
    ],
)
async def test_probe_moves_and_reads_the_exact_output(keys, dx, dy) -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = trainer(app)
        await pilot.press("N", "right", "left")  # onto a cell centre
        x0, y0 = screen.boundary.probe
        e = screen.boundary.extent
        w, h = screen.boundary.size
        await pilot.press(*keys)
        x, y = screen.boundary.probe
        assert x - x0 == pytest.approx(dx * (e.x_max - e.x_min) / w, abs=1e-9)
        assert y - y0 == pytest.approx(dy * (e.y_max - e.y_min) / h, abs=1e-9)
        exact = screen.session.probe(x, y)
        assert np.array_equal(screen.probe_output, exact)
        # 80 columns: the short reading (class and how sure); the full one needs more room
        assert format_probe((x, y), exact, short=True) in app.query_one(StatusLine).plain
        assert format_probe((x, y), exact).startswith(format_probe((x, y), exact, short=True))
        p = float(exact[0])
        assert f"p1={p:.6g}" in format_probe((x, y), exact)


async def test_probe_stays_inside_the_map() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = trainer(app)
        for _ in range(60):
            await pilot.press("left")
        assert screen.boundary.probe[0] > screen.boundary.extent.x_min
        text = map_text(screen.boundary)
        assert "╋" in text


async def test_z_zooms_out_and_back_and_keeps_the_probe() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = trainer(app)
        base = screen.boundary.extent
        await pilot.press("right", "up")
        probe = screen.boundary.probe
        await pilot.press("z")
        assert screen.boundary.probe == probe
        wide = screen.boundary.extent
        w, h = screen.boundary.size
        assert wide == fit_aspect(screen.boundary.base_extent.scaled(ZOOMS[1]), w, h)
        assert (wide.x_max - wide.x_min) / w == pytest.approx((wide.y_max - wide.y_min) / (2 * h))
        assert screen.snapshot is not None
        assert screen.snapshot.baseline.grid.extent == wide
        assert "zoom 4×" in app.query_one(StatusLine).plain
        for _ in ZOOMS[1:]:
            await pilot.press("z")
        assert screen.boundary.extent == base
        assert screen.boundary.probe == probe


async def test_a_toggles_ascii_mode() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = trainer(app)
        await pilot.press("N")
        assert "▀" in map_text(screen.boundary)
        await pilot.press("a")
        text = map_text(screen.boundary)
        assert "▀" not in text
        assert set("-o@") & set(text) and set("+xX") & set(text)
        await pilot.press("a")
        assert "▀" in map_text(screen.boundary)


async def test_glyph_mode_from_the_start() -> None:
    app = TuiNN(Session.from_file(MOONS), glyphs=True, story=False)
    async with app.run_test(size=(80, 24)):
        assert "▀" not in map_text(trainer(app).boundary)


@pytest.mark.parametrize(
    ("env", "mode", "glyphs"),
    [
        ({"TERM": "xterm-256color", "COLORTERM": "truecolor"}, "truecolor", False),
        ({"TERM": "xterm-256color"}, "256", False),
        ({"TERM": "xterm"}, "16", True),  # Rich draws 16 colours here: so does the map
        ({"TERM": "dumb"}, "none", True),
        ({"TERM": "xterm-256color", "NO_COLOR": "1"}, "none", True),
    ],
)
def test_one_colour_detection_for_drawing_and_ascii_mode(
    env: dict[str, str], mode: str, glyphs: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "COLOR_SYSTEM", "auto")
    monkeypatch.delenv("COLORTERM", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = TuiNN(Session.from_file(MOONS), story=False)
    assert (app.color_mode, app.glyphs) == (mode, glyphs)


@pytest.mark.parametrize(("mode", "rich_name"), [("256", "256"), ("16", "standard")])
def test_color_system_reaches_textual(mode, rich_name, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "COLOR_SYSTEM", constants.COLOR_SYSTEM)
    set_color_system(mode)
    assert TuiNN(Session.from_file(MOONS), story=False).console.color_system == rich_name


def test_color_none_greys_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "")
    set_color_system("none")
    assert TuiNN(Session.from_file(MOONS), story=False).no_color


async def test_t_cycles_the_map_through_every_run_and_the_difference(tmp_path: Path) -> None:
    app = TuiNN(Session.from_file(write(tmp_path, "twin.toml", TWIN_SCENARIO)), story=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = trainer(app)
        await pilot.press("N")
        pane = app.query_one("#boundary")
        assert screen.boundary.view.runs == (0,) and pane.border_title == "Map: baseline"
        await pilot.press("t")
        assert screen.boundary.view.runs == (1,)
        assert pane.border_title == "Map: nudged +1e-14"
        assert screen.snapshot is not None and screen.snapshot.runs[1].grid is not None
        await pilot.press("t")
        assert screen.boundary.view.difference
        assert pane.border_title == "Map: where baseline and nudged +1e-14 disagree"
        raster = screen.boundary.raster
        assert raster is not None and raster.disagree is not None
        assert "the runs disagree" in app.query_one("#map-legend").plain
        await pilot.press("t")
        assert screen.boundary.view.runs == (0,)
        await pilot.press("T")
        assert screen.boundary.view.difference


async def test_t_without_twins_says_so() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("t")
        assert trainer(app).boundary.view.runs == (0,)
        # Said in the caption bar above the panels, not in a toast over them.
        assert "one run" in app.query_one(CaptionBar).caption
        assert not app._notifications


async def test_nan_pauses_with_a_message(tmp_path: Path) -> None:
    app = TuiNN(Session.from_file(write(tmp_path, "nan.toml", NAN_SCENARIO)), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = trainer(app)
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.blowup_message != "")
        with contextlib.suppress(WorkerCancelled):  # the screen cancels it once it has paused
            await app.workers.wait_for_complete()
        assert not screen.running
        assert "NaN/inf in layer" in screen.blowup_message
        assert "learning rate 50" in screen.blowup_message
        caption = app.query_one("#caption")
        assert caption.display and caption.kind == "error"
        assert "NaN/inf" in caption.caption
        # the app keeps working: a step does nothing more, a reset clears the message
        await pilot.press("n", "space")
        assert not screen.running
        await pilot.press("r")
        assert screen.blowup_message == ""
        assert screen.session.epoch == 0


async def test_q_quits_while_running() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = trainer(app)
        await start_training(pilot, screen)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert not screen.running


@pytest.mark.parametrize("size", [(30, 10), (1, 1), (39, 40), (120, 11)])
async def test_tiny_terminal_asks_for_room(size: tuple[int, int]) -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=size) as pilot:
        await pilot.press("n", "z", "a", "right")
        message = app.query_one("#too-small")
        assert message.display
        assert "larger" in str(message.render())
        assert not app.query_one("#panels").display


async def test_layout_narrow_has_tabs_with_the_boundary_first() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.query_one("#tabs").display
        assert app.query_one("#boundary").display
        assert app.query_one(StatusLine).display
        for pane in ("experiment", "architecture", "loss", "neurons"):
            assert not app.query_one(f"#{pane}").display
        await pilot.press("3")
        assert app.query_one("#loss").display
        assert not app.query_one("#boundary").display


async def test_layout_wide_shows_every_panel() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        assert not app.query_one("#tabs").display
        for pane in ("boundary", "architecture", "loss", "neurons"):
            widget = app.query_one(f"#{pane}")
            assert widget.display and widget.size.area > 0, pane
        assert not app.query_one("#experiment").display  # moons runs no experiment
        boundary = trainer(app).boundary
        w, h = boundary.size
        assert boundary.grid_size() == (w, 2 * h)
        assert trainer(app).snapshot.baseline.grid.output.shape == (2 * h, w)


async def test_resizing_between_layouts() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert trainer(app).has_class("-narrow")
        await pilot.resize_terminal(20, 5)
        await pilot.pause()
        assert trainer(app).has_class("-tiny")
        await pilot.resize_terminal(160, 50)
        await pilot.pause()
        assert trainer(app).has_class("-wide")
        w, h = trainer(app).boundary.size
        assert trainer(app).snapshot.baseline.grid.output.shape == (2 * h, w)


async def test_no_color_draws_every_panel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Textual's monochrome filter (NO_COLOR) fails on any segment without a style
    monkeypatch.setenv("NO_COLOR", "1")
    app = TuiNN(
        Session.from_file(write(tmp_path, "twin.toml", TWIN_SCENARIO)), glyphs=True, story=False
    )
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.no_color
        await pilot.press("n", "a", "n", "t", "t", "z")
        await pilot.resize_terminal(80, 24)
        await pilot.press("1", "2", "3", "4", "5")
        await pilot.pause()
        assert trainer(app).session.epoch == 2
