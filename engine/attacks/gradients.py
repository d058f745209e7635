"""Gradients with respect to a network's input, forward and backward side by side.

Training needs dL/dW; an attacker needs dL/dx, how the loss (or an output) changes when the
input moves. The chain rule is the same one ``Network.backward`` walks, continued one layer
further down: after the first layer's dL/dz comes dL/dx = dL/dz @ W0.T. These functions run
their own forward pass with the network's own layers and activations and keep its values in
local variables, so the layers' training caches (``x``, ``z``, ``a``, gradients) stay as they
were and an attack never disturbs a run.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.losses import fused_gradient
from engine.network import Network

Array = npt.NDArray[np.floating]
Trace = list[tuple[Array, Array]]


def forward_trace(network: Network, x: Array) -> Trace:
    """(z, a) of every layer for inputs ``x``: z = a_prev @ W (+ b), a = f(z)."""
    trace = []
    a = x.astype(network.dtype, copy=False)
    for layer in network.layers:
        z = a @ layer.weight
        if layer.bias is not None:
            z = z + layer.bias
        a = layer.activation.forward(z)
        trace.append((z, a))
    return trace


def backward_to_input(network: Network, trace: Trace, grad_out_z: Array) -> Array:
    """dL/dx from dL/dz of the output layer, walking every layer back to the input.

    Args:
        network: The network ``trace`` was computed with.
        trace: ``forward_trace(network, x)``.
        grad_out_z: (n, outputs) dL/dz of the last layer.

    Returns:
        (n, inputs) dL/dx.
    """
    layers = network.layers
    grad_z = grad_out_z
    for i in range(len(layers) - 1, 0, -1):
        grad_a = grad_z @ layers[i].weight.T  # dL/d(input of layer i) = dL/dz_i @ W_i.T
        z, a = trace[i - 1]
        grad_z = layers[i - 1].activation.backward(z, a, grad_a)  # through f of layer i - 1
    return grad_z @ layers[0].weight.T  # dL/dx = dL/dz_0 @ W_0.T


def output_grad_z(network: Network, trace: Trace, targets: Array) -> Array:
    """dL/dz of the output layer for the *sum* of the examples' losses (one row per example).

    The engine's losses are means over the batch (except the summed squared error); this
    undoes the 1/n so that row i is the gradient of example i's own loss, whatever n is.
    """
    z, p = trace[-1]
    n = p.dtype.type(len(p))
    if network.fused:  # sigmoid + cross-entropy or softmax + cross-entropy: (p - y) / n
        return fused_gradient(p, targets) * n
    scale = p.dtype.type(1) if network.loss.summed else n
    out = network.layers[-1]
    return out.activation.backward(z, p, network.loss.gradient(p, targets) * scale)


def loss_input_gradient(network: Network, x: Array, targets: Array) -> Array:
    """Per example, the gradient of its loss with respect to its input.

    Args:
        network: The model.
        x: (n, inputs) inputs.
        targets: (n, outputs) targets as the loss expects them (``encode_targets``).

    Returns:
        (n, inputs): row i is d loss(x_i, y_i) / d x_i.
    """
    trace = forward_trace(network, x)
    return backward_to_input(network, trace, output_grad_z(network, trace, targets))


def logit_jacobian(network: Network, x: Array) -> tuple[Array, Array]:
    """The output layer's pre-activations z and their Jacobian with respect to the input.

    Returns:
        (z, jacobian): z is (n, outputs); jacobian[i, k, :] = dz_k / dx at x_i.
    """
    trace = forward_trace(network, x)
    z = trace[-1][0]
    n, outputs = z.shape
    jacobian = np.empty((n, outputs, x.shape[1]), dtype=z.dtype)
    for k in range(outputs):
        unit = np.zeros_like(z)
        unit[:, k] = 1  # seed dz_k/dz = e_k and walk it back to the input
        jacobian[:, k, :] = backward_to_input(network, trace, unit)
    return z, jacobian


def parameter_gradient(
    network: Network, x: Array, targets: Array
) -> list[tuple[Array, Array | None]]:
    """dL/dW and dL/db of every layer for the batch (x, targets), the loss as training sees it.

    The same backward pass as ``Network.backward``, run on its own values, so the gradient a
    client would share can be computed for any batch without touching the run.
    """
    trace = forward_trace(network, x)
    z, p = trace[-1]
    out = network.layers[-1]
    if network.fused:
        grad_z = fused_gradient(p, targets)
    else:
        grad_z = out.activation.backward(z, p, network.loss.gradient(p, targets))
    grads: list[tuple[Array, Array | None]] = []
    for i in range(len(network.layers) - 1, -1, -1):
        layer = network.layers[i]
        inputs = trace[i - 1][1] if i > 0 else x.astype(network.dtype, copy=False)
        grads.append((inputs.T @ grad_z, None if layer.bias is None else grad_z.sum(axis=0)))
        if i > 0:
            z_prev, a_prev = trace[i - 1]
            grad_z = network.layers[i - 1].activation.backward(
                z_prev, a_prev, grad_z @ layer.weight.T
            )
    return grads[::-1]
