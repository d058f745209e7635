"""Every shipped scenario tells its story on the main screen: card, view, figures, pauses."""

from __future__ import annotations

import contextlib

import pytest
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from engine.experiments.measure import measure
from engine.session import Session
from tui_nn.app import TuiNN
from tui_nn.catalog import shipped_dir, shipped_names
from tui_nn.screens import main as main_screen
from tui_nn.screens.dialogs import GoToDialog
from tui_nn.screens.main import MainScreen
from tui_nn.screens.story_card import StoryCard
from tui_nn.widgets.caption_bar import CaptionBar
from tui_nn.widgets.experiment_panel import ExperimentPanel
from tui_nn.widgets.map_legend import MapLegend
from tui_nn.widgets.status_line import StatusLine, TitleBar

OPENING_VIEW = {
    "moons-poison": ("poisoned",),
    "moons-float16": ("float16",),
    "moons-butterfly": ("baseline",),
    "moons-ood": ("baseline",),
}
"""The run each scenario's map opens on (its `display.view`)."""


def open_app(name: str, *, story: bool = False) -> TuiNN:
    return TuiNN(Session.from_file(shipped_dir() / f"{name}.toml"), story=story)


def screen_text(app: TuiNN) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def advance(session: Session, epoch: int) -> None:
    """Train headless to ``epoch`` (through any moments on the way)."""
    while session.epoch < epoch and not session.blowup:
        session.step(epoch - session.epoch)


async def wait_until_paused(pilot: Pilot[int], screen: MainScreen) -> None:
    """Wait for the worker to end and for its 'stopped' message to be handled."""
    with contextlib.suppress(WorkerCancelled):  # the screen cancels it once it has paused
        await pilot.app.workers.wait_for_complete()
    for _ in range(100):
        if not screen.running and screen.snapshot is not None:
            break
        await pilot.pause()
    await pilot.pause()
    assert not screen.running


@pytest.mark.parametrize("name", shipped_names())
async def test_the_story_card_opens_with_the_scenario_and_any_key_closes_it(name: str) -> None:
    app = open_app(name, story=True)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StoryCard)
        await pilot.pause()  # the card's first layout and paint are messages of their own
        text = " ".join(screen_text(app).split())
        session = app.trainer.session
        first_words = " ".join(session.scenario.description.split()[:6])
        assert first_words in text
        for moment in session.scenario.moments:
            assert " ".join(moment.caption.split()[:5]) in text
        assert "train" in text and "cursor" in text  # the legend
        await pilot.press("x")
        assert isinstance(app.screen, MainScreen)
        assert session.epoch == 0  # the key only closed the card
        await pilot.press("i")
        assert isinstance(app.screen, StoryCard)
        await pilot.press("space")
        assert isinstance(app.screen, MainScreen) and not app.trainer.running


@pytest.mark.parametrize("name", sorted(OPENING_VIEW))
async def test_each_scenario_opens_on_its_view_with_its_headline(name: str) -> None:
    app = open_app(name)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.trainer
        await pilot.press("N")
        snapshot = screen.snapshot
        assert snapshot is not None
        (key,) = OPENING_VIEW[name]
        (index,) = screen.boundary.view.runs
        assert snapshot.runs[index].key == key
        pane = app.query_one("#boundary")
        assert pane.border_title == f"Map: {snapshot.runs[index].label}"
        assert pane.border_subtitle == snapshot.experiments[0].headline
        assert app.query_one(TitleBar).plain.startswith(f" tui-nn {snapshot.title[:30]}")


@pytest.mark.parametrize(
    ("name", "epoch"),
    [("moons-poison", 2000), ("moons-butterfly", 375), ("moons-float16", 1000),
     ("moons-ood", 500), ("moons-side-channel", 100)],
)  # fmt: skip
async def test_experiment_figures_on_screen_are_the_engines(name: str, epoch: int) -> None:
    app = open_app(name)
    async with app.run_test(size=(160, 60)) as pilot:
        screen = app.trainer
        advance(screen.session, epoch)
        screen.redraw()
        await pilot.pause()
        await pilot.pause()
        measured = measure(screen.session)
        assert screen.snapshot is not None
        panel = app.query_one(ExperimentPanel)
        text = " ".join(screen_text(app).split())
        for view in screen.snapshot.experiments:
            assert view.title in text
            for figure in view.figures:
                assert figure.value == measured[figure.key] or (
                    figure.value != figure.value and measured[figure.key] != measured[figure.key]
                )
            table = view.table
            shown = [f for f in view.figures if f.shown] if table is None else []
            for figure in shown:
                assert f"{figure.label}" in text and figure.text in text, figure.key
            if table is not None:
                for row in table.rows:
                    assert " ".join(row[:2]) in " ".join(text.split()) or row[0] in text
        assert panel.draws >= 1


async def test_training_pauses_at_the_scenarios_epochs_and_says_so() -> None:
    app = open_app("moons")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.trainer
        advance(screen.session, 2950)
        await pilot.press("space")
        await wait_until_paused(pilot, screen)
        assert screen.session.epoch == 3000
        caption = app.query_one(CaptionBar)
        assert caption.kind == "target" and caption.display
        assert "Paused at the scenario's 3,000 epochs" in screen_text(app)
        await pilot.press("space")  # and on past it, when asked
        await pilot.pause(0.1)
        await pilot.press("space")
        await wait_until_paused(pilot, screen)
        assert screen.session.epoch > 3000
        assert not caption.display


@pytest.mark.parametrize("name", shipped_names())
async def test_training_pauses_at_every_moment_with_its_caption(name: str) -> None:
    app = open_app(name)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.trainer
        session = screen.session
        for moment in session.scenario.moments:
            if moment.epoch is not None:
                advance(session, moment.epoch - 3)
            elif moment.event == "twin_diverged":
                advance(session, 170)  # moons-butterfly diverges at epoch 186
            await pilot.press("space")
            await wait_until_paused(pilot, screen)
            reached, which = session.moments[-1]
            assert which is moment
            if moment.epoch is not None:
                assert reached == session.epoch == moment.epoch
            caption = app.query_one(CaptionBar)
            assert caption.kind == "moment" and caption.caption == moment.caption
            assert " ".join(moment.caption.split()[:4]) in " ".join(screen_text(app).split())


async def test_butterfly_pauses_where_the_twins_diverge() -> None:
    app = open_app("moons-butterfly")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.trainer
        advance(screen.session, 170)
        await pilot.press("space")
        await wait_until_paused(pilot, screen)
        # the first epoch with max|dW| over a millionth (186 on this engine and BLAS)
        assert screen.session.epoch == screen.session.drift(0).first_divergence > 170


@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=str)
@pytest.mark.parametrize("name", shipped_names())
async def test_status_lines_never_wrap_and_the_run_state_shows(
    name: str, size: tuple[int, int]
) -> None:
    app = open_app(name)
    async with app.run_test(size=size) as pilot:
        app.trainer.epochs_per_frame = 1  # slow enough that no moment pauses it at once
        await pilot.press("N", "space")
        await pilot.pause(0.05)
        lines = screen_text(app).splitlines()
        assert "▸ running" in lines[0]
        status = app.query_one(StatusLine).plain
        assert "\n" not in status and status.strip() in lines[1]
        await pilot.press("space")
        await wait_until_paused(pilot, app.trainer)
        assert "‖ paused" in screen_text(app).splitlines()[0]


async def test_p_jumps_to_the_probe_point_and_g_goes_anywhere() -> None:
    app = open_app("moons-ood")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.trainer
        advance(screen.session, 3000)
        await pilot.press("p")
        assert screen.boundary.probe == (4.0, 4.0)
        exact = screen.session.probe(4.0, 4.0)
        assert (screen.probe_output == exact).all()
        assert f"p1={float(exact[0]):.6g}" in app.query_one(StatusLine).plain
        assert "class 1 99.9" in app.query_one(StatusLine).plain
        await pilot.press("g")
        await pilot.pause()  # the dialog focuses its input and selects the text
        assert isinstance(app.screen, GoToDialog)
        await pilot.press(*"30, -20", "enter")  # outside the view; typing replaces the text
        await pilot.pause()
        assert screen.boundary.probe == (30.0, -20.0)
        assert screen.boundary.zoom > 1  # zoomed out far enough to show it


async def test_ood_marks_its_probe_and_radius_circles_and_the_legend_says_so() -> None:
    app = open_app("moons-ood")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.trainer
        advance(screen.session, 100)
        await pilot.press("z")  # 4x: the r=10 circle comes into view
        raster = screen.boundary.raster
        assert raster is not None
        assert ("mark", 0) in raster.points.values()  # the (4, 4) probe point
        legend = app.query_one(MapLegend).plain
        assert "probe point" in legend and "radius circle" in legend


async def test_the_side_channel_histogram_shows_only_where_the_scenario_asks() -> None:
    for name, expected in (("moons-side-channel", True), ("moons", False)):
        app = open_app(name)
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.press("N")
            await pilot.pause()
            assert ("active units per input, by class" in screen_text(app)) is expected


async def test_the_probe_reads_the_run_on_the_map() -> None:
    app = open_app("moons-poison")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.trainer
        session = screen.session
        advance(session, 2000)
        # The point of the plane where the clean and the poisoned run disagree most.
        grid = [(x / 4, y / 4) for x in range(-8, 13) for y in range(-6, 9)]
        gap = [abs(session.probe(*p, run=0)[0] - session.probe(*p, run=1)[0]) for p in grid]
        x, y = grid[gap.index(max(gap))]
        assert max(gap) > 0.5
        await pilot.press("g")
        await pilot.pause()
        await pilot.press(*f"{x}, {y}", "enter")  # typing replaces the selected text
        await pilot.pause()
        assert screen.boundary.probe == (x, y)
        answers = set()
        for _ in range(len(session.runs) + 1):
            shown = screen.boundary.view.runs[0]
            assert (screen.probe_output == session.probe(x, y, run=shown)).all()
            answers.add(float(screen.probe_output[0]))
            await pilot.press("t")
            await pilot.pause()
        assert len(answers) > 1  # the views did show runs that answer differently


async def test_page_down_scrolls_the_experiment_panel_to_its_listing() -> None:
    app = open_app("supply-chain")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panel = app.trainer.query_one(ExperimentPanel)
        section = next(iter(panel.sections.values()))
        assert section.listing.display  # below the fold, not left out
        assert panel.max_scroll_y > 0 and panel.border_subtitle == "PgDn: more"
        while panel.scroll_y < panel.max_scroll_y:
            before = panel.scroll_y
            await pilot.press("pagedown")
            await pilot.pause()
            assert panel.scroll_y > before
        assert panel.border_subtitle == "PgUp: back"
        assert section.listing.region.y < panel.region.bottom  # the listing is in view
        await pilot.press("pageup")
        await pilot.pause()
        assert panel.scroll_y < panel.max_scroll_y


async def test_the_trainer_is_drawn_before_its_story_card_opens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The map is drawn at its size before the card opens: the card dims a finished picture,
    and the trainer's first full frame does not wait for the card's."""
    seen: list[tuple[int, int, int, int] | None] = []
    open_card = MainScreen.action_story

    def record(screen: MainScreen) -> None:
        raster, size = screen.boundary.raster, screen.boundary.size
        seen.append(None if raster is None else (raster.width, raster.height, *size))
        open_card(screen)

    monkeypatch.setattr(MainScreen, "action_story", record)
    app = open_app("moons", story=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StoryCard)
    assert len(seen) == 1 and seen[0] is not None
    width, height, map_width, map_height = seen[0]
    assert (width, height) == (map_width, map_height) and width > 8 and height > 8


@pytest.mark.parametrize(("name", "loads"), [("moons-membership", 1), ("moons", 0)])
async def test_a_scenario_with_dp_sgd_loads_the_accountant_when_it_opens(
    monkeypatch: pytest.MonkeyPatch, name: str, loads: int
) -> None:
    """Not on the first step, in the interface thread, under the session's lock."""
    calls: list[None] = []
    monkeypatch.setattr(main_screen, "load_accountant_soon", lambda: calls.append(None))
    app = open_app(name)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert len(calls) == loads


async def test_the_bars_are_drawn_before_the_first_frame_with_the_map(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the panes get their sizes and the map is drawn, the title bar and the status line
    already say what they will: the first frame with the map is the whole trainer."""
    seen: list[tuple[str, str]] = []
    first_frame = MainScreen._first_frame

    def record(screen: MainScreen) -> None:
        seen.append((screen.query_one(TitleBar).plain, screen.query_one(StatusLine).plain))
        first_frame(screen)

    monkeypatch.setattr(MainScreen, "_first_frame", record)
    app = open_app("moons")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        title, status = seen[0]
        assert app.trainer.session.scenario.title in title and "epoch 0/3,000" in title
        assert "loss train/test" in status and "probe (0.5, 0.25)" in status
