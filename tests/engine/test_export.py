"""Saving the live state as a scenario: it validates, and reopening it predicts the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from engine.export import save_scenario
from engine.scenario import load_scenario, parse_scenario
from engine.session import Session

BASE = """
name = "lab"
title = "Lab"
[data]
kind = "moons"
samples = 60
seed = 1
[training]
seed = 2
epochs = 300
[[expect]]
metric = "test.accuracy"
value = 0.5
"""


def predictions(s: Session) -> bytes:
    snap = s.snapshot(grid=(16, 12), experiments=False)
    assert snap.baseline.grid is not None
    return snap.baseline.train_outputs.tobytes() + snap.baseline.grid.output.tobytes()


def test_an_edited_session_round_trips(tmp_path: Path) -> None:
    s = Session(parse_scenario(BASE, "lab.toml"))
    s.step(40)
    s.set_training(learning_rate=0.3, optimizer="momentum", batch_size=8)
    s.flip_nearest(0.5, 0.0)
    s.add_point(0.0, 1.5, 0)
    s.remove_nearest(-1.0, 0.5)
    s.step(25)
    saved = save_scenario(s, tmp_path)
    assert saved.scenario.name == "lab-epoch65.toml"
    assert saved.data is not None and saved.data.name == "lab-epoch65.csv"
    assert saved.weights.name == "lab-epoch65.safetensors"
    again = Session(load_scenario(saved.scenario))
    assert again.epoch == 0
    assert np.array_equal(again.data.x_train, s.data.x_train)
    assert np.array_equal(again.data.y_train, s.data.y_train)
    assert np.array_equal(again.data.x_test, s.data.x_test)
    assert predictions(again) == predictions(s)
    train = again.train_config()
    assert (train.learning_rate, train.optimizer, train.batch_size) == (0.3, "momentum", 8)
    assert again.scenario.expect == () and "Edits made by hand" in again.scenario.description


def test_an_unedited_session_needs_no_data_file(tmp_path: Path) -> None:
    s = Session(parse_scenario(BASE + "[experiments.poison]\nk = 4\nat_epoch = 100\n", "lab"))
    s.step(30)
    saved = save_scenario(s, tmp_path)
    assert saved.data is None
    again = Session(load_scenario(saved.scenario))
    assert predictions(again) == predictions(s)
    poisoning = again.scenario.experiments.poison
    assert poisoning is not None and poisoning.at_epoch == 70
    assert list(poisoning.indices) == s.flipped.tolist()


def test_the_saved_file_validates_and_runs_headless(tmp_path: Path) -> None:
    s = Session(parse_scenario(BASE, "lab.toml"))
    s.step(20)
    s.add_point(0.2, 0.2, 1)
    saved = save_scenario(s, tmp_path)
    cli = [sys.executable, "-m", "tui_nn"]
    ok = subprocess.run([*cli, "validate", str(saved.scenario)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    report = tmp_path / "r.json"
    run = subprocess.run(
        [*cli, "run", str(saved.scenario), "--epochs", "0", "--json", str(report), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    metrics = json.loads(report.read_text())["metrics"]
    assert metrics["train.loss"] == s.snapshot(experiments=False).baseline.train_loss
