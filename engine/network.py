"""The model: a stack of dense layers and a loss, trained by hand-written backpropagation."""

from __future__ import annotations

import copy
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

    All arrays share one dtype; the arithmetic of forward and backward runs in it. The layers
    may hold K stacked models (weights ``(K, n_in, n_out)``): then every array below has that
    leading axis too, and the network trains the K models at once.
    """

    def __init__(self, layers: Sequence[Dense], loss: Loss) -> None:
        self.layers = list(layers)
        self.loss = loss
        self.fused = loss.fused_activation == self.layers[-1].activation.name
        self.lead: tuple[int, ...] = self.layers[0].lead
        """The stacking axes: () for one model, (K,) for K models."""
        dtype = self.layers[0].weight.dtype
        shapes = [layer.params_block.shape[-2:] for layer in self.layers]
        size = sum(rows * cols for rows, cols in shapes)
        params = np.empty((*self.lead, size), dtype=dtype)
        self.is_weight = np.zeros(size, dtype=bool)
        """True where ``flat_params`` holds a weight (penalties apply), False for biases."""
        offset = 0
        for layer, (rows, cols) in zip(self.layers, shapes, strict=True):
            end = offset + rows * cols
            params[..., offset:end] = layer.params_block.reshape(*self.lead, rows * cols)
            self.is_weight[offset : offset + layer.n_in * cols] = True
            offset = end
        self.bind_flat(params, np.zeros_like(params))
        self.layers[-1].feeds_a_layer = False
        # The hidden layers from the top down, and whether each passes a gradient further down.
        self._below_output = [(layer, i > 0) for i, layer in enumerate(self.layers[:-1])][::-1]

    @property
    def dtype(self) -> np.dtype[np.floating]:
        return self.flat_params.dtype

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
        """Run every layer; each keeps its x, z and a. Returns the output activations.

        Args:
            x: ``(…, n, n_in)`` inputs, or ``(…, n, n_in + 1)`` with a last column of ones (as
                ``engine.layers.with_ones_column`` makes them; used without a copy).
        """
        for layer in self.layers:
            a = layer.forward(x)
            x = layer.a_ext  # [a 1]: the next layer's input, its ones column included
        return a

    def backward(self, y: Array) -> None:
        """Back-propagate dL/d(output) for targets y through every layer (after ``forward``)."""
        out = self.layers[-1]
        assert out.a is not None
        if self.fused:
            grad_z = fused_gradient(out.a, y, out.output_gradient_buffer())
            grad = out.backward(None, grad_z, bool(self._below_output))
        else:
            grad = out.backward(self.loss.gradient(out.a, y), None, bool(self._below_output))
        for layer, need_input_grad in self._below_output:
            grad = layer.backward(grad, None, need_input_grad)

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

    def bind_flat(self, flat_params: Array, flat_grads: Array) -> None:
        """Use these ``(*lead, size)`` arrays as every parameter and gradient, in place.

        Each layer's ``[W; b]`` block and its gradient become views of them, layer after
        layer, so the optimiser updates every parameter in one vector operation.
        """
        self.flat_params: Array = flat_params
        """Every parameter, weights and biases layer by layer; the layers hold views of it."""
        self.flat_grads: Array = flat_grads
        """Every gradient, in the order of ``flat_params``."""
        offset = 0
        for layer in self.layers:
            rows, cols = layer.params_block.shape[-2:]
            end = offset + rows * cols
            shape = (*self.lead, rows, cols)
            layer.bind(
                flat_params[..., offset:end].reshape(shape),
                flat_grads[..., offset:end].reshape(shape),
            )
            offset = end

    def copy(self) -> Network:
        """An independent copy, with parameters and gradients of its own: read it, or even
        run it backwards, while this network trains on."""
        twin = copy.deepcopy(self)
        twin.bind_flat(self.flat_params.copy(), self.flat_grads.copy())
        return twin

    def bind_member(self, stacked: Network, k: int) -> None:
        """Use member k of ``stacked``'s parameters and gradients as this network's own.

        Both are then views: whoever trains the stacked network (a population) trains this
        one, and reading this network reads member k. The architecture must match.
        """
        self.bind_flat(stacked.flat_params[k], stacked.flat_grads[k])

    def predict(self, x: Array) -> Array:
        """Outputs for x without disturbing the values kept from the last training pass."""
        return self.predict_all(x)[-1]

    def predict_all(self, x: Array) -> list[Array]:
        """Activations of every layer for x (hidden layers first, output last), in one pass.

        The arithmetic is the training pass's, so ``predict(x)`` equals the ``a`` that
        ``forward(x)`` keeps, bit for bit.
        """
        outs = []
        for layer in self.layers:
            x = layer.apply(x)
            outs.append(x[..., : layer.n_out])
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


def stack_networks(networks: Sequence[Network]) -> Network:
    """One network holding the given networks' weights as K stacked models (K = len).

    Args:
        networks: Networks of one architecture, loss and dtype.

    Returns:
        A network whose layers hold ``(K, n_in, n_out)`` weights, copies of the given ones.
    """
    first = networks[0]
    layers = []
    for i, layer in enumerate(first.layers):
        weight = np.stack([net.layers[i].weight for net in networks])
        bias = None
        if layer.bias is not None:
            bias = np.stack([net.layers[i].bias for net in networks])  # type: ignore[misc]
        layers.append(Dense(weight, bias, layer.activation))
    return Network(layers, first.loss)
