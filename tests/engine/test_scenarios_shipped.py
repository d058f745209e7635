"""Every shipped scenario validates, is presentable, and meets its own expectations."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from engine import runner
from engine.experiments.expectations import Outcome
from engine.scenario import load_scenario
from engine.session import Session

SHIPPED = Path(__file__).resolve().parents[2] / "scenarios"
EXPECTED = {
    "xor-classic",
    "xor",
    "moons",
    "moons-ood",
    "moons-poison",
    "moons-butterfly",
    "moons-float16",
    "moons-side-channel",
    "moons-evasion",
    "moons-extraction",
    "moons-membership",
    "moons-leakage",
    "moons-backdoor",
    "supply-chain",
    "circles",
    "spiral",
}
PATHS = sorted(SHIPPED.glob("*.toml"))


def test_the_whole_set_is_shipped() -> None:
    assert {p.stem for p in PATHS} >= EXPECTED


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_scenario_is_presentable(path: Path) -> None:
    scenario = load_scenario(path)
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    assert scenario.title and "\n" not in scenario.title
    sentences = scenario.description.count(". ") + scenario.description.strip().endswith(".")
    assert 2 <= sentences <= 5, "a description a presenter can read out"
    assert "seed" in raw["data"] and "seed" in raw["training"], "seeds are pinned"
    assert scenario.expect, "every shipped scenario checks something"
    session = Session(scenario)
    x = session.data.x_train
    e = session.extent
    inside = (x[:, 0] >= e.x_min) & (x[:, 0] <= e.x_max)
    inside &= (x[:, 1] >= e.y_min) & (x[:, 1] <= e.y_max)
    assert np.all(inside), "the display range frames the training data"


def run_expectations(path: Path) -> list[Outcome]:
    """Train the scenario headless, checking its expectations at each checkpoint and the end."""
    session = Session(load_scenario(path))
    outcomes = runner.train(session).outcomes
    assert session.blowup is None
    assert session.epoch == session.scenario.training.epochs  # moments did not stop it
    reached = [moment for _, moment in session.moments]
    assert reached == sorted(reached, key=session.scenario.moments.index)
    assert len(reached) == len(session.scenario.moments), "every moment is reached"
    return outcomes


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_scenario_meets_its_expectations(path: Path) -> None:
    outcomes = run_expectations(path)
    assert len(outcomes) == len(load_scenario(path).expect)
    failed = [f"{o.expectation.describe()}: {o.detail}" for o in outcomes if not o.passed]
    assert not failed, "\n".join(failed)
