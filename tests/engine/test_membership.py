"""DP-SGD and membership inference, on cases with known answers."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.attacks.membership import advantage, auc, roc
from engine.dp import epsilon
from engine.experiments.measure import measure
from engine.scenario import parse_scenario
from engine.session import Session

BASE = """
[data]
samples = 80
noise = 0.3
seed = 2
[model]
hidden = [16, 8]
[training]
optimizer = "{optimizer}"
learning_rate = 0.05
epochs = 40
seed = 4
{batch}
"""


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("batch", ["", "batch_size = 16"])
def test_dp_sgd_without_noise_and_with_an_unreachable_clip_is_sgd_byte_for_byte(
    optimizer: str, batch: str
) -> None:
    text = BASE.format(optimizer=optimizer, batch=batch)
    plain = Session(parse_scenario(text, "plain.toml"))
    private = Session(
        parse_scenario(text + "[training.dp]\nclip = 1e6\nnoise_multiplier = 0\n", "dp.toml")
    )
    plain.step(40)
    private.step(40)
    assert private.baseline.dp is not None and private.baseline.dp.clipped == 0
    assert plain.baseline.network.flat_params.tobytes() == (
        private.baseline.network.flat_params.tobytes()
    )
    # A clip that bites changes the run: the comparison above can fail.
    clipped = Session(
        parse_scenario(text + "[training.dp]\nclip = 0.01\nnoise_multiplier = 0\n", "c.toml")
    )
    clipped.step(40)
    assert clipped.baseline.dp is not None and clipped.baseline.dp.clipped > 0
    assert not np.array_equal(
        clipped.baseline.network.flat_params, plain.baseline.network.flat_params
    )


def test_noise_is_seeded() -> None:
    text = BASE.format(optimizer="sgd", batch="") + "[training.dp]\nnoise_multiplier = 1\n"
    a, b = (Session(parse_scenario(text, "t.toml")) for _ in range(2))
    a.step(10)
    b.step(10)
    assert a.baseline.network.flat_params.tobytes() == b.baseline.network.flat_params.tobytes()


def test_epsilon_grows_with_steps_and_shrinks_with_noise() -> None:
    assert epsilon(1.0, 1.0, 0, 1e-5) == 0
    assert math.isinf(epsilon(0.0, 0.5, 10, 1e-5))
    full = [epsilon(8.0, 1.0, steps, 1e-5) for steps in (10, 100, 1000)]
    assert full[0] < full[1] < full[2]
    assert epsilon(16.0, 1.0, 100, 1e-5) < full[1]
    assert epsilon(8.0, 0.1, 100, 1e-5) < full[1]  # subsampling amplifies privacy
    # The Gaussian mechanism composed T times is mu-GDP with mu = sqrt(T) / sigma; its exact
    # epsilon at delta bounds the accountant's (an upper bound) from below.
    from scipy.optimize import brentq
    from scipy.stats import norm

    mu = math.sqrt(100) / 8.0

    def delta_of(eps: float) -> float:
        return norm.cdf(-eps / mu + mu / 2) - math.exp(eps) * norm.cdf(-eps / mu - mu / 2)

    exact = brentq(lambda e: delta_of(e) - 1e-5, 0, 100)
    assert exact <= full[1] <= 1.5 * exact


def test_roc_auc_and_advantage_on_known_scores() -> None:
    members, others = np.array([3.0, 4.0, 5.0]), np.array([0.0, 1.0, 2.0])
    fpr, tpr = roc(members, others)
    assert auc(members, others) == 1.0 and advantage(fpr, tpr) == 1.0
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    same = np.array([1.0, 2.0, 3.0])
    assert auc(same, same) == 0.5 and advantage(*roc(same, same)) == 0.0
    assert auc(np.array([1.0, 3.0]), np.array([2.0])) == 0.5


def test_membership_runs_and_figures() -> None:
    text = BASE.format(optimizer="adam", batch="") + (
        "[experiments.membership]\nl2 = 0.01\n[experiments.membership.dp]\nnoise_multiplier = 2\n"
    )
    session = Session(parse_scenario(text, "m.toml"))
    assert session.keys() == ["overfit", "regularised", "dp"]
    assert session.runs[1].train_config.l2 == 0.01 and session.runs[2].dp is not None
    session.step(20)
    metrics = measure(session)
    assert metrics["membership.dp.epsilon"] == pytest.approx(epsilon(2.0, 1.0, 20, 1e-5))
    for key in ("overfit", "regularised", "dp"):
        assert 0 <= metrics[f"membership.{key}.auc"] <= 1
        assert 0 <= metrics[f"membership.{key}.advantage"] <= 1


def _roc_by_definition(members: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct score as a threshold, counted one by one (the definition)."""
    thresholds = np.unique(np.concatenate([members, others]))[::-1]
    tpr = np.array([0.0, *[np.count_nonzero(members >= t) / len(members) for t in thresholds]])
    fpr = np.array([0.0, *[np.count_nonzero(others >= t) / len(others) for t in thresholds]])
    return fpr, tpr


scores = st.lists(
    st.one_of(st.sampled_from([0.0, 1.0, 2.5, float("nan")]), st.floats(-5, 5)),
    min_size=1,
    max_size=40,
).map(np.array)


@given(scores, scores)
def test_roc_counts_every_threshold_as_the_definition_does(
    members: np.ndarray, others: np.ndarray
) -> None:
    """Ties, repeated values and NaN scores (a diverged run) included, bit for bit."""
    fpr, tpr = roc(members, others)
    want_fpr, want_tpr = _roc_by_definition(members, others)
    assert fpr.tobytes() == want_fpr.tobytes() and tpr.tobytes() == want_tpr.tobytes()


def test_the_accountant_loads_in_a_thread_of_its_own() -> None:
    """In a fresh interpreter: importing the engine leaves SciPy alone; the loader brings in the
    accountant off the calling thread."""
    code = (
        "import sys\n"
        "from engine.dp import ACCOUNTANT, load_accountant_soon\n"
        "assert ACCOUNTANT not in sys.modules and 'scipy' not in sys.modules\n"
        "thread = load_accountant_soon()\n"
        "assert thread is not __import__('threading').current_thread()\n"
        "assert load_accountant_soon() is thread  # once per process\n"
        "thread.join()\n"
        "assert ACCOUNTANT in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
