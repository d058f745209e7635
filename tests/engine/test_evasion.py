"""Evasion attacks on cases whose answers are known without the code."""

from __future__ import annotations

import numpy as np
import pytest

from engine.attacks.evasion import Attack, fgsm, minimal_flip, pgd, project, random_in_ball
from engine.config import InitConfig, ModelConfig
from engine.experiments.measure import measure
from engine.network import Network, build_network
from engine.scenario import parse_scenario
from engine.session import Session
from engine.training import encode_targets


def linear(w: tuple[float, ...], b: float, output: str = "sigmoid") -> Network:
    """A network without hidden layers: output(w . x + b)."""
    loss = "binary_cross_entropy" if output == "sigmoid" else "squared_error_mean"
    net = build_network(
        ModelConfig(hidden=(), output=output, init=InitConfig(weights="zeros")),  # type: ignore[arg-type]
        loss,
        2,
        0,
        n_inputs=len(w),
    )
    net.set_weights([(np.array(w).reshape(-1, 1), np.array([b]))])
    return net


@pytest.mark.parametrize("w", [(1.5, -0.25), (-2.0, 3.0), (0.5, 0.0, -1.0)])
def test_fgsm_without_hidden_layers_moves_eps_times_the_weights_sign(w: tuple[float, ...]) -> None:
    # d loss / dx = (p - y) w, so the step is eps * sign(w) for label 0 and -eps * sign(w) for 1.
    net = linear(w, 0.3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, len(w)))
    y = rng.integers(0, 2, size=20)
    moved = fgsm(net, x, encode_targets(y, net), eps=0.1)
    expected = 0.1 * np.sign(np.array(w))[None, :] * np.where(y == 1, -1.0, 1.0)[:, None]
    assert np.array_equal(moved - x, expected) or np.allclose(moved - x, expected, atol=1e-15)


def test_minimal_flip_without_hidden_layers_is_the_distance_to_the_line() -> None:
    w, b = np.array([2.0, -1.0]), 0.5
    net = linear((2.0, -1.0), b)
    x = np.random.default_rng(1).normal(size=(30, 2))
    distances, reached = minimal_flip(net, x)
    exact = np.abs(x @ w + b) / np.linalg.norm(w)
    assert np.allclose(distances, exact, rtol=1e-9)
    assert np.allclose(reached @ w + b, 0, atol=1e-9)  # the point reached is on the boundary


def test_minimal_flip_handles_softmax_and_linear_outputs() -> None:
    config = ModelConfig(hidden=(8,), output="softmax", init=InitConfig(weights="normal", std=1))
    net = build_network(config, "softmax_cross_entropy", 3, 4)
    x = np.random.default_rng(2).normal(size=(25, 2))
    distances, reached = minimal_flip(net, x)
    before, after = net.predict(x).argmax(1), net.predict(reached).argmax(1)
    found = np.isfinite(distances)
    assert found.mean() > 0.9
    assert np.all(before[found] != after[found])
    # A regression output changes class where it crosses 0.5.
    line = linear((1.0, 1.0), 0.0, output="linear")
    d, _ = minimal_flip(line, np.array([[1.0, 1.0]]))
    assert d[0] == pytest.approx(1.5 / np.sqrt(2), rel=1e-9)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_stays_in_the_ball_and_raises_the_loss(norm: str) -> None:
    config = ModelConfig(hidden=(16,), init=InitConfig(weights="normal", std=1))
    net = build_network(config, "binary_cross_entropy", 2, 3)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 2))
    t = encode_targets(rng.integers(0, 2, size=40), net)
    attack = Attack(0.3, norm, iterations=20, random_start=True)  # type: ignore[arg-type]
    adversarial = pgd(net, x, t, attack, np.random.default_rng(0))
    delta = adversarial - x
    size = np.abs(delta).max(1) if norm == "linf" else np.linalg.norm(delta, axis=1)
    assert np.all(size <= 0.3 + 1e-12)

    def losses(points: np.ndarray) -> np.ndarray:
        return np.array([net.loss.value(net.predict(points[i : i + 1]), t[i : i + 1])
                         for i in range(40)])  # fmt: skip

    before, after = losses(x), losses(adversarial)
    noise = x + random_in_ball(x.shape, 0.3, norm, np.random.default_rng(1))  # type: ignore[arg-type]
    assert after.mean() > losses(noise).mean() > 0.9 * before.mean()
    assert np.mean(after >= before) >= 0.9


def test_projection_onto_the_l2_ball() -> None:
    delta = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    assert np.allclose(project(delta, 1.0, "l2"), [[0.6, 0.8], [0.3, 0.4], [0.0, 0.0]])


SCENARIO = """
[data]
samples = 80
noise = 0.2
[model]
hidden = [12]
[training]
optimizer = "adam"
learning_rate = 0.03
epochs = 60
[experiments.evasion]
eps = 0.2
curve_points = 5
"""


def test_the_adversarial_twin_trains_on_attacked_points_and_the_baseline_does_not() -> None:
    plain = Session(parse_scenario(SCENARIO.split("[experiments")[0], "t.toml"))
    session = Session(parse_scenario(SCENARIO, "t.toml"))
    plain.step(60)
    session.step(60)
    assert session.keys() == ["baseline", "adversarial"]
    base, twin = session.runs
    assert np.array_equal(base.network.flat_params, plain.baseline.network.flat_params)
    assert not np.array_equal(twin.network.flat_params, base.network.flat_params)
    metrics = measure(session)
    for key in ("baseline", "adversarial"):
        robust = metrics[f"evasion.{key}.robust_accuracy"]
        assert 0 <= robust <= metrics[f"evasion.{key}.clean_accuracy"]
    view = next(v for v in session.snapshot().experiments if v.name == "evasion")
    assert [len(s.y) for s in view.series] == [5, 5]
    assert view.series[0].y[0] == metrics["evasion.baseline.clean_accuracy"]  # eps 0: no attack
    arrows = [m for m in view.marks if m.kind == "arrow"]
    assert arrows and all(abs(m.to[0] - m.x) <= 0.2 + 1e-12 for m in arrows if m.to)


def test_measurements_are_reused_only_while_paced() -> None:
    session = Session(parse_scenario(SCENARIO, "t.toml"))
    first = measure(session)["evasion.baseline.mean_distance"]
    session.pace_measurements(3600)
    session.step(30)
    assert measure(session)["evasion.baseline.mean_distance"] == first  # reused while paced
    revision = session.revision
    session.pace_measurements(0)
    assert session.revision > revision
    assert measure(session)["evasion.baseline.mean_distance"] != first
