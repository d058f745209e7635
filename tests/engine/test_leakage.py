"""Gradient leakage on known answers: one example comes back exactly."""

from __future__ import annotations

import numpy as np
import pytest

from engine.attacks.gradients import parameter_gradient
from engine.attacks.leakage import flatten, gradient_match, recover, shared_gradient
from engine.config import InitConfig, ModelConfig
from engine.network import build_network
from engine.training import encode_targets


def network(output: str = "sigmoid", activation: str = "relu", bias: bool = True, seed: int = 1):  # type: ignore[no-untyped-def]
    loss = "binary_cross_entropy" if output == "sigmoid" else "softmax_cross_entropy"
    config = ModelConfig(
        hidden=(8, 6),
        activation=activation,  # type: ignore[arg-type]
        output=output,  # type: ignore[arg-type]
        bias=bias,
        init=InitConfig(weights="normal", std=0.8, bias=0.2),
    )
    return build_network(config, loss, 3, seed)


def test_parameter_gradient_is_the_engines_backward() -> None:
    net = network()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 2)), rng.integers(0, 2, size=5)
    grads = parameter_gradient(net, x, encode_targets(y, net))
    net.forward(x)
    net.backward(encode_targets(y, net))
    assert np.allclose(flatten(grads), net.flat_grads, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_one_examples_gradient_gives_the_example_back_to_1e_9(output: str, activation: str) -> None:
    net = network(output, activation)
    rng = np.random.default_rng(3)
    recovered = 0
    for _ in range(10):
        x = rng.normal(size=(1, 2)) * 2
        y = rng.integers(0, 3 if output == "softmax" else 2, size=1)
        gradient = shared_gradient(net, x, y)
        got = recover(gradient)
        assert got.label == y[0]
        b0 = gradient[0][1]
        assert b0 is not None
        if not np.any(b0 != 0):  # no first-layer unit passed any gradient: nothing to divide
            assert got.best is None and activation == "relu"
            continue
        assert got.best is not None
        assert np.linalg.norm(got.best - x[0]) <= 1e-9
        recovered += 1
    assert recovered >= 5


def test_a_batch_returns_mixtures_of_its_points() -> None:
    net = network()
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(4, 2)), rng.integers(0, 2, size=4)
    got = recover(shared_gradient(net, x, y))
    # Each ratio is sum_i d_ij x_i / sum_i d_ij: an affine combination of the batch's points.
    gradient = shared_gradient(net, x, y)
    w0, b0 = gradient[0]
    assert b0 is not None
    used = np.flatnonzero(b0 != 0)
    assert np.allclose(got.points, (w0[:, used] / b0[used]).T)


def test_without_a_bias_there_is_no_ratio_but_matching_still_finds_the_point() -> None:
    net = network(bias=False, seed=2)
    x, y = np.array([[0.7, -0.4]]), np.array([1])
    assert recover(shared_gradient(net, x, y)).best is None
    starts = np.random.default_rng(0).uniform(-2, 2, size=(3, 2))
    target = flatten(shared_gradient(net, x, y))
    found, value = gradient_match(net, target, y, starts=starts, evaluations=400)
    assert value < 1e-12
    assert np.linalg.norm(found[0] - x[0]) < 1e-5
