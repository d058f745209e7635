"""The experiment measurements, each on a case whose answer is known without the code."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from engine.config import InitConfig, ModelConfig
from engine.experiments.expectations import checkpoints, evaluate
from engine.experiments.measure import METRICS, measure
from engine.experiments.ood import measure_ood
from engine.experiments.side_channel import attack, measure_side_channel
from engine.metrics import region_changed
from engine.network import Network, build_network
from engine.scenario import Expectation, OODConfig, parse_scenario
from engine.session import Session

BASE = """
[data]
kind = "moons"
samples = 60
noise = 0.1
seed = 3

[model]
hidden = [6]
activation = "relu"

[training]
learning_rate = 0.5
epochs = 20
seed = 1
"""


def session(extra: str = "", base: str = BASE) -> Session:
    return Session(parse_scenario(base + extra, "test.toml"))


def linear_network(w: tuple[float, float]) -> Network:
    """A network with no hidden layer: sigmoid(w . x), no bias."""
    net = build_network(
        ModelConfig(hidden=(), output="sigmoid", bias=False, init=InitConfig(weights="zeros")),
        "binary_cross_entropy",
        2,
        0,
    )
    net.set_weights([(np.array([[w[0]], [w[1]]]), None)])
    return net


def test_ood_share_of_a_linear_model_matches_the_arccos_formula() -> None:
    # sigmoid(x1) at radius R in direction theta is sure (> t) iff R |cos theta| > logit(t);
    # for uniform directions that happens with probability (2 / pi) arccos(logit(t) / R).
    net = linear_network((1.0, 0.0))
    x_train = np.array([[-1.0, -1.0], [1.0, 1.0]])  # centroid at the origin
    config = OODConfig(radii=(10.0, 100.0, 2.5), directions=100_000, threshold=0.99, seed=7)
    out = measure_ood(net, x_train, config)
    logit = math.log(0.99 / 0.01)
    for key, radius in (("10", 10.0), ("100", 100.0)):
        expected = 2 / math.pi * math.acos(logit / radius)
        assert out[f"ood.share_confident.r{key}"] == pytest.approx(expected, abs=0.01)
    # 2.5 < logit(0.99): no direction is sure yet.
    assert out["ood.share_confident.r2_5"] == 0.0
    assert 0.5 < out["ood.mean_confidence.r2_5"] < out["ood.mean_confidence.r100"] < 1.0


def test_ood_is_measured_from_the_training_centroid() -> None:
    net = linear_network((1.0, 0.0))
    far_left = np.array([[-1000.0, 0.0], [-1000.0, 2.0]])
    config = OODConfig(radii=(10.0,), directions=1000, threshold=0.99, seed=0)
    out = measure_ood(net, far_left, config)
    # Every point within 10 of x1 = -1000 gives sigmoid ~ 0: all of them are sure.
    assert out["ood.share_confident.r10"] == 1.0


def test_side_channel_counts_that_separate_the_classes_give_a_perfect_attacker() -> None:
    y = np.array([0, 1] * 50, dtype=np.int64)
    counts = np.where(y == 0, 2, 5).astype(np.int64)
    out = measure_side_channel(counts, y, 2, seed=0)
    assert out["side_channel.attacker_accuracy"] == 1.0
    assert out["side_channel.mean_active.0"] == 2.0
    assert out["side_channel.mean_active.1"] == 5.0
    assert out["side_channel.more_active_class"] == 1.0
    # Swapping which class fires more swaps the answer: it comes from the data.
    swapped = measure_side_channel(np.where(y == 0, 5, 2).astype(np.int64), y, 2, seed=0)
    assert swapped["side_channel.more_active_class"] == 0.0


def test_side_channel_counts_that_carry_nothing_leave_the_attacker_at_the_baseline() -> None:
    y = np.array([0] * 70 + [1] * 30, dtype=np.int64)
    attacker, baseline = attack(np.full(100, 4, dtype=np.int64), y, seed=3)
    assert attacker == baseline
    assert 0.5 < baseline < 0.9


def test_side_channel_reads_an_unseen_count_like_its_nearest_seen_count() -> None:
    counts = np.array([1, 1, 9, 9, 1, 10], dtype=np.int64)
    y = np.array([0, 0, 1, 1, 0, 1], dtype=np.int64)
    # With this split the fit half never sees count 10; it must read it as 9 (class 1).
    for seed in range(50):
        order = np.random.default_rng(seed).permutation(6)
        if 5 in order[3:] and set(counts[order[:3]]) == {1, 9}:
            assert attack(counts, y, seed)[0] == 1.0
            return
    pytest.fail("no seed with the wanted split")


def test_targeted_poison_flips_exactly_the_nearest_points_of_the_class() -> None:
    s = session('\n[experiments.poison]\nk = 4\nmode = "targeted"\ntarget = [0.5, 0.5]\n')
    x, y = s.data.x_train, s.data.y_train
    members = [i for i in range(len(y)) if y[i] == 0]
    nearest = sorted(members, key=lambda i: math.dist(x[i], (0.5, 0.5)))[:4]
    assert sorted(s.flipped.tolist()) == sorted(nearest)
    m = measure(s)
    assert m["poison.flips"] == 4.0
    # Before any training both runs have the same weights: nothing differs yet.
    assert m["poison.region_changed"] == 0.0
    assert m["poison.test_accuracy_change"] == 0.0
    assert m["poison.flipped_fit"] == m["poison.flipped_fit_clean"]


def test_region_changed_is_zero_for_identical_networks_and_one_for_opposites() -> None:
    s = session()
    net = s.runs[0].network
    assert region_changed(net, net, s.extent, 32) == 0.0
    left, right = linear_network((1.0, 0.0)), linear_network((-1.0, 0.0))
    # Opposite boundaries through x1 = 0; no cell centre lies on it, so every cell differs.
    assert region_changed(left, right, s.extent, 32) == 1.0


def test_poisoned_twin_fits_flipped_points_the_clean_run_does_not() -> None:
    s = session(
        '\n[experiments.poison]\nk = 3\nmode = "indices"\nindices = [0, 1, 2]\n',
        BASE.replace("epochs = 20", "epochs = 400").replace("hidden = [6]", "hidden = [32]"),
    )
    s.step(400)
    m = measure(s)
    assert m["poison.flipped_fit_clean"] < m["poison.flipped_fit"]


def test_butterfly_with_a_zero_nudge_never_diverges() -> None:
    s = session("\n[experiments.butterfly]\nepsilon = 0.0\n")
    s.step(20)
    m = measure(s)
    assert m["butterfly.max_abs_dw"] == 0.0
    assert m["butterfly.loss_difference"] == 0.0
    assert m["butterfly.disagreement"] == 0.0
    assert m["butterfly.first_divergence_epoch"] == -1.0
    assert s.drift(0).max_abs_dw.tolist() == [0.0] * 20


def test_butterfly_nudge_is_visible_before_training() -> None:
    s = session("\n[experiments.butterfly]\nepsilon = 1e-10\n")
    m = measure(s)
    assert m["butterfly.max_abs_dw"] == pytest.approx(1e-10, rel=1e-5)
    assert m["butterfly.first_divergence_epoch"] == -1.0


def test_butterfly_first_divergence_is_the_first_epoch_over_a_millionth() -> None:
    s = session("\n[experiments.butterfly]\nepsilon = 0.01\n")
    s.step(5)
    first = next(i + 1 for i, d in enumerate(s.drift(0).max_abs_dw) if d > 1e-6)
    assert measure(s)["butterfly.first_divergence_epoch"] == first == 1


def test_precision_metrics_name_every_run_and_float64_has_no_noop_updates() -> None:
    s = session("\n[experiments.precision]\n")
    s.step(10)
    m = measure(s)
    for run in ("float64", "float32", "float16", "float16_master"):
        for what in ("test_accuracy", "train_loss", "noop_share", "noop_share_mean"):
            assert f"precision.{run}.{what}" in m
    assert m["precision.float64.noop_share_mean"] == 0.0
    assert m["precision.float64.underflow"] == 0.0
    assert m["precision.float16.noop_share"] == s.runs[2].latest.noop_share  # type: ignore[union-attr]


def test_probe_metrics_are_the_exact_outputs() -> None:
    s = session("\n[[probes]]\npoint = [4.0, 4.0]\n")
    s.step(5)
    m = measure(s)
    p = float(s.probe(4.0, 4.0)[0])
    assert m["probe.0.output"] == p
    assert m["probe.0.confidence"] == max(p, 1 - p)
    assert m["probe.0.class"] == float(p > 0.5)
    assert m["epoch"] == 5.0


def test_every_measured_name_is_documented() -> None:
    # '<R>' in a documented pattern stands for one name part.
    patterns = [re.compile("^" + re.sub("<[^>]+>", "[^.]+", re.escape(k)) + "$") for k in METRICS]
    extras = [
        "\n[[probes]]\npoint = [1.0, 1.0]\n[experiments.ood]\n[experiments.side_channel]\n"
        "[experiments.butterfly]\n",
        "\n[experiments.poison]\n",
        "\n[experiments.precision]\n",
    ]
    for extra in extras:
        s = session(extra)
        s.step(2)
        for name in measure(s):
            assert any(p.match(name) for p in patterns), name


def expectation(metric: str, op: str, value: float, epoch: int | None = None) -> Expectation:
    return Expectation(metric=metric, op=op, value=value, epoch=epoch)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("op", "value", "passed"),
    [
        (">", 0.5, True),
        (">", 0.75, False),
        (">=", 0.75, True),
        ("<", 0.75, False),
        ("<", 1.0, True),
        ("<=", 0.75, True),
        ("==", 0.75, True),
        ("==", 0.7, False),
    ],
)
def test_evaluate_each_operator(op: str, value: float, passed: bool) -> None:
    [outcome] = evaluate([expectation("test.accuracy", op, value)], {"test.accuracy": 0.75}, None)
    assert outcome.passed is passed
    assert outcome.value == 0.75
    assert outcome.detail == f"0.75 {op} {value:g}"


def test_evaluate_equality_tolerates_rounding() -> None:
    [outcome] = evaluate([expectation("x.y", "==", 0.3)], {"x.y": 0.1 + 0.2}, None)
    assert outcome.passed


def test_evaluate_unknown_metric_fails_and_names_the_known_ones() -> None:
    [outcome] = evaluate(
        [expectation("test.acuracy", ">=", 0.9)], {"test.accuracy": 1.0, "epoch": 3.0}, None
    )
    assert not outcome.passed and outcome.value is None
    assert "unknown metric 'test.acuracy'" in outcome.detail
    assert "did you mean 'test.accuracy'?" in outcome.detail
    assert "known: epoch, test.accuracy" in outcome.detail


def test_evaluate_nan_never_passes() -> None:
    [outcome] = evaluate([expectation("test.loss", "<", 1.0)], {"test.loss": math.nan}, None)
    assert not outcome.passed and "not a number" in outcome.detail


def test_evaluate_picks_the_expectations_of_one_checkpoint() -> None:
    exps = [
        expectation("a.b", ">", 0, epoch=10),
        expectation("a.b", ">", 1),
        expectation("a.b", "<", 5, epoch=10),
        expectation("a.b", ">", 2, epoch=3),
    ]
    assert [o.expectation for o in evaluate(exps, {"a.b": 4.0}, 10)] == [exps[0], exps[2]]
    assert [o.expectation for o in evaluate(exps, {"a.b": 4.0}, None)] == [exps[1]]
    assert evaluate(exps, {"a.b": 4.0}, 7) == []


def test_checkpoints_are_sorted_and_distinct() -> None:
    text = BASE + "".join(
        f'\n[[expect]]\nmetric = "test.accuracy"\nvalue = 0.5\n{when}\n'
        for when in ("epoch = 15", "", "epoch = 5", "epoch = 15", "epoch = 0")
    )
    assert checkpoints(parse_scenario(text, "t.toml")) == [0, 5, 15]
