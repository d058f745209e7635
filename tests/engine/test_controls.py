"""Live controls: what applies at the next epoch, what starts again, and validation."""

from __future__ import annotations

import pytest

from engine import controls
from engine.controls import LEARNING_RATES, change, step_ladder
from engine.scenario import ScenarioError, parse_scenario
from engine.session import Session

BASE = """
[data]
kind = "moons"
samples = 60
seed = 1
[training]
learning_rate = 0.1
seed = 2
"""


def session(extra: str = "") -> Session:
    return Session(parse_scenario(BASE + extra, "test.toml"))


def test_the_learning_rate_ladder_stops_at_its_ends() -> None:
    assert step_ladder(LEARNING_RATES, 0.1, 1, wrap=False) == 0.3
    assert step_ladder(LEARNING_RATES, 0.25, 1, wrap=False) == 1.0  # from the nearest rung
    assert step_ladder(LEARNING_RATES, 10.0, 1, wrap=False) == 10.0
    assert step_ladder(LEARNING_RATES, 1e-5, -1, wrap=False) == 1e-5


@pytest.mark.parametrize("name", controls.LIVE)
def test_live_controls_apply_at_the_next_epoch_without_a_reset(name: str) -> None:
    s = session()
    s.step(10)
    weights = s.baseline.weights_sha256()
    before = s.train_config()
    result = change(s, name)
    assert not result.resets
    assert s.epoch == s.head == 10 and s.baseline.weights_sha256() == weights  # the run goes on
    assert s.train_config() != before
    assert s.edits()[-1][0] == 10
    s.step(1)
    assert s.epoch == 11


RESETTING = ["activation", "layers", "neurons", "output", "dataset", "noise", "test_fraction"]


@pytest.mark.parametrize("name", [*RESETTING, "data_seed", "init"])
def test_structural_controls_start_the_run_again(name: str) -> None:
    s = session()
    s.step(10)
    s.set_training(learning_rate=1.0)
    before = (s.scenario, s.architecture(), s.baseline.weights_sha256())
    result = change(s, name)
    assert result.resets
    assert s.epoch == s.head == 0 and s.edits() == []
    assert (s.scenario, s.architecture(), s.baseline.weights_sha256()) != before
    assert s.train_config().learning_rate == 1.0  # the live settings carry over


def test_twins_follow_a_live_change() -> None:
    s = session('[experiments.precision]\ndtypes = ["float64", "float16"]\n')
    change(s, "learning_rate", -1)
    assert {slot.run.train_config.learning_rate for slot in s.slots} == {0.03}


def test_a_change_the_twins_cannot_follow_is_refused_and_says_why() -> None:
    s = session("[model]\nhidden = [3]\n[experiments.butterfly]\nlayer = 0\nrow = 0\ncol = 2\n")
    with pytest.raises(ScenarioError) as caught:
        change(s, "neurons", -1)
    assert "experiments.butterfly" in str(caught.value)
    assert s.scenario.model.hidden == (3,)  # nothing changed


def test_adam_in_float16_is_validated_like_a_file() -> None:
    s = Session(
        parse_scenario(
            BASE.replace("seed = 2", 'seed = 2\ndtype = "float16"\nadam_eps = 1e-8'), "t"
        )
    )
    with pytest.raises(ScenarioError, match="adam_eps"):
        change(s, "optimizer", -1)  # sgd -> adam
    assert s.train_config().optimizer == "sgd"


def test_output_skips_what_the_data_cannot_use() -> None:
    s = session()
    seen = set()
    for _ in range(4):
        change(s, "output")
        seen.add((s.scenario.model.output, s.scenario.training.loss))
    assert ("softmax", "softmax_cross_entropy") in seen and len(seen) == 4
    three = {"data": {"kind": "blobs", "centers": [[-1, -1], [1, 1], [1, -1]]}}
    with pytest.raises(ScenarioError, match=r"model\.output: sigmoid separates two classes"):
        s.reconfigure(three)
    s.reconfigure(
        {**three, "model": {"output": "softmax"}, "training": {"loss": "softmax_cross_entropy"}}
    )
    assert s.data.n_classes == 3
    with pytest.raises(ScenarioError, match="3 classes"):
        change(s, "output")  # softmax is the only output three classes allow
    assert s.scenario.model.output == "softmax"


def test_the_end_of_the_ladder_changes_nothing() -> None:
    s = session()
    s.set_training(learning_rate=10.0)
    edits = len(s.edits())
    with pytest.raises(ValueError, match="top of the ladder"):
        change(s, "learning_rate", 1)
    assert len(s.edits()) == edits
