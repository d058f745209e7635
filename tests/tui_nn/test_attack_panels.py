"""The attack lab in the trainer, driven by key presses: aiming, slices, panes, arrows."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from textual.pilot import Pilot

from engine.experiments.measure import measure
from engine.scenario import parse_scenario
from engine.session import Session
from tui_nn.app import TuiNN
from tui_nn.widgets.boundary_map import BoundaryMap
from tui_nn.widgets.experiment_panel import ExperimentPanel

SMALL = """
[data]
samples = 80
noise = 0.2
seed = 1
[model]
hidden = [8]
[training]
learning_rate = 0.5
epochs = 100
[display]
x_range = [-2.0, 3.0]
y_range = [-1.5, 2.0]
"""


def session(extra: str) -> Session:
    return Session(parse_scenario(SMALL + extra, "t.toml"))


async def measured(pilot: Pilot[int], s: Session) -> None:
    """Wait until the attacks measured in the background have landed and been drawn."""
    assert s.background is not None
    s.background.join()
    await pilot.pause()


async def test_x_aims_the_evasion_attack_at_the_probe_and_draws_its_arrow() -> None:
    s = session("[experiments.evasion]\neps = 0.3\ncurve_points = 4\n")
    s.step(50)
    app = TuiNN(s, story=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.trainer
        board = screen.query_one(BoundaryMap)
        await pilot.press("x")
        await measured(pilot, s)
        assert s.aim == board.probe
        metrics = screen.snapshot.metrics if screen.snapshot else {}
        assert np.isfinite(metrics["evasion.aim.distance"])
        assert board.raster is not None
        kinds = {kind for kind, _ in board.raster.points.values()}
        assert {"head", "mark"} <= kinds  # arrow heads and the aimed point
        await pilot.press("x")
        await measured(pilot, s)
        assert s.aim is None
        assert "evasion.aim.distance" not in (screen.snapshot.metrics if screen.snapshot else {})


async def test_x_elsewhere_says_what_it_is_for() -> None:
    s = session("")
    app = TuiNN(s, story=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("x")
        assert s.aim is None


async def test_a_backdoored_network_is_shown_as_two_slices() -> None:
    s = session("[experiments.backdoor]\nfraction = 0.1\nfinetune_at = 50\n")
    s.step(30)
    app = TuiNN(s, story=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # the first frame finds two panes; the map redraws for them
        board = app.trainer.query_one(BoundaryMap)
        assert board.pane_labels == ["trigger off", "trigger on"]
        assert len(board.rasters) == 2
        left, right = board.rasters
        assert left.width == right.width == board.pane_width()
        poisoned = [p for p, (kind, _) in right.points.items() if kind == "flipped"]
        assert poisoned and not any(k == "flipped" for k, _ in left.points.values())
        await pilot.press("t")  # the fine-tuned twin, sliced the same way
        assert board.view.runs == (1,) and board.pane_labels == ["trigger off", "trigger on"]
        section = app.trainer.query_one(ExperimentPanel).sections["backdoor"]
        shown = (section.headline, section.block, section.figures)
        assert "attack" in " ".join(str(part.render()) for part in shown)


async def test_an_extracted_copy_is_drawn_beside_its_victim_at_the_scenarios_range() -> None:
    s = session("[experiments.extraction]\nqueries = [20]\nepochs = 50\n")
    s.step(20)
    app = TuiNN(s, story=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # the first frame finds the copy's plane; the map redraws for it
        board = app.trainer.query_one(BoundaryMap)
        assert board.pane_labels == ["baseline", "copy, 20 queries"]
        await pilot.press("z")  # another range: the copy's plane does not cover it
        app.trainer.redraw()
        await pilot.pause()
        assert len(board.rasters) == 1


async def test_an_ensemble_is_drawn_beside_its_single_network_at_every_zoom() -> None:
    s = session("[experiments.ensemble]\nmembers = 4\nradii = [5.0]\ndirections = 50\n")
    s.step(20)
    app = TuiNN(s, story=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # the first frame finds the ensemble's plane; the map redraws
        board = app.trainer.query_one(BoundaryMap)
        assert board.pane_labels == ["single network", "ensemble of 4"]
        near = board.rasters[1].extent
        await pilot.press("z")  # the ensemble follows the map out
        app.trainer.redraw()
        await pilot.pause()
        assert board.pane_labels == ["single network", "ensemble of 4"]
        left, right = board.rasters
        assert left.extent == right.extent
        assert right.extent.x_max - right.extent.x_min > 3 * (near.x_max - near.x_min)
        # Pale where the members split: the ensemble has shades the single network lacks.
        assert len(np.unique(right.colours)) > len(np.unique(left.colours))


async def test_a_key_is_answered_while_the_attack_is_measured_again_in_the_background(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from engine.experiments import evasion

    s = session("[experiments.evasion]\neps = 0.3\ncurve_points = 4\n")
    s.step(50)
    app = TuiNN(s, story=False)
    release = threading.Event()
    real = evasion._measure

    def held(target: Session) -> object:  # the real attack, once the test lets it run
        release.wait(10)
        return real(target)

    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.trainer
        panel = screen.query_one(ExperimentPanel)
        await pilot.pause()  # the first frame: epoch 50 measured
        assert screen.snapshot is not None
        before = screen.snapshot.metrics
        assert panel.border_title == "Experiment"
        monkeypatch.setattr(evasion, "_measure", held)
        await pilot.press("n")  # one epoch: the figures are out of date
        assert screen.snapshot is not None and screen.snapshot.epoch == 51
        assert panel.border_title == "Experiment · measuring…"
        shown = screen.snapshot.metrics
        key = "evasion.baseline.mean_distance"
        assert shown[key] == before[key]  # epoch 50's, until the attack on 51 lands
        release.set()
        await measured(pilot, s)
        assert panel.border_title == "Experiment"
        s.background = None
        assert screen.snapshot.metrics[key] == measure(s)[key] != before[key]
