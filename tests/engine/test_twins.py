"""Twins trained as a population: the same weights and histories as runs trained one by one."""

from __future__ import annotations

from collections.abc import Callable

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


def same(member: Run, alone: Run) -> bool:
    """Byte-identical weights and the same measurements of the epoch just trained."""
    return (
        member.network.flat_params.tobytes() == alone.network.flat_params.tobytes()
        and np.array(member.latest).tobytes() == np.array(alone.latest).tobytes()
        and (member.epoch, member.blowup, member.noop_total, member.underflow_total)
        == (alone.epoch, alone.blowup, alone.noop_total, alone.underflow_total)
    )


def train_alongside(
    session: Session,
    alone: list[Run],
    epochs: int = EPOCHS,
    before: Callable[[int], None] | None = None,
) -> None:
    """Train the session and the separate runs epoch by epoch; after every epoch each of the
    session's runs equals its separate run."""
    for epoch in range(epochs):
        if before is not None:
            before(epoch)
        session.step(1)
        for run in alone:
            run.step()
        for member, run in zip(session.runs, alone, strict=True):
            assert same(member, run), f"epoch {epoch + 1}"


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
    train_alongside(s, separate(s, [start, nudged]))
    assert s.runs[0].weights_sha256() != s.runs[1].weights_sha256()  # the nudge did something


@pytest.mark.parametrize("at_epoch", [0, 12])
def test_poisoned_twin_equals_a_run_whose_labels_change_at_the_same_epoch(at_epoch: int) -> None:
    s = session(f'[experiments.poison]\nk = 6\nmode = "random"\nat_epoch = {at_epoch}\n')
    assert all(isinstance(run, MemberRun) for run in s.runs)
    clean, poisoned = separate(s, [s.runs[0].weights()] * 2)
    flipped = flip_labels(s.data.y_train, choose_flips(s.scenario, s.data), s.data.n_classes)

    def flip(epoch: int) -> None:
        if epoch == at_epoch:
            poisoned.set_train_labels(flipped)

    train_alongside(s, [clean, poisoned], before=flip)
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
    train_alongside(s, separate(s, [start] * 4, [run.train_config for run in s.runs]))


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
        assert same(stays, alone[0]) and same(leaves, alone[1]), f"epoch {epoch + 1}"
    # It has parameters of its own now, and the population trains the other member only.
    assert not np.shares_memory(population.network.flat_params, leaves.network.flat_params)
    assert np.shares_memory(population.network.flat_params, stays.network.flat_params)


def plain_runs(data, model, train, starts):  # type: ignore[no-untyped-def]
    """What ``twins.lockstep`` built before populations: one plain run per start."""
    return [Run(data, model, train, w) for w in starts]


def lab_session(experiment: str, training: str, populations: bool, monkeypatch) -> Session:  # type: ignore[no-untyped-def]
    with monkeypatch.context() as m:
        if not populations:
            m.setattr("engine.twins.lockstep", plain_runs)
        return session(experiment, training)


def play(s: Session) -> None:
    """Train, change the settings, edit the data and a weight, travel back and fork."""
    s.step(8)
    s.set_training(learning_rate=0.3)
    s.step(6)
    s.add_point(0.4, 0.6, 1)
    s.edit_weight(1, 0, 0, 1, delta=0.05)
    s.step(6)
    s.seek(9)
    s.step(5)  # forks: the epochs after 9 are dropped
    s.set_training(optimizer="adam", learning_rate=0.02)
    s.step(5)
    s.seek(4)
    s.seek(s.head)


@pytest.mark.parametrize(
    ("experiment", "training"),
    [
        ("[experiments.butterfly]\nepsilon = 1e-6\n", 'optimizer = "momentum"\nbatch_size = 16\n'),
        ('[experiments.poison]\nk = 6\nmode = "random"\nat_epoch = 3\n', ""),
    ],
    ids=["butterfly", "poison"],
)
def test_live_edits_and_time_travel_give_what_separate_runs_give(
    experiment: str, training: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    together = lab_session(experiment, training, True, monkeypatch)
    apart = lab_session(experiment, training, False, monkeypatch)
    assert all(isinstance(r, MemberRun) and r.population for r in together.runs)
    assert not any(isinstance(r, MemberRun) for r in apart.runs)
    play(together)
    play(apart)
    assert all(isinstance(r, MemberRun) and r.population for r in together.runs)  # stayed
    assert together.epoch == apart.epoch == together.head
    names = together.keys()  # the session's run keys (a method, not a dict's)
    for key in names:
        ours, theirs = together.run_named(key), apart.run_named(key)
        assert ours is not None and theirs is not None
        assert ours.weights_sha256() == theirs.weights_sha256(), key
        assert ours.train_config == theirs.train_config
        h, g = together.history(key, None), apart.history(key, None)
        assert h.train_loss.tobytes() == g.train_loss.tobytes(), key
        assert h.test_accuracy.tobytes() == g.test_accuracy.tobytes(), key
    assert together.drift(0, None).max_abs_dw.tobytes() == apart.drift(0, None).max_abs_dw.tobytes()


def test_the_baselines_grid_classes_are_computed_once_for_all_its_twins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = session('[experiments.precision]\ndtypes = ["float64", "float32", "float16"]\n')
    twins = len(s.twins)
    assert twins >= 2
    predicted: list[Run] = []
    diff_classes = Session._diff_classes

    def counted(self: Session, run: Run) -> np.ndarray:
        predicted.append(run)
        return diff_classes(self, run)

    monkeypatch.setattr(Session, "_diff_classes", counted)
    s.step(s._disagree_every)  # one sampled epoch: the baseline once, then each twin
    assert predicted == [s.baseline, *(slot.run for slot in s.twins)]
    assert all(len(s.drift(i).disagreement) == 1 for i in range(twins))
    predicted.clear()
    shares = [s.disagreement(i) for i in range(twins)]  # the same epoch: the baseline reused
    assert predicted == [slot.run for slot in s.twins]
    assert shares == [float(s.drift(i).disagreement[-1]) for i in range(twins)]
