"""Inputs that once slipped through: each is now refused with one clear line, or measured right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.config import TrainConfig
from engine.optim import Optimizer
from engine.scenario import ScenarioError, parse_scenario
from engine.session import Session

MOONS = '[data]\nkind = "moons"\nsamples = 60\n'


def errors(text: str, tmp_path: Path | None = None) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        Session(parse_scenario(text, "s.toml", tmp_path))
    return caught.value.errors


def test_adam_eps_lost_in_float16_is_refused() -> None:
    (line,) = errors(MOONS + '[training]\noptimizer = "adam"\ndtype = "float16"\n')
    assert line.startswith("s.toml: training: adam_eps 1e-08 is lost in float16")
    ok = MOONS + '[training]\noptimizer = "adam"\ndtype = "float16"\nadam_eps = 1e-4\n'
    session = Session(parse_scenario(ok, "s.toml"))
    session.step(5)
    assert session.blowup is None


def test_butterfly_column_beyond_softmax_classes_is_an_error_not_a_crash() -> None:
    text = (
        MOONS + '[model]\noutput = "softmax"\n[training]\nloss = "softmax_cross_entropy"\n'
        "[experiments.butterfly]\nlayer = 1\ncol = 7\n"
    )
    (line,) = errors(text)
    assert (
        "experiments.butterfly: no weight (0, 7) in layer 1 (expected row 0..9 and col 0..1)"
        in line
    )


def test_too_many_classes_and_sigmoid_with_three_classes(tmp_path: Path) -> None:
    rows = "\n".join(f"{i}.0,{i}.5,{i}" for i in range(17))
    (tmp_path / "many.csv").write_text(rows + "\n")
    text = (
        '[data]\nkind = "csv"\npath = "many.csv"\n[model]\noutput = "softmax"\n'
        '[training]\nloss = "softmax_cross_entropy"\n'
    )
    assert "too many classes (got 17, expected at most 16)" in errors(text, tmp_path)[0]
    blobs = '[data]\nkind = "blobs"\ncenters = [[0, 0], [2, 2], [4, 0]]\n'
    assert "model.output: sigmoid separates two classes (got 3 classes" in errors(blobs)[0]


def test_work_bounds_refuse_a_machine_exhausting_file() -> None:
    text = (
        '[data]\nkind = "spiral"\nsamples = 100000\n'
        "[model]\nhidden = [256, 256, 256, 256, 256, 256, 256, 256]\n"
    )
    assert "one epoch is too much work" in errors(text)[0]
    total = MOONS + "[training]\nepochs = 1000000\n[model]\nhidden = [256, 256, 256]\n"
    assert "training.epochs: too much work in all" in errors(total)[0]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[experiments.ood]\nradii = [10, inf]\n", "experiments.ood.radii[1]"),
        ("[experiments.ood]\nradii = [0]\n", "experiments.ood.radii[0]"),
        ("[experiments.butterfly]\nepsilon = nan\n", "experiments.butterfly.epsilon"),
        ('[[expect]]\nmetric = "train.loss"\nvalue = nan\n', "expect[0].value"),
        (
            "[training]\nepochs = 100\n[experiments.poison]\nat_epoch = 100\n",
            "experiments.poison.at_epoch: never reached",
        ),
        ('[model]\noutput = "linear"\n', "training.loss: binary_cross_entropy needs a sigmoid"),
    ],
)
def test_values_that_cannot_mean_anything_are_refused(text: str, key: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "s.toml")
    assert any(line.startswith(f"s.toml: {key}") for line in caught.value.errors), caught.value


def test_summed_loss_over_mini_batches_is_the_sum_over_the_epoch() -> None:
    text = MOONS + '[training]\nloss = "squared_error_sum"\nlearning_rate = 1e-12\n'
    full = Session(parse_scenario(text, "s.toml"))
    batched = Session(parse_scenario(text + "batch_size = 7\n", "b.toml"))
    full.step(1)
    batched.step(1)
    assert batched.snapshot().baseline.history.train_loss[0] == pytest.approx(
        full.snapshot().baseline.history.train_loss[0], rel=1e-9
    )


def test_noop_count_never_negative_with_nan_parameters() -> None:
    opt = Optimizer(TrainConfig(), np.array([np.nan, 1.0]), np.array([True, True]))
    assert opt.step(np.array([0.0, 0.0])) == 0
    assert opt.step(np.array([1e-30, 0.0])) == 0  # a NaN that stays NaN is no no-op either
