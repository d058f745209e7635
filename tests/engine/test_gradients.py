"""Central finite-difference checks of every hand-written gradient, in float64."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest

from engine.activations import HIDDEN_ACTIVATIONS, Activation, LeakyReLU, Sigmoid
from engine.config import InitConfig, ModelConfig
from engine.network import Network, build_network
from engine.training import encode_targets

OUTPUT_LOSS_PAIRS = [
    ("sigmoid", "squared_error_sum"),
    ("sigmoid", "squared_error_mean"),
    ("sigmoid", "binary_cross_entropy"),
    ("linear", "squared_error_sum"),
    ("linear", "squared_error_mean"),
    ("softmax", "softmax_cross_entropy"),
    ("softmax", "squared_error_mean"),
]


def make_network(activation: str, output: str, loss: str, bias: bool, seed: int = 3) -> Network:
    config = ModelConfig(
        hidden=(5, 4),
        activation=activation,  # type: ignore[arg-type]
        output=output,  # type: ignore[arg-type]
        bias=bias,
        init=InitConfig(weights="normal", std=0.8, bias=0.1),
    )
    return build_network(config, loss, n_classes=3, seed=seed)


def max_relative_error(net: Network, x: np.ndarray, t: np.ndarray, eps: float) -> float:
    """Largest |analytic - numeric| / max(1, |analytic| + |numeric|) over all parameters."""
    net.forward(x)
    net.backward(t)
    analytic = net.flat_grads.copy()
    numeric = np.empty_like(analytic)
    params = net.flat_params
    for i in range(params.size):
        old = params[i]
        params[i] = old + eps
        up = net.loss.value(net.predict(x), t)
        params[i] = old - eps
        down = net.loss.value(net.predict(x), t)
        params[i] = old
        numeric[i] = (up - down) / (2 * eps)
    scale = np.maximum(1.0, np.abs(analytic) + np.abs(numeric))
    return float(np.max(np.abs(analytic - numeric) / scale))


def batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(7, 2)), rng.integers(0, 2, size=7)


@pytest.mark.parametrize(
    ("activation", "output_loss", "bias"),
    list(itertools.product(sorted(HIDDEN_ACTIVATIONS), OUTPUT_LOSS_PAIRS, [True, False])),
)
def test_backprop_matches_finite_differences(
    activation: str, output_loss: tuple[str, str], bias: bool
) -> None:
    net = make_network(activation, *output_loss, bias=bias)
    x, y = batch()
    assert max_relative_error(net, x, encode_targets(y, net), eps=1e-6) < 1e-6


@pytest.mark.parametrize(
    ("output", "loss"), [("sigmoid", "binary_cross_entropy"), ("softmax", "softmax_cross_entropy")]
)
def test_unfused_path_agrees_with_finite_differences(output: str, loss: str) -> None:
    """dL/dp through the activation's own derivative, not the (p - y) / n shortcut."""
    net = make_network("tanh", output, loss, bias=True)
    net.fused = False
    x, y = batch(1)
    assert max_relative_error(net, x, encode_targets(y, net), eps=1e-6) < 1e-6


@dataclass(frozen=True)
class WrongSigmoid(Sigmoid):
    """Sigmoid with a wrong derivative: a * (1 + a) instead of a * (1 - a)."""

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        return grad_a * (a * (1 + a))


def test_negative_control_wrong_derivative_fails() -> None:
    net = make_network("sigmoid", "linear", "squared_error_sum", bias=True)
    for layer in net.hidden_layers:
        layer.activation = WrongSigmoid()
    x, y = batch()
    assert max_relative_error(net, x, encode_targets(y, net), eps=1e-6) > 1e-2


def test_negative_control_huge_step_fails() -> None:
    """The check can tell: with eps = 1 the central difference is far from the derivative."""
    net = make_network("tanh", "sigmoid", "binary_cross_entropy", bias=True)
    x, y = batch()
    assert max_relative_error(net, x, encode_targets(y, net), eps=1.0) > 1e-3


@pytest.mark.parametrize("activation", [*HIDDEN_ACTIVATIONS.values(), LeakyReLU(0.2)])
def test_activation_derivative_elementwise(activation: Activation) -> None:
    z = np.linspace(-3, 3, 13) + 0.05  # avoid the ReLU kink at exactly 0
    eps = 1e-6
    numeric = (activation.forward(z + eps) - activation.forward(z - eps)) / (2 * eps)
    a = activation.forward(z)
    analytic = activation.backward(z, a, np.ones_like(z))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)
