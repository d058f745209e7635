"""The trainer's dialogs: save weights, open a scenario, help, the loss chart."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, OptionList, Static

from engine import io
from engine.session import Session
from tui_nn.app import TuiNN
from tui_nn.catalog import entries, shipped_dir
from tui_nn.screens.dialogs import ErrorDialog, SaveDialog
from tui_nn.screens.help import GROUPS, OTHER, HelpScreen
from tui_nn.screens.loss_chart import LossChartScreen
from tui_nn.screens.main import MainScreen
from tui_nn.screens.picker import PickerScreen
from tui_nn.widgets.caption_bar import CaptionBar

MOONS = shipped_dir() / "moons.toml"

GOOD = """
title = "A small good scenario"
[data]
kind = "circles"
samples = 40
[model]
hidden = [4]
"""

BAD = """
title = "A bad one"
[model]
hiden = [4]
[training]
learning_rate = -1
"""


async def test_s_saves_weights_that_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("N", "s")
        assert isinstance(app.screen, SaveDialog)
        expected = tmp_path / "moons-epoch100.safetensors"
        assert app.screen.query_one(Input).value == str(expected)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert expected.is_file()
        session = app.trainer.session
        weights = io.load_weights(expected, session.architecture())
        assert len(weights) == len(session.baseline.weights())
        sha = io.sha256_file(expected)
        caption = app.query_one(CaptionBar).caption
        assert sha[:16] in caption and str(expected) in caption


async def test_s_to_an_impossible_path_shows_an_error(tmp_path: Path) -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        field = app.screen.query_one(Input)
        field.value = str(tmp_path / "no" / "such" / "folder" / "w.safetensors")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ErrorDialog)
        assert "no/such/folder" in "\n".join(app.screen.lines)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_s_then_escape_saves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s", "escape")
        assert isinstance(app.screen, MainScreen)
        assert list(tmp_path.iterdir()) == []


async def choose(pilot, app: TuiNN, path: Path) -> None:
    """Open the picker and choose the entry for this file."""
    await pilot.press("o")
    assert isinstance(app.screen, PickerScreen)
    index = [e.path.resolve() for e in app.screen.entries].index(path.resolve())
    app.screen.query_one(OptionList).highlighted = index
    await pilot.press("enter")
    await pilot.pause()


async def test_o_opens_a_good_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "small.toml").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("space")
        await choose(pilot, app, tmp_path / "small.toml")
        screen = app.trainer
        assert isinstance(app.screen, MainScreen)
        assert screen.session.scenario.name == "small"
        assert not screen.running
        assert screen.snapshot is not None and screen.snapshot.scenario == "small"
        await pilot.press("n")
        assert screen.session.epoch == 1


async def test_o_bad_scenario_shows_errors_and_keeps_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bad.toml").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("N")
        session = app.trainer.session
        await choose(pilot, app, tmp_path / "bad.toml")
        assert isinstance(app.screen, ErrorDialog)
        text = app.screen.query_one("#error-lines", Static).render()
        assert "hiden" in str(text) and "learning_rate" in str(text)
        await pilot.press("escape")
        assert app.trainer.session is session
        assert session.epoch == 100


async def test_picker_lists_descriptions_and_escape_cancels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bad.toml").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")
        options = app.screen.query_one(OptionList)
        assert options.option_count == len(entries(tmp_path))
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert any("Two moons" in p for p in prompts)
        assert any("invalid" in p for p in prompts)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_help_opens_and_closes() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        described = dict((d, k) for _, k, d in app.screen.keys)
        assert described["Train one epoch"] == "n"
        assert described["Move the probe left"] == "← h"
        assert described["Jump the probe to the scenario's next probe point"] == "p"
        # every row is a binding's own tooltip: the help has no text of its own
        tooltips = {b.tooltip for b in MainScreen.BINDINGS if getattr(b, "tooltip", "")}
        textuals = {"Quit the app and return to the command prompt.", "Open the command palette"}
        assert set(described) - textuals <= tooltips
        assert "Focus Next" not in described
        # grouped under headings, in the order of GROUPS, each heading once
        headings = [group for group, _, _ in app.screen.keys]
        assert headings[0] == "Training and the screen" and "The probe" in headings
        assert headings == sorted(headings, key=[*dict.fromkeys(GROUPS.values()), OTHER].index)
        assert next(g for g, k, _ in app.screen.keys if k == "n") == "Training and the screen"
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_help_shows_remapped_keys() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app.update_keymap({"trainer.step": "m"})
        await pilot.press("m")
        assert app.trainer.session.epoch == 1
        await pilot.press("question_mark")
        described = dict((d, k) for _, k, d in app.screen.keys)
        assert described["Train one epoch"] == "m"


async def test_c_shows_the_loss_chart_live() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("N", "c")
        assert isinstance(app.screen, LossChartScreen)
        chart = app.screen.chart
        assert chart.curves and len(chart.curves[-1].y) == 100
        app.trainer.session.step(5)
        app.trainer.redraw()
        assert len(chart.curves[-1].y) == 105
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_command_palette_offers_the_trainer_commands() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)):
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert {"Run", "Step", "Reset", "Open", "Save", "Help", "Zoom", "Chart", "Go to"} <= set(
            titles
        )
        assert sum("quit" in t.lower() for t in titles) == 1  # Textual's own, once
        assert len(titles) == len(set(titles))  # a list: a command offered twice would show
        assert "Probe left" not in titles  # moving the probe is for keys, not the palette


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_a_keys_notice_lies_over_the_panels_and_a_moment_makes_room(
    size: tuple[int, int],
) -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=size) as pilot:
        screen = app.trainer
        panels = screen.query_one("#panels")
        bar = screen.query_one(CaptionBar)
        region, grid = panels.region, screen.boundary.grid_size()
        await pilot.press("y")
        await pilot.pause()
        assert bar.caption.startswith("d adds class") and bar.display
        assert panels.region == region and screen.boundary.grid_size() == grid
        assert bar.region.y == 2  # under the title and status lines, over the panels' top

        bar.say("A scenario's caption", "moment")
        await pilot.pause()
        assert panels.region.y == region.y + bar.region.height  # a moment takes its rows
        assert screen.boundary.grid_size() != grid
