"""The model: a stack of dense layers and a loss, trained by hand-written backpropagation."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from engine.activations import LeakyReLU, get_activation
from engine.config import ModelConfig
from engine.init import init_bias, init_weight, random_source
from engine.layers import Dense
from engine.losses import LOSSES, Loss, fused_gradient

Array = npt.NDArray[np.floating]


class Network:
    """A feed-forward network ``layers[0] -> ... -> layers[-1]`` with a loss.

    All arrays share one dtype; the arithmetic of forward and backward runs in it.
    """

    def __init__(self, layers: Sequence[Dense], loss: Loss) -> None:
        self.layers = list(layers)
        self.loss = loss
        self.fused = loss.fused_activation == self.layers[-1].activation.name
        dtype = self.layers[0].weight.dtype
        sizes = [p.size for layer in self.layers for p in layer.params()]
        self.flat_params: Array = np.empty(sum(sizes), dtype=dtype)
        """Every parameter, weights and biases layer by layer; the layers hold views of it."""
        self.flat_grads: Array = np.zeros(sum(sizes), dtype=dtype)
        """Every gradient, in the order of ``flat_params``."""
        self.is_weight = np.zeros(sum(sizes), dtype=bool)
        """True where ``flat_params`` holds a weight (penalties apply), False for biases."""
        offset = 0
        for layer in self.layers:
            views = []
            for kind, p in zip(("weight", "bias"), layer.params(), strict=False):
                view = self.flat_params[offset : offset + p.size].reshape(p.shape)
                view[...] = p
                grad = self.flat_grads[offset : offset + p.size].reshape(p.shape)
                self.is_weight[offset : offset + p.size] = kind == "weight"
                views.append((view, grad))
                offset += p.size
            layer.weight, layer.grad_weight = views[0]
            if layer.bias is not None:
                layer.bias, layer.grad_bias = views[1]

    @property
    def dtype(self) -> np.dtype[np.floating]:
        return self.layers[0].weight.dtype

    @property
    def hidden_layers(self) -> list[Dense]:
        return self.layers[:-1]

    def architecture(self) -> list[dict[str, object]]:
        """Plain-data description of the layers (also stored in weight files)."""
        return [
            {
                "n_in": layer.n_in,
                "n_out": layer.n_out,
                "activation": layer.activation.name,
                "bias": layer.bias is not None,
            }
            for layer in self.layers
        ]

    def forward(self, x: Array) -> Array:
        """Run every layer; each keeps its x, z and a. Returns the output activations."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, y: Array) -> None:
        """Back-propagate dL/d(output) for targets y through every layer (after ``forward``)."""
        out = self.layers[-1]
        assert out.a is not None
        if self.fused:
            grad = out.backward(None, grad_z=fused_gradient(out.a, y))
        else:
            grad = out.backward(self.loss.gradient(out.a, y))
        for i in range(len(self.layers) - 2, -1, -1):
            grad = self.layers[i].backward(grad, need_input_grad=i > 0)

    def params(self) -> list[Array]:
        return [p for layer in self.layers for p in layer.params()]

    def grads(self) -> list[Array]:
        return [g for layer in self.layers for g in layer.grads()]

    def weights(self) -> list[tuple[Array, Array | None]]:
        """(weight, bias or None) per layer: the arrays themselves, not copies."""
        return [(layer.weight, layer.bias) for layer in self.layers]

    def set_weights(self, weights: Sequence[tuple[Array, Array | None]]) -> None:
        """Copy new values into every layer's parameters (cast to the network's dtype)."""
        for layer, (w, b) in zip(self.layers, weights, strict=True):
            layer.weight[...] = w
            if layer.bias is not None:
                if b is None:
                    raise ValueError("a layer with a bias needs a bias array")
                layer.bias[...] = b

    def predict(self, x: Array) -> Array:
        """Outputs for x without disturbing the values kept from the last training pass."""
        for layer in self.layers:
            z = x @ layer.weight
            if layer.bias is not None:
                z = z + layer.bias
            x = layer.activation.forward(z)
        return x

    def predict_all(self, x: Array) -> list[Array]:
        """Activations of every layer for x (hidden layers first, output last), in one pass."""
        outs = []
        for layer in self.layers:
            z = x @ layer.weight
            if layer.bias is not None:
                z = z + layer.bias
            x = layer.activation.forward(z)
            outs.append(x)
        return outs


def output_units(config: ModelConfig, n_classes: int) -> int:
    """Softmax gets one unit per class; sigmoid and linear outputs get a single unit."""
    return n_classes if config.output == "softmax" else 1


def build_network(
    config: ModelConfig,
    loss_name: str,
    n_classes: int,
    seed: int,
    dtype: str = "float64",
    n_inputs: int = 2,
) -> Network:
    """Draw a network's initial weights from ``seed`` and cast them once to ``dtype``.

    Args:
        config: Layer widths, activations, bias and initialiser.
        loss_name: A key of ``engine.losses.LOSSES``.
        n_classes: Classes in the data (sets the softmax width).
        seed: Seed of the initial weights.
        dtype: float64, float32 or float16.
        n_inputs: Input features: the plane's two, plus any extra feature (a backdoor's
            trigger).

    Returns:
        The network, every array in ``dtype``.
    """
    widths = [n_inputs, *config.hidden, output_units(config, n_classes)]
    rng = random_source(config.init, seed)
    hidden = (
        LeakyReLU(config.leaky_slope)
        if config.activation == "leaky_relu"
        else get_activation(config.activation)
    )
    layers = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
        weight = init_weight(config.init, n_in, n_out, rng).astype(dtype)
        bias = init_bias(config.init, n_out).astype(dtype) if config.bias else None
        is_output = i == len(widths) - 2
        layers.append(Dense(weight, bias, get_activation(config.output) if is_output else hidden))
    return Network(layers, LOSSES[loss_name])
