"""The live lab driven by real key presses: controls, data edits, the clean twin, time
travel, weight nudges, the explained step, saving as a scenario, the map toggles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from textual.pilot import Pilot

from engine.export import save_scenario
from engine.scenario import load_scenario, parse_scenario
from engine.session import Session
from tui_nn.app import TuiNN
from tui_nn.screens.controls import ControlsScreen
from tui_nn.screens.explain import ExplainScreen
from tui_nn.screens.help import HelpScreen
from tui_nn.screens.lab import CONTROL_KEYS, LAB_BINDINGS
from tui_nn.screens.main import MainScreen
from tui_nn.widgets.architecture_view import ArchitectureView
from tui_nn.widgets.caption_bar import CaptionBar
from tui_nn.widgets.status_line import StatusLine, TitleBar

SCENARIO = """
title = "Lab"
[data]
kind = "moons"
samples = 80
seed = 3
[model]
hidden = [6]
[training]
learning_rate = 0.5
seed = 4
"""
SIZE = (120, 40)


def lab(extra: str = "") -> TuiNN:
    return TuiNN(Session(parse_scenario(SCENARIO + extra, "lab.toml")), story=False)


def main(app: TuiNN) -> MainScreen:
    return app.trainer


async def settle(pilot: Pilot[int]) -> None:
    """Wait for the worker's jobs and the messages they post."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def trained(pilot: Pilot[int], epochs: int = 30) -> None:
    session = main(pilot.app).session  # type: ignore[arg-type]
    session.step(epochs)
    main(pilot.app).redraw()  # type: ignore[arg-type]
    await pilot.pause()


LIVE_KEYS = [(key, name, step) for key, name, step, _, _ in CONTROL_KEYS[:6]]
RESET_KEYS = [(key, name, step) for key, name, step, _, _ in CONTROL_KEYS[6:]]


async def test_live_control_keys_apply_without_a_reset() -> None:
    app = lab()
    async with app.run_test(size=SIZE) as pilot:
        await trained(pilot)
        session = main(app).session
        for key, name, _ in LIVE_KEYS:
            before = (session.train_config(), session.baseline.weights_sha256())
            await pilot.press(key)
            await settle(pilot)
            assert session.epoch == session.head == 30, name  # the run goes on
            assert session.baseline.weights_sha256() == before[1], name
            assert session.train_config() != before[0], name
            assert session.edits()[-1][0] == 30, name
            assert "from epoch 31 on" in main(app).last_change, name
        assert len(session.edits()) == len(LIVE_KEYS)
        await pilot.press("n")
        assert session.epoch == 31


async def test_structural_control_keys_start_again_and_say_so() -> None:
    app = lab()
    async with app.run_test(size=SIZE) as pilot:
        session = main(app).session
        for key, name, step in RESET_KEYS:
            await trained(pilot)
            before = session.scenario
            await pilot.press(key)
            await settle(pilot)
            assert session.epoch == 0 and session.scenario != before, (name, step)
            assert main(app).last_change.endswith("the run starts again at epoch 0"), name


async def test_a_change_that_cannot_be_made_says_why_and_changes_nothing() -> None:
    app = lab("[experiments.butterfly]\nlayer = 0\nrow = 0\ncol = 5\n")
    async with app.run_test(size=SIZE) as pilot:
        await trained(pilot)
        session = main(app).session
        await pilot.press("less_than_sign")  # 6 -> 5 neurons: the nudged weight (0, 5) is gone
        await settle(pilot)
        assert session.scenario.model.hidden == (6,) and session.epoch == 30
        assert "experiments.butterfly" in main(app).last_change


async def test_data_edits_at_the_probe_and_by_click_keep_the_model() -> None:
    app = lab()
    async with app.run_test(size=SIZE) as pilot:
        await trained(pilot)
        screen = main(app)
        session = screen.session
        n = len(session.data.x_train)
        weights = session.baseline.weights_sha256()
        await pilot.press("y")  # class 0 next
        await pilot.press("d")
        assert len(session.data.x_train) == n + 1
        assert session.data.y_train[-1] == 0 and session.marks.added.tolist() == [n]
        assert np.allclose(session.data.x_train[-1], screen.boundary.probe)
        assert session.baseline.weights_sha256() == weights  # editing keeps the model
        await pilot.click("#boundary-map", offset=(5, 3))  # the tool is 'add' now
        assert len(session.data.x_train) == n + 2
        assert np.allclose(session.data.x_train[-1], screen.boundary.probe)
        assert "click adds class 0" in screen.query_one(StatusLine).plain
        await pilot.press("f")  # the nearest point is the one just added
        assert session.data.y_train[-1] == 1
        await pilot.press("delete")
        assert len(session.data.x_train) == n + 1
        assert screen.snapshot is not None and len(screen.snapshot.added) == 1
        await pilot.press("escape")
        assert screen.tool == ""


async def test_poison_by_hand_then_a_clean_twin_to_compare() -> None:
    app = lab()
    async with app.run_test(size=SIZE) as pilot:
        await trained(pilot)
        screen = main(app)
        session = screen.session
        for point in session.data.x_train[:3].tolist():
            screen.boundary.place_probe(*point)
            await pilot.press("f")
        assert session.marks.relabelled.tolist() == [0, 1, 2]
        assert np.array_equal(session.data.y_train[:3], 1 - session.original.y_train[:3])
        await pilot.press("K")
        assert session.keys() == ["baseline", "unedited"]
        assert np.array_equal(session.twins[0].run.data.y_train, session.original.y_train)
        assert session.runs[0].weights_sha256() == session.runs[1].weights_sha256()
        await pilot.press("N")
        await settle(pilot)
        assert session.epoch == 130 and session.disagreement(0) >= 0
        assert session.runs[0].weights_sha256() != session.runs[1].weights_sha256()
        titles = []
        for _ in range(3):
            await pilot.press("t")
            titles.append(screen.boundary.view.title(screen.snapshot))  # type: ignore[arg-type]
        assert titles == [
            "unedited data",
            "where edited data and unedited data disagree",
            "edited data",
        ]
        await pilot.press("K")
        assert "No clean twin" in screen.last_change


async def test_time_travel_back_forward_and_fork() -> None:
    app = lab()
    async with app.run_test(size=SIZE) as pilot:
        screen = main(app)
        session = screen.session
        await pilot.press("N")
        await settle(pilot)
        assert session.epoch == 100
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert (session.epoch, session.head) == (99, 100)
        assert "epoch 99 of 100" in screen.query_one(TitleBar).plain
        assert "drops epoch 100." in screen.query_one(CaptionBar).caption
        await pilot.press("left_curly_bracket", "left_curly_bracket")
        await settle(pilot)
        assert session.epoch == 79
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert session.epoch == 80
        await pilot.press("right_curly_bracket")
        await settle(pilot)
        assert session.epoch == 90
        await pilot.press("n")  # training from the past forks
        assert (session.epoch, session.head) == (91, 91)
        assert "Epochs 91 to 100 dropped" in screen.query_one(CaptionBar).caption
        snapshot = screen.snapshot
        assert snapshot is not None and snapshot.baseline.history.epochs[-1] == 91


async def test_going_back_and_training_on_equals_training_straight() -> None:
    straight = Session(parse_scenario(SCENARIO, "lab.toml"))
    straight.step(70)
    app = lab()
    async with app.run_test(size=SIZE) as pilot:
        session = main(app).session
        await pilot.press("N")
        await settle(pilot)
        for _ in range(3):
            await pilot.press("left_curly_bracket")
        await settle(pilot)
        assert session.epoch == 70
        await pilot.press("n")  # a fork at 70, then one epoch: compare at 70 first
        session.seek(70)
        assert session.baseline.weights_sha256() == straight.baseline.weights_sha256()


async def test_select_a_neuron_and_nudge_a_weight() -> None:
    app = lab()
    async with app.run_test(size=SIZE) as pilot:
        await trained(pilot)
        screen = main(app)
        session = screen.session
        view = screen.query_one(ArchitectureView)
        await pilot.press("u", "u")
        assert view.selected == (0, 1, None)
        assert screen.boundary.neuron == (0, 1)  # its map on the main map
        await pilot.press("w", "w")
        assert view.selected == (0, 1, 1)
        assert "weight x2→L1.2" in view.selection_text and "∂L/∂w" in view.selection_text
        before = float(session.baseline.network.layers[0].weight[1, 1])
        await pilot.press("E")
        await pilot.pause()
        field = app.screen.query_one("#weight-change")
        field.value = "+1e-3"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        after = float(session.baseline.network.layers[0].weight[1, 1])
        assert after == before + 1e-3
        assert session.edits()[-1][1] == "baseline: nudged weight x2→L1.2 by +0.001"
        await pilot.press("w")  # the bias of L1.2
        assert view.selected == (0, 1, -1)


async def test_the_explained_step_one_stage_per_key() -> None:
    app = lab()
    async with app.run_test(size=SIZE) as pilot:
        await trained(pilot)
        await pilot.press("e")
        await pilot.pause()
        explain = app.screen
        assert isinstance(explain, ExplainScreen) and explain.shown == 1
        assert "1. Forward" in explain.text().plain and "2. Loss" not in explain.text().plain
        await pilot.press("e", "e", "e")
        text = explain.text().plain
        assert explain.shown == 4 and "4. Update" in text
        assert f"= {explain.explanation.loss:.5g}" in text
        await pilot.press("p")
        assert explain.explanation.source.startswith("training point ")
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_save_as_scenario_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = lab()
    async with app.run_test(size=SIZE) as pilot:
        await trained(pilot, 40)
        await pilot.press("f", "d", "full_stop")
        await pilot.press("S")
        session = main(app).session
        path = tmp_path / "lab-epoch40.toml"
        assert main(app).last_change == str(path)
        assert (tmp_path / "lab-epoch40.csv").exists()
        again = Session(load_scenario(path))  # headless
        ours = session.snapshot(experiments=False).baseline.train_outputs
        theirs = again.snapshot(experiments=False).baseline.train_outputs
        assert ours.tobytes() == theirs.tobytes()
        assert again.train_config().learning_rate == 1.0


async def test_map_toggles_and_controls_dialog() -> None:
    app = lab()
    async with app.run_test(size=SIZE) as pilot:
        await trained(pilot)
        screen = main(app)
        await pilot.press("b", "H")
        assert screen.boundary.hard and not screen.boundary.show_test
        assert screen.boundary.raster is not None
        assert "test" not in {kind for kind, _ in screen.boundary.raster.points.values()}
        await pilot.press("b", "H")
        assert not screen.boundary.hard and screen.boundary.show_test
        await pilot.press("C")
        await pilot.pause()
        assert isinstance(app.screen, ControlsScreen)
        await pilot.press("down", "right")  # the optimiser row: sgd -> momentum
        await settle(pilot)
        assert screen.session.train_config().optimizer == "momentum"
        await pilot.press("escape")


async def test_every_lab_key_is_in_the_help_and_the_palette() -> None:
    app = lab()
    async with app.run_test(size=SIZE) as pilot:
        commands = {c.help for c in app.get_system_commands(main(app))}
        for binding in LAB_BINDINGS:
            if binding.id != "lab.clear":
                assert any(binding.tooltip in text for text in commands), binding.id
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        described = " ".join(text for _, _, text in app.screen.keys)
        for binding in LAB_BINDINGS:
            assert binding.tooltip in described, binding.id


def test_saving_needs_no_app(tmp_path: Path) -> None:
    session = Session(parse_scenario(SCENARIO, "lab.toml"))
    session.step(5)
    saved = save_scenario(session, tmp_path)
    assert saved.scenario.exists() and saved.data is None


async def test_a_click_in_the_network_panel_selects_what_is_under_it() -> None:
    app = lab()
    async with app.run_test(size=SIZE) as pilot:
        await trained(pilot)
        view = main(app).query_one(ArchitectureView)
        line, first, _, target = next(h for h in view.hits if h[3] == (0, 2, 1))
        region, content = view.region, view.content_region
        offset = (content.x - region.x + first, content.y - region.y + line)
        await pilot.click(ArchitectureView, offset=offset)
        assert view.selected == target == (0, 2, 1)
        assert "weight x2→L1.3" in view.selection_text
