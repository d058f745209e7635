"""`tui-nn sweep`: the table, the CSV and JSON files, the plot, and one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tui_nn.cli import main

SCENARIO = """
title = "Small moons"
[data]
samples = 60
seed = 2
[model]
hidden = [4]
[training]
learning_rate = 0.5
epochs = 40
seed = 0
[[expect]]
metric = "train.accuracy"
op = ">="
value = 0.8
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def test_a_sweep_prints_writes_and_plots_every_cell(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "grid"
    status = main(
        ["sweep", str(scenario), "--set", "training.seed=0..2",
         "--set", "training.learning_rate=0.001,0.5", "--jobs", "1", "--out", str(out),
         "--metrics", "train.accuracy,train.loss",
         "--plot", "train.accuracy@training.learning_rate"]
    )  # fmt: skip
    assert status == 0
    text = capsys.readouterr().out
    assert "training.seed" in text and "train.accuracy" in text and "6 cells in" in text
    assert "train.accuracy against training.learning_rate" in text
    assert "failed in 3 of 6 cells" in text  # the tiny learning rate does not get there
    rows = list(csv.DictReader(out.with_suffix(".csv").open(encoding="utf-8")))
    assert [(r["training.seed"], r["training.learning_rate"]) for r in rows][:2] == [
        ("0", "0.001"),
        ("0", "0.5"),
    ]
    assert {r["expect: train.accuracy >= 0.8"] for r in rows} == {"pass", "fail"}
    report = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert report["settings"][0] == {"key": "training.seed", "values": [0, 1, 2]}
    cells = report["cells"]
    assert len(cells) == 6 and cells[1]["params"] == {
        "training.seed": 0,
        "training.learning_rate": 0.5,
    }
    assert float(rows[1]["train.loss"]) == cells[1]["metrics"]["train.loss"]
    assert cells[1]["expectations"][0]["passed"] is True
    # --check: some cells fail an expectation.
    args = ["sweep", str(scenario), "--set", "training.learning_rate=0.001", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "c"), "--check"]) == 1


def test_a_bad_setting_is_one_line_and_exit_2(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["sweep", str(scenario), "--set", "training.learning_rate=0.1,-2",
                   "--out", str(tmp_path / "x")])  # fmt: skip
    assert status == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("--set training.learning_rate=-2: training.learning_rate:")
    assert not (tmp_path / "x.csv").exists()
    assert main(["sweep", str(scenario), "--set", "seed"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_plotting_a_metric_no_cell_has_is_refused(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["sweep", str(scenario), "--set", "training.seed=0,1", "--jobs", "1", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "p"), "--plot", "nope"]) == 2
    assert "no cell measures 'nope'" in capsys.readouterr().err
