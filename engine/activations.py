"""Activation functions, each forward next to its hand-written derivative.

Every function keeps the dtype of its input: a float16 forward pass stays in float16.
``backward`` receives the pre-activation ``z``, the activation ``a = forward(z)`` and the
upstream gradient ``dL/da``, and returns ``dL/dz``; it may write the result over ``dL/da`` (the
layer above's scratch array). Where the derivative is cheaper in terms
of ``a`` (sigmoid, tanh) it uses ``a``. ``forward`` writes into ``out`` when given one (the
layer's own array, reused every pass) and returns it.

Every function works on a leading axis of stacked models as on one model: element-wise maths is
the same per element, and softmax's row sums are matrix products (see ``engine.arrays``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from engine.arrays import ONE, ZERO, row_sums

Array = npt.NDArray[np.floating]

_SMALL = 16384
"""Elements up to which ReLU's backward pass copies its mask to floats (see ReLU.backward)."""


class Activation(Protocol):
    """An element-wise (or, for softmax, row-wise) nonlinearity with its derivative."""

    @property
    def name(self) -> str: ...

    def forward(self, z: Array, out: Array | None = None) -> Array: ...

    def backward(self, z: Array, a: Array, grad_a: Array) -> Array: ...


@dataclass(frozen=True)
class Sigmoid:
    """sigma(z) = 1 / (1 + exp(-z)); sigma'(z) = a * (1 - a)."""

    name: str = "sigmoid"

    def forward(self, z: Array, out: Array | None = None) -> Array:
        # exp(-z) overflows to inf for z << 0 and 1 / inf is the right limit, 0; callers that
        # train many epochs silence the warning once around the loop, not here per call.
        one = ONE[z.dtype]
        e = np.negative(z, out=out)  # 1 / (1 + exp(-z)), step by step in one array
        np.exp(e, out=e)
        np.add(e, one, out=e)
        return np.divide(one, e, out=e)

    def backward(self, z: Array, a: Array, grad_a: Array) -> Array:
        return grad_a * (a * (1 - a))


@dataclass(frozen=True)
class Tanh:
    """tanh(z); tanh'(z) = 1 - a**2."""

    name: str = "tanh"

    def forward(self, z: Array, out: Array | None = None) -> Array:
        return np.tanh(z, out=out)

    def backward(self, z: Array, a: Array, grad_a: Array) -> Array:
        return grad_a * (1 - a * a)


@dataclass(frozen=True)
class ReLU:
    """max(0, z); derivative 1 where z > 0, else 0 (0 at the kink)."""

    name: str = "relu"

    def forward(self, z: Array, out: Array | None = None) -> Array:
        return np.maximum(z, ZERO[z.dtype], out=out)

    def backward(self, z: Array, a: Array, grad_a: Array) -> Array:
        mask = np.greater(z, ZERO[z.dtype])  # grad_a * (z > 0), in place
        if mask.size <= _SMALL:
            # NumPy multiplies by a boolean array through a casting buffer; for a small array a
            # float copy of the mask is quicker, for a large one the copy costs more.
            mask = mask.astype(z.dtype)
        return np.multiply(grad_a, mask, out=grad_a)


@dataclass(frozen=True)
class LeakyReLU:
    """z where z > 0, else slope * z; derivative 1 or slope."""

    slope: float = 0.01
    name: str = "leaky_relu"

    def forward(self, z: Array, out: Array | None = None) -> Array:
        # For 0 < slope < 1, max(z, slope z) is z where z > 0 and slope z elsewhere.
        scaled = np.multiply(z, z.dtype.type(self.slope), out=out)
        return np.maximum(z, scaled, out=scaled)

    def backward(self, z: Array, a: Array, grad_a: Array) -> Array:
        return np.where(z > 0, grad_a, grad_a * grad_a.dtype.type(self.slope))


@dataclass(frozen=True)
class Linear:
    """Identity; derivative 1."""

    name: str = "linear"

    def forward(self, z: Array, out: Array | None = None) -> Array:
        if out is None:
            return z
        np.copyto(out, z)
        return out

    def backward(self, z: Array, a: Array, grad_a: Array) -> Array:
        return grad_a


@dataclass(frozen=True)
class Softmax:
    """Row-wise softmax; the Jacobian-vector product a * (g - sum(g * a)) per row."""

    name: str = "softmax"

    def forward(self, z: Array, out: Array | None = None) -> Array:
        # Subtracting the row maximum changes nothing mathematically and keeps exp finite.
        e = np.subtract(z, z.max(axis=-1, keepdims=True), out=out)
        np.exp(e, out=e)
        return np.divide(e, row_sums(e), out=e)

    def backward(self, z: Array, a: Array, grad_a: Array) -> Array:
        return a * (grad_a - row_sums(grad_a * a))


HIDDEN_ACTIVATIONS: dict[str, Activation] = {
    a.name: a for a in (Sigmoid(), Tanh(), ReLU(), LeakyReLU(), Linear())
}
OUTPUT_ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (Sigmoid(), Softmax(), Linear())}


def get_activation(name: str) -> Activation:
    """Look an activation up by name.

    Args:
        name: One of sigmoid, tanh, relu, leaky_relu, linear, softmax.

    Returns:
        The activation object.

    Raises:
        KeyError: If the name is unknown.
    """
    if name == "softmax":
        return OUTPUT_ACTIVATIONS[name]
    return HIDDEN_ACTIVATIONS[name]
