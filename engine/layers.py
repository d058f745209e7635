"""A dense layer: z = x @ W + b, a = f(z), with its backward pass written beside it.

Shapes are row-major in meaning: inputs ``(n, n_in)``, ``weight (n_in, n_out)``,
``bias (n_out,)``. Every one of them may carry a leading axis of K stacked models (inputs
``(K, n, n_in)`` or shared ``(n, n_in)``, ``weight (K, n_in, n_out)``, ``bias (K, n_out)``): the
same lines train one model or a population, and each model's numbers come out of the same
NumPy routines either way.

At this size a NumPy call costs more than its arithmetic, so the storage is chosen to need few
calls:

- The bias is the last row of one parameter block ``[W; b]``, and the layer reads its input with
  a last column of ones, ``[x 1]``. Then ``z = [x 1] @ [W; b]`` is one matrix product, and one
  product ``[x 1].T @ dL/dz`` gives ``dL/dW`` and ``dL/db`` together.
- Batch arrays are stored column by column (Fortran order, per model): each unit's values over
  the batch are contiguous, and the ones column lies outside the block the activation works on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.activations import Activation
from engine.arrays import batch_array, matmul_for

Array = npt.NDArray[np.floating]


def with_ones_column(x: Array) -> Array:
    """``[x 1]``: a copy of x, stored column by column, with a last column of ones."""
    out = batch_array(x.shape[:-2], x.shape[-2], x.shape[-1] + 1, x.dtype)
    out[..., :-1] = x
    out[..., -1] = 1
    return out


@dataclass
class _Batch:
    """The arrays one batch size needs, allocated once and overwritten every pass."""

    z: Array
    a_ext: Array
    """``[a 1]``, or a itself for a layer no other layer reads."""
    a: Array
    """The activation columns of ``a_ext``."""
    grad_z: Array
    """dL/dz."""
    grad_z_twice: Array
    """``[dL/dz dL/dz]``, a view, for a layer with one unit (see ``bind``)."""
    grad_x: Array


class Dense:
    """A fully connected layer with an optional bias.

    After ``forward`` the layer keeps ``x``, ``z`` and ``a`` so every intermediate value can be
    shown; after ``backward`` it keeps ``grad_z`` and has written ``grad_weight`` and
    ``grad_bias``. ``weight`` and ``bias`` are views of the parameter block ``params_block``
    (``[W; b]``); the network may rebind that block to a slice of one flat buffer (``bind``), so
    the optimiser updates every parameter in a single vector operation.
    """

    _current: _Batch
    """The arrays of the last forward pass's batch size (set by ``forward``)."""
    _inputs: Array
    _inputs_t: Array

    def __init__(self, weight: Array, bias: Array | None, activation: Activation) -> None:
        self.activation = activation
        self.n_in = int(weight.shape[-2])
        self.n_out = int(weight.shape[-1])
        self.lead: tuple[int, ...] = tuple(weight.shape[:-2])
        """The stacking axes: () for one model, (K,) for a population."""
        rows = self.n_in + (bias is not None)
        block = np.empty((*self.lead, rows, self.n_out), dtype=weight.dtype)
        block[..., : self.n_in, :] = weight
        if bias is not None:
            block[..., self.n_in, :] = bias
        self.bind(block, np.zeros_like(block))
        self.inputs: Array | None = None
        """What the product multiplies: ``[x 1]`` with a bias, x without."""
        self.z: Array | None = None
        self.a: Array | None = None
        self.a_ext: Array = np.empty((0, self.n_out + 1), dtype=weight.dtype)
        """``[a 1]``: the output with a column of ones, ready to be the next layer's input
        (empty before the first forward pass; ``a`` itself when ``feeds_a_layer`` is False)."""
        self.feeds_a_layer = True
        """Whether another layer reads a (the network clears it for its output layer, whose
        a then needs no ones column and is one contiguous array even for stacked models)."""
        self.grad_z: Array | None = None
        self._batches: dict[int, _Batch] = {}
        self._last_x: Array | None = None

    @property
    def x(self) -> Array | None:
        """The input of the last forward pass."""
        return None if self.inputs is None else self.inputs[..., : self.n_in]

    def bind(self, params_block: Array, grads_block: Array) -> None:
        """Use these ``(*lead, n_in [+ 1], n_out)`` arrays as the parameters ``[W; b]`` and their
        gradients (both are written in place from now on)."""
        self.params_block = params_block
        self.grads_block = grads_block
        self._matmul = matmul_for(params_block.dtype)
        """``np.matmul``, or its float16 form through the float32 routine (``engine.arrays``)."""
        self.weight: Array = params_block[..., : self.n_in, :]
        self.grad_weight: Array = grads_block[..., : self.n_in, :]
        has_bias = params_block.shape[-2] > self.n_in
        self.bias: Array | None = params_block[..., self.n_in, :] if has_bias else None
        self.grad_bias: Array | None = grads_block[..., self.n_in, :] if has_bias else None
        self._weight_t = self.weight.swapaxes(-1, -2)
        # With one unit dL/dz @ W.T is an outer product (inner dimension 1), which NumPy's
        # matmul computes in a slow scalar loop. The backward pass takes [dL/dz dL/dz] @ [W.T; 0]
        # instead: the same products plus exact zeros, in a shape the BLAS routine takes.
        self._weight_t_zero = np.zeros((*self.lead, 2, self.n_in), dtype=params_block.dtype)
        self._weight_row = self._weight_t[..., 0, :]
        self._first_row = self._weight_t_zero[..., 0, :]

    def _batch(self, n: int, input_lead: tuple[int, ...]) -> _Batch:
        dtype = self.params_block.dtype
        grad_z = batch_array(self.lead, n, self.n_out, dtype)
        a_ext = batch_array(self.lead, n, self.n_out + self.feeds_a_layer, dtype)
        if self.feeds_a_layer:
            a_ext[..., -1] = 1
        lead = np.broadcast_shapes(self.lead, input_lead)
        batch = _Batch(
            z=batch_array(self.lead, n, self.n_out, dtype),
            a_ext=a_ext,
            a=a_ext[..., : self.n_out],
            grad_z=grad_z,
            grad_z_twice=np.broadcast_to(grad_z[..., :1], (*self.lead, n, 2)),
            grad_x=batch_array(lead, n, self.n_in, dtype),
        )
        self._batches[n] = batch
        return batch

    def _operand(self, x: Array) -> Array:
        """``[x 1]`` with a bias, x without; from x or from an x that carries its ones column."""
        if x.shape[-1] == self.n_in + 1:
            return x if self.bias is not None else x[..., : self.n_in]
        return with_ones_column(x) if self.bias is not None else x

    def forward(self, x: Array) -> Array:
        """z = x @ W + b; a = f(z). Keeps x, z, a for backward and for display.

        Args:
            x: ``(…, n, n_in)`` inputs, or ``(…, n, n_in + 1)`` inputs whose last column is ones
                (``a_ext`` of the layer below), which are used without a copy.

        Returns:
            a, ``(…, n, n_out)``.
        """
        if x is not self._last_x:  # new inputs: find or make the arrays for their batch size
            self._take(x)
        batch = self._current
        z = self._matmul(self._inputs, self.params_block, out=batch.z)  # [x 1] @ [W; b] = x @ W + b
        self.activation.forward(z, out=batch.a)
        return batch.a

    def _take(self, x: Array) -> None:
        inputs = x if x.shape[-1] == self.params_block.shape[-2] else self._operand(x)
        batch = self._batches.get(x.shape[-2]) or self._batch(x.shape[-2], x.shape[:-2])
        self._inputs, self._inputs_t, self._last_x = inputs, inputs.swapaxes(-1, -2), x
        self.inputs, self.z, self.a, self.a_ext = inputs, batch.z, batch.a, batch.a_ext
        self._current = batch

    def output_gradient_buffer(self) -> Array:
        """Where a caller may write dL/dz for ``backward(None, grad_z=...)`` without a copy."""
        return self._current.grad_z

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
        batch = self._current  # (set by the forward pass that backward follows)
        if grad_z is None:
            grad_z = self.activation.backward(batch.z, batch.a, grad_a)  # type: ignore[arg-type]
        self.grad_z = grad_z
        # [dL/dW; dL/db] = [x 1].T @ dL/dz: the bias row sums dL/dz over the batch.
        self._matmul(self._inputs_t, grad_z, out=self.grads_block)
        if not need_input_grad:
            return None
        if self.n_out > 1:
            return self._matmul(grad_z, self._weight_t, out=batch.grad_x)  # dL/dx = dL/dz @ W.T
        if grad_z is not batch.grad_z:
            batch.grad_z[...] = grad_z
        self._first_row[...] = self._weight_row
        return self._matmul(batch.grad_z_twice, self._weight_t_zero, out=batch.grad_x)

    def params(self) -> list[Array]:
        """The trainable arrays, weight first."""
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def grads(self) -> list[Array]:
        """Gradients in the order of ``params``."""
        if self.grad_bias is None:
            return [self.grad_weight]
        return [self.grad_weight, self.grad_bias]

    def apply(self, x: Array) -> Array:
        """``[f(x @ W + b) 1]`` for any inputs, in new arrays, leaving the kept values untouched.

        Args:
            x: As for ``forward``.
        """
        inputs = self._operand(x)
        lead = np.broadcast_shapes(self.lead, inputs.shape[:-2])
        n = x.shape[-2]
        z = self._matmul(inputs, self.params_block, out=batch_array(lead, n, self.n_out, x.dtype))
        a_ext = batch_array(lead, n, self.n_out + 1, x.dtype)
        a_ext[..., -1] = 1
        self.activation.forward(z, out=a_ext[..., : self.n_out])
        return a_ext
