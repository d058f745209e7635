"""A dense layer: z = x @ W + b, a = f(z), with its backward pass written beside it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.activations import Activation

Array = npt.NDArray[np.floating]


class Dense:
    """A fully connected layer with an optional bias.

    Shapes are row-major: inputs ``(n, n_in)``, ``weight (n_in, n_out)``, ``bias (n_out,)``.
    After ``forward`` the layer keeps ``x``, ``z`` and ``a`` so every intermediate value can be
    shown; after ``backward`` it keeps ``grad_z`` and has written ``grad_weight`` and
    ``grad_bias``. The network may rebind the parameter and gradient arrays to views of one
    flat buffer, so the optimiser updates every parameter in a single vector operation.
    """

    def __init__(self, weight: Array, bias: Array | None, activation: Activation) -> None:
        self.weight = weight
        self.bias = bias
        self.activation = activation
        self.x: Array | None = None
        self.z: Array | None = None
        self.a: Array | None = None
        self.grad_z: Array | None = None
        self.grad_weight: Array = np.zeros_like(weight)
        self.grad_bias: Array | None = None if bias is None else np.zeros_like(bias)

    @property
    def n_in(self) -> int:
        return int(self.weight.shape[0])

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[1])

    def forward(self, x: Array) -> Array:
        """z = x @ W (+ b); a = f(z). Keeps x, z, a for backward and for display."""
        z = x @ self.weight
        if self.bias is not None:
            z += self.bias
        a = self.activation.forward(z)
        self.x, self.z, self.a = x, z, a
        return a

    def backward(
        self, grad_a: Array | None, grad_z: Array | None = None, need_input_grad: bool = True
    ) -> Array | None:
        """Back-propagate through f and the affine map.

        Args:
            grad_a: dL/da from the layer above, or None when ``grad_z`` is given directly
                (the fused output gradient).
            grad_z: dL/dz, if already known.
            need_input_grad: Whether to compute dL/dx (the first layer does not need it).

        Returns:
            dL/dx = dL/dz @ W.T, or None when not needed.
        """
        assert self.x is not None and self.z is not None and self.a is not None
        if grad_z is None:
            assert grad_a is not None
            grad_z = self.activation.backward(self.z, self.a, grad_a)
        self.grad_z = grad_z
        np.matmul(self.x.T, grad_z, out=self.grad_weight)  # dL/dW = x.T @ dL/dz
        if self.grad_bias is not None:
            np.add.reduce(grad_z, axis=0, out=self.grad_bias)  # dL/db = column sums of dL/dz
        return grad_z @ self.weight.T if need_input_grad else None

    def params(self) -> list[Array]:
        """The trainable arrays, weight first."""
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def grads(self) -> list[Array]:
        """Gradients in the order of ``params``."""
        if self.grad_bias is None:
            return [self.grad_weight]
        return [self.grad_weight, self.grad_bias]
