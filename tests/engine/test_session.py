"""The Session: lock-step twins, reset, snapshots, weights on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.io import WeightFileError, sha256_file
from engine.metrics import Extent
from engine.scenario import parse_scenario
from engine.session import Session
from engine.twins import choose_flips

BASE = """
[data]
kind = "moons"
samples = 80
seed = 1
[training]
learning_rate = 0.5
seed = 2
"""


def session(extra: str = "") -> Session:
    return Session(parse_scenario(BASE + extra, "test.toml"))


def test_reset_returns_to_the_initial_weights() -> None:
    s = session()
    start = s.baseline.weights_sha256()
    assert s.step(25) == 25 and s.epoch == 25
    assert s.baseline.weights_sha256() != start
    s.reset()
    assert s.epoch == 0 and s.baseline.weights_sha256() == start


def test_butterfly_twin_differs_by_exactly_the_nudge_at_start() -> None:
    s = session("[experiments.butterfly]\nlayer = 1\nrow = 3\ncol = 0\nepsilon = 1e-3\n")
    base, twin = s.runs
    delta = twin.network.layers[1].weight - base.network.layers[1].weight
    assert delta[3, 0] == pytest.approx(1e-3, rel=1e-9)
    assert np.count_nonzero(delta) == 1
    s.step(3)
    drift = s.drift(0)
    assert len(drift.max_abs_dw) == 3 and drift.max_abs_dw[0] > 0


def test_zero_nudge_twin_stays_bit_identical() -> None:
    s = session("[experiments.butterfly]\nepsilon = 0.0\n")
    s.step(40)
    assert s.drift(0).max_abs_dw.tolist() == [0.0] * 40
    assert s.runs[0].weights_sha256() == s.runs[1].weights_sha256()


def test_float32_swallows_a_1e_14_nudge() -> None:
    s64 = session("[experiments.butterfly]\n")
    assert s64.runs[0].weights_sha256() != s64.runs[1].weights_sha256()  # float64 keeps it
    s32 = Session(parse_scenario(BASE + 'dtype = "float32"\n[experiments.butterfly]\n', "t.toml"))
    assert s32.runs[0].weights_sha256() == s32.runs[1].weights_sha256()  # float32 rounds it away


def test_poison_twin_sees_flipped_labels_and_clean_run_does_not() -> None:
    s = session('[experiments.poison]\nk = 4\nmode = "indices"\nindices = [0, 1, 2, 3]\n')
    clean, poisoned = s.runs
    assert np.array_equal(clean.data.y_train, s.data.y_train)
    assert np.array_equal(poisoned.data.y_train[:4], 1 - s.data.y_train[:4])
    assert np.array_equal(poisoned.data.y_train[4:], s.data.y_train[4:])
    assert clean.weights_sha256() == poisoned.weights_sha256()  # same start


def test_poison_at_epoch_flips_later() -> None:
    s = session("[experiments.poison]\nk = 3\nat_epoch = 5\n")
    poisoned = s.runs[1]
    s.step(5)
    assert np.array_equal(poisoned.data.y_train, s.data.y_train)
    assert s.runs[0].weights_sha256() == poisoned.weights_sha256()  # identical so far
    s.step(1)
    assert np.count_nonzero(poisoned.data.y_train != s.data.y_train) == 3


def test_targeted_flips_are_the_nearest_points_of_the_class() -> None:
    s = session(
        '[experiments.poison]\nk = 5\nmode = "targeted"\ntarget = [0.5, 0.25]\ntarget_class = 1\n'
    )
    flips = choose_flips(s.scenario, s.data)
    ones = np.flatnonzero(s.data.y_train == 1)
    dist = np.linalg.norm(s.data.x_train[ones] - [0.5, 0.25], axis=1)
    assert sorted(flips.tolist()) == sorted(ones[np.argsort(dist)[:5]].tolist())


def test_precision_runs_share_initial_weights_in_their_own_dtypes() -> None:
    s = session("[experiments.precision]\n")
    assert s.labels() == ["float64", "float32", "float16", "float16 + f32 master"]
    assert [str(r.network.dtype) for r in s.runs] == ["float64", "float32", "float16", "float16"]
    w64 = s.runs[0].network.layers[0].weight
    assert np.array_equal(s.runs[2].network.layers[0].weight, w64.astype(np.float16))


def test_snapshot_is_a_copy_with_grid_and_history() -> None:
    s = session()
    s.step(10)
    snap = s.snapshot(grid=(12, 8))
    grid = snap.baseline.grid
    assert grid is not None and grid.output.shape == (8, 12)
    assert grid.hidden[0].shape == (10, 8, 12)
    assert snap.baseline.history.epochs.tolist() == list(range(1, 11))
    losses = snap.baseline.history.train_loss
    assert losses[-1] == s.baseline.latest.train_loss  # type: ignore[union-attr]
    before = snap.baseline.layers[0].weight.copy()
    s.step(5)
    assert np.array_equal(snap.baseline.layers[0].weight, before)  # not a live view
    assert snap.epoch == 10 and s.epoch == 15


def test_probe_matches_the_grid() -> None:
    s = session()
    s.step(5)
    extent = Extent(-2.0, 2.0, -2.0, 2.0)
    grid = s.snapshot(grid=(8, 8), extent=extent).baseline.grid
    assert grid is not None
    # Cell (row 2, col 5) of an 8 x 8 grid over [-2, 2]^2 has its centre at (0.75, 0.75).
    assert s.probe(0.75, 0.75)[0] == grid.output[2, 5]
    assert s.probe(0.75, 0.70)[0] != grid.output[2, 5]


def test_blowup_pauses_training() -> None:
    text = BASE.replace("learning_rate = 0.5", 'learning_rate = 80.0\nloss = "squared_error_sum"')
    s = Session(parse_scenario(text + '[model]\noutput = "linear"\n', "t.toml"))
    trained = s.step(200)
    assert trained < 200 and s.blowup is not None and "at epoch" in s.blowup
    assert s.step(10) == 0  # stays paused until reset
    s.reset()
    assert s.blowup is None and s.step(1) == 1


def test_save_load_round_trip(tmp_path: Path) -> None:
    s = session()
    s.step(30)
    digest = s.save_weights(tmp_path / "w.safetensors")
    assert digest == sha256_file(tmp_path / "w.safetensors")
    trained = s.baseline.weights_sha256()
    fresh = session()
    fresh.load_weights(tmp_path / "w.safetensors")
    assert fresh.epoch == 0 and fresh.baseline.weights_sha256() == trained
    other = Session(parse_scenario(BASE + "[model]\nhidden = [4]\n", "o.toml"))
    with pytest.raises(WeightFileError, match=r"w\.safetensors"):
        other.load_weights(tmp_path / "w.safetensors")
