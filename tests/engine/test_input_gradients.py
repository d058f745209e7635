"""Gradients with respect to the input and per-example gradients, against finite differences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from engine.activations import HIDDEN_ACTIVATIONS
from engine.attacks.gradients import logit_jacobian, loss_input_gradient
from engine.config import DPConfig, InitConfig, ModelConfig
from engine.dp import DPSGD, per_example_gradients, per_example_norms
from engine.network import Network, build_network
from engine.training import encode_targets

OUTPUT_LOSS_PAIRS = [
    ("sigmoid", "binary_cross_entropy"),
    ("sigmoid", "squared_error_sum"),
    ("sigmoid", "squared_error_mean"),
    ("linear", "squared_error_mean"),
    ("softmax", "softmax_cross_entropy"),
    ("softmax", "squared_error_sum"),
]


def network(activation: str, output: str, loss: str, inputs: int = 2, seed: int = 5) -> Network:
    config = ModelConfig(
        hidden=(5, 4),
        activation=activation,  # type: ignore[arg-type]
        output=output,  # type: ignore[arg-type]
        init=InitConfig(weights="normal", std=0.9, bias=0.1),
    )
    return build_network(config, loss, n_classes=3, seed=seed, n_inputs=inputs)


def example_losses(net: Network, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Each example's own loss (the loss of a batch of one)."""
    return np.array(
        [net.loss.value(net.predict(x[i : i + 1]), t[i : i + 1]) for i in range(len(x))]
    )


def numeric_input_gradient(net: Network, x: np.ndarray, t: np.ndarray, eps: float) -> np.ndarray:
    grad = np.empty_like(x)
    for j in range(x.shape[1]):
        up, down = x.copy(), x.copy()
        up[:, j] += eps
        down[:, j] -= eps
        grad[:, j] = (example_losses(net, up, t) - example_losses(net, down, t)) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(a) + np.abs(b))))


@pytest.mark.parametrize(
    ("activation", "output_loss", "inputs"),
    list(itertools.product(sorted(HIDDEN_ACTIVATIONS), OUTPUT_LOSS_PAIRS, [2, 3])),
)
def test_loss_input_gradient_matches_finite_differences(
    activation: str, output_loss: tuple[str, str], inputs: int
) -> None:
    net = network(activation, *output_loss, inputs=inputs)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, inputs))
    t = encode_targets(rng.integers(0, 2, size=6), net)
    analytic = loss_input_gradient(net, x, t)
    assert relative_error(analytic, numeric_input_gradient(net, x, t, 1e-6)) < 1e-6
    # Negative control: a step far too large for a central difference gets it wrong.
    if activation != "linear":
        assert relative_error(analytic, numeric_input_gradient(net, x, t, 3.0)) > 1e-3


@pytest.mark.parametrize("activation", sorted(HIDDEN_ACTIVATIONS))
@pytest.mark.parametrize("output", ["sigmoid", "softmax", "linear"])
def test_logit_jacobian_matches_finite_differences(activation: str, output: str) -> None:
    loss = {"sigmoid": "binary_cross_entropy", "softmax": "softmax_cross_entropy"}.get(
        output, "squared_error_mean"
    )
    net = network(activation, output, loss)
    x = np.random.default_rng(2).normal(size=(5, 2))
    z, jac = logit_jacobian(net, x)

    def logits(points: np.ndarray) -> np.ndarray:
        a = points
        for layer in net.layers[:-1]:
            a = layer.activation.forward(a @ layer.weight + layer.bias)
        last = net.layers[-1]
        return a @ last.weight + last.bias

    assert np.allclose(z, logits(x), rtol=0, atol=1e-12)
    for j in range(2):
        up, down = x.copy(), x.copy()
        up[:, j] += 1e-6
        down[:, j] -= 1e-6
        numeric = (logits(up) - logits(down)) / 2e-6
        assert relative_error(jac[:, :, j], numeric) < 1e-6


def test_input_gradient_leaves_the_training_caches_alone() -> None:
    net = network("relu", "sigmoid", "binary_cross_entropy")
    x = np.random.default_rng(3).normal(size=(4, 2))
    t = encode_targets(np.array([0, 1, 1, 0]), net)
    net.forward(x)
    net.backward(t)
    kept = [(layer.x.copy(), layer.z.copy(), layer.a.copy()) for layer in net.layers]
    grads = net.flat_grads.copy()
    loss_input_gradient(net, x * 3, t)
    assert all(
        np.array_equal(layer.x, a) and np.array_equal(layer.z, b) and np.array_equal(layer.a, c)
        for layer, (a, b, c) in zip(net.layers, kept, strict=True)
    )
    assert np.array_equal(net.flat_grads, grads)


@pytest.mark.parametrize("output_loss", OUTPUT_LOSS_PAIRS)
def test_per_example_gradients_are_each_examples_own_gradient(output_loss: tuple[str, str]) -> None:
    net = network("tanh", *output_loss)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 2))
    t = encode_targets(rng.integers(0, 3 if output_loss[0] == "softmax" else 2, size=5), net)
    net.forward(x)
    net.backward(t)
    per_example = per_example_gradients(net)
    params = net.flat_params
    for i in range(len(x)):
        numeric = np.empty(params.size)
        for k in range(params.size):
            old = params[k]
            params[k] = old + 1e-6
            up = net.loss.value(net.predict(x[i : i + 1]), t[i : i + 1])
            params[k] = old - 1e-6
            down = net.loss.value(net.predict(x[i : i + 1]), t[i : i + 1])
            params[k] = old
            numeric[k] = (up - down) / 2e-6
        assert relative_error(per_example[i], numeric) < 1e-6
    assert np.allclose(per_example_norms(net), np.linalg.norm(per_example, axis=1), rtol=1e-12)
    scale = 1 if net.loss.summed else len(x)
    assert np.allclose(per_example.sum(axis=0), net.flat_grads * scale, rtol=1e-10, atol=1e-12)


def test_clipping_bounds_every_examples_contribution() -> None:
    net = network("relu", "sigmoid", "binary_cross_entropy")
    rng = np.random.default_rng(6)
    x = rng.normal(size=(8, 2)) * 3
    t = encode_targets(rng.integers(0, 2, size=8), net)
    net.forward(x)
    net.backward(t)
    per_example = per_example_gradients(net)
    clip = float(np.median(np.linalg.norm(per_example, axis=1)))
    hook = DPSGD(DPConfig(clip=clip, noise_multiplier=0.0), np.random.default_rng(0))
    hook(net)
    norms = np.linalg.norm(per_example, axis=1)
    expected = (per_example * np.minimum(1, clip / norms)[:, None]).sum(axis=0) / len(x)
    assert np.allclose(net.flat_grads, expected, rtol=1e-12, atol=1e-15)
    assert hook.clipped == int(np.count_nonzero(norms > clip)) > 0
