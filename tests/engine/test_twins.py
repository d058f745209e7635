"""Twins trained as a population: the same weights and histories as runs trained one by one."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from engine.config import DataConfig, ModelConfig, TrainConfig
from engine.population import MemberRun, Population
from engine.run import Run, build_data, flip_labels
from engine.scenario import parse_scenario
from engine.session import Session
from engine.twins import choose_flips, step_runs

BASE = """
[data]
kind = "moons"
samples = 80
noise = 0.2
seed = 1
[model]
hidden = [6]
"""
EPOCHS = 30


def session(experiment: str, training: str = "") -> Session:
    text = f"{BASE}[training]\nlearning_rate = 0.5\nseed = 2\n{training}\n{experiment}"
    return Session(parse_scenario(text, "twins.toml"))


def assert_same_run(member: Run, alone: Run) -> None:
    """Byte-identical weights and the same history, entry for entry."""
    assert member.network.flat_params.tobytes() == alone.network.flat_params.tobytes()
    for f in fields(alone.history):
        ours, theirs = getattr(member.history, f.name), getattr(alone.history, f.name)
        assert np.array(ours).tobytes() == np.array(theirs).tobytes(), f.name
    assert member.epoch == alone.epoch and member.blowup == alone.blowup


def separate(session: Session, starts: list, configs: list | None = None) -> list[Run]:
    sc = session.scenario
    configs = configs or [sc.training] * len(starts)
    return [Run(session.data, sc.model, c, w) for w, c in zip(starts, configs, strict=True)]


def test_butterfly_twins_in_minibatches_with_momentum_equal_separate_runs() -> None:
    s = session(
        "[experiments.butterfly]\nlayer = 1\nrow = 2\nepsilon = 1e-9\n",
        'optimizer = "momentum"\nbatch_size = 16\n',
    )
    assert all(isinstance(run, MemberRun) for run in s.runs)
    start = s.runs[0].weights()
    nudged = s.runs[1].weights()
    alone = separate(s, [start, nudged])
    s.step(EPOCHS)
    for run in alone:
        for _ in range(EPOCHS):
            run.step()
    for member, run in zip(s.runs, alone, strict=True):
        assert_same_run(member, run)
    assert s.runs[0].weights_sha256() != s.runs[1].weights_sha256()  # the nudge did something


@pytest.mark.parametrize("at_epoch", [0, 12])
def test_poisoned_twin_equals_a_run_whose_labels_change_at_the_same_epoch(at_epoch: int) -> None:
    s = session(f'[experiments.poison]\nk = 6\nmode = "random"\nat_epoch = {at_epoch}\n')
    assert all(isinstance(run, MemberRun) for run in s.runs)
    clean, poisoned = separate(s, [s.runs[0].weights()] * 2)
    flipped = flip_labels(s.data.y_train, choose_flips(s.scenario, s.data), s.data.n_classes)
    s.step(EPOCHS)
    for epoch in range(EPOCHS):
        if epoch == at_epoch:
            poisoned.set_train_labels(flipped)
        clean.step()
        poisoned.step()
    assert_same_run(s.runs[0], clean)
    assert_same_run(s.runs[1], poisoned)
    assert np.array_equal(s.runs[1].data.y_train, flipped)
    assert s.runs[0].weights_sha256() != s.runs[1].weights_sha256()


def test_precision_runs_of_one_dtype_train_together_and_equal_separate_runs() -> None:
    s = session('[experiments.precision]\ndtypes = ["float32", "float32", "float16"]\n')
    assert s.keys() == ["float32", "float32_2", "float16", "float16_master"]
    a, b, half, master = s.runs
    assert isinstance(a, MemberRun) and isinstance(b, MemberRun)
    assert a.population is b.population
    assert not isinstance(half, MemberRun) and not isinstance(master, MemberRun)
    start = a.weights()
    alone = separate(s, [start] * 4, [run.train_config for run in s.runs])
    s.step(EPOCHS)
    for run in alone:
        for _ in range(EPOCHS):
            run.step()
    for member, run in zip(s.runs, alone, strict=True):
        assert_same_run(member, run)


def test_a_member_never_trains_alone() -> None:
    s = session("[experiments.butterfly]\n")
    with pytest.raises(RuntimeError, match="population"):
        s.runs[1].step()
    assert s.epoch == 0


@pytest.mark.parametrize(
    "train",
    [
        TrainConfig(optimizer="adam", learning_rate=0.02, batch_size=16, seed=3),
        TrainConfig(optimizer="momentum", dtype="float16", master_weights=True, seed=3),
    ],
    ids=["adam-minibatch", "momentum-float16-master"],
)
def test_a_member_that_leaves_trains_on_as_its_separate_run_would(train: TrainConfig) -> None:
    data = build_data(DataConfig(kind="moons", samples=60, seed=2))
    model = ModelConfig(hidden=(5,))
    population = Population.from_seeds(data, model, train, [7, 8])
    stays, leaves = MemberRun(population, 0), MemberRun(population, 1)
    alone = [Run(data, model, train, population.weights(k)) for k in (0, 1)]
    for epoch in range(16):
        if epoch == 6:
            leaves.leave()
            assert leaves.population is None and population.runs == [stays]
        step_runs([stays, leaves])
        for run in alone:
            run.step()
    assert_same_run(stays, alone[0])
    assert_same_run(leaves, alone[1])
    # It has parameters of its own now, and the population trains the other member only.
    assert not np.shares_memory(population.network.flat_params, leaves.network.flat_params)
    assert np.shares_memory(population.network.flat_params, stays.network.flat_params)
