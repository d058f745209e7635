"""Loss functions, each value next to its hand-written gradient with respect to the output.

Targets ``y`` always have the output's shape: a column of 0/1 for a single sigmoid or linear
output, one-hot rows for softmax. ``gradient`` returns dL/dp for the output p. For the two
canonical pairs (sigmoid + binary cross-entropy, softmax + softmax cross-entropy) the network
uses ``fused_gradient`` instead, dL/dz = (p - y) / n, which is what the chain rule gives once
the activation's derivative cancels the loss's denominator, and which stays finite when p
saturates at 0 or 1.

Like the layers, every loss takes a leading axis of stacked models: ``values`` gives one loss per
model, and the sum over a batch is a matrix product with a column of ones (``batch_sum``), so a
model's loss does not depend on the models stacked beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from engine.arrays import ONE, constant, ones_vector

Array = npt.NDArray[np.floating]


_EPS = {
    np.dtype(t): (
        constant(np.finfo(t).eps, np.dtype(t)),
        constant(t(1) - t(np.finfo(t).eps), np.dtype(t)),
    )
    for t in (np.float16, np.float32, np.float64)
}


def _clip_probabilities(p: Array) -> Array:
    """Keep log() finite: probabilities clipped to [eps, 1 - eps] of their dtype (a new array)."""
    low, high = _EPS[p.dtype]
    q = np.maximum(p, low)
    return np.minimum(q, high, out=q)


def batch_sum(v: Array) -> Array:
    """The sum of ``(…, n, k)`` values over samples and outputs: one number per stacked model.

    Returns:
        An array of shape ``v.shape[:-2]`` (0-d for one model), in v's dtype.
    """
    # The values of one model, column after column, against a vector of ones.
    if v.ndim == 2:  # the same dot product, through np.dot, which is quicker to call
        return np.dot(v.T.reshape(-1), ones_vector(v.size, v.dtype))
    rows = v.swapaxes(-1, -2)
    size = v.shape[-1] * v.shape[-2]
    ones = ones_vector(size, v.dtype).reshape(size, 1)
    return np.matmul(rows.reshape(*rows.shape[:-2], 1, size), ones)[..., 0, 0]


class Loss(Protocol):
    """A loss value and its gradient with respect to the output."""

    @property
    def name(self) -> str: ...

    @property
    def fused_activation(self) -> str | None: ...

    @property
    def summed(self) -> bool:
        """True when the loss adds over samples (a batch's value is a part of the epoch's sum)."""
        ...

    def value(self, p: Array, y: Array) -> float:
        """The loss of one model's outputs p for targets y."""
        ...

    def values(self, p: Array, y: Array) -> Array:
        """The loss of each stacked model, in p's dtype: shape ``p.shape[:-2]``."""
        ...

    def gradient(self, p: Array, y: Array) -> Array: ...


@dataclass(frozen=True)
class SquaredErrorSum:
    """L = 1/2 * sum((p - y)**2) over all samples; dL/dp = p - y (the classic delta rule)."""

    name: str = "squared_error_sum"
    fused_activation: str | None = None
    summed: bool = True

    def value(self, p: Array, y: Array) -> float:
        return float(self.values(p, y))

    def values(self, p: Array, y: Array) -> Array:
        d = p - y
        return 0.5 * batch_sum(np.multiply(d, d, out=d))

    def gradient(self, p: Array, y: Array) -> Array:
        return p - y


@dataclass(frozen=True)
class SquaredErrorMean:
    """L = 1/(2n) * sum((p - y)**2): the sum form averaged over n samples; dL/dp = (p - y) / n."""

    name: str = "squared_error_mean"
    fused_activation: str | None = None
    summed: bool = False

    def value(self, p: Array, y: Array) -> float:
        return float(self.values(p, y))

    def values(self, p: Array, y: Array) -> Array:
        d = p - y
        return 0.5 * batch_sum(np.multiply(d, d, out=d)) / max(p.shape[-2], 1)

    def gradient(self, p: Array, y: Array) -> Array:
        return (p - y) / p.dtype.type(p.shape[-2])


@dataclass(frozen=True)
class BinaryCrossEntropy:
    """L = -mean(y log p + (1 - y) log(1 - p)); dL/dp = (p - y) / (p (1 - p) n).

    For 0/1 targets each term is the log of the probability given to the true class, p or
    1 - p, which is |(1 - y) - p| exactly; it is clipped below at eps so that its log is finite.
    """

    name: str = "binary_cross_entropy"
    fused_activation: str | None = "sigmoid"
    summed: bool = False

    def value(self, p: Array, y: Array) -> float:
        return float(self.values(p, y))

    def values(self, p: Array, y: Array) -> Array:
        low = _EPS[p.dtype][0]
        true_class = np.abs(np.subtract(np.subtract(ONE[p.dtype], y), p))
        np.maximum(true_class, low, out=true_class)
        return -batch_sum(np.log(true_class, out=true_class)) / p.shape[-2]

    def gradient(self, p: Array, y: Array) -> Array:
        q = _clip_probabilities(p)
        return (q - y) / (q * (1 - q) * q.dtype.type(p.shape[-2]))


@dataclass(frozen=True)
class SoftmaxCrossEntropy:
    """L = -mean(sum(y log p)) over one-hot rows; dL/dp = -y / (p n)."""

    name: str = "softmax_cross_entropy"
    fused_activation: str | None = "softmax"
    summed: bool = False

    def value(self, p: Array, y: Array) -> float:
        return float(self.values(p, y))

    def values(self, p: Array, y: Array) -> Array:
        log_p = np.log(_clip_probabilities(p))
        return -batch_sum(np.multiply(y, log_p, out=log_p)) / max(p.shape[-2], 1)

    def gradient(self, p: Array, y: Array) -> Array:
        return -y / (_clip_probabilities(p) * p.dtype.type(p.shape[-2]))


def fused_gradient(p: Array, y: Array, out: Array | None = None) -> Array:
    """dL/dz for sigmoid + binary cross-entropy or softmax + softmax cross-entropy: (p - y) / n.

    Args:
        p: Outputs, ``(…, n, k)``.
        y: Targets of the same shape (or broadcastable to it).
        out: Where to write the result (the output layer's own array), if anywhere.
    """
    g = np.subtract(p, y, out=out)
    return np.divide(g, constant(p.shape[-2], p.dtype), out=g)


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (SquaredErrorSum(), SquaredErrorMean(), BinaryCrossEntropy(), SoftmaxCrossEntropy())
}
