"""Loss functions, each value next to its hand-written gradient with respect to the output.

Targets ``y`` always have the output's shape: a column of 0/1 for a single sigmoid or linear
output, one-hot rows for softmax. ``gradient`` returns dL/dp for the output p. For the two
canonical pairs (sigmoid + binary cross-entropy, softmax + softmax cross-entropy) the network
uses ``fused_gradient`` instead, dL/dz = (p - y) / n, which is what the chain rule gives once
the activation's derivative cancels the loss's denominator, and which stays finite when p
saturates at 0 or 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.floating]


_EPS = {
    np.dtype(t): (t(np.finfo(t).eps), t(1) - t(np.finfo(t).eps))
    for t in (np.float16, np.float32, np.float64)
}


def _clip_probabilities(p: Array) -> Array:
    """Keep log() finite: probabilities clipped to [eps, 1 - eps] of their dtype."""
    low, high = _EPS[p.dtype]
    return np.minimum(np.maximum(p, low), high)


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

    def value(self, p: Array, y: Array) -> float: ...

    def gradient(self, p: Array, y: Array) -> Array: ...


@dataclass(frozen=True)
class SquaredErrorSum:
    """L = 1/2 * sum((p - y)**2) over all samples; dL/dp = p - y (the classic delta rule)."""

    name: str = "squared_error_sum"
    fused_activation: str | None = None
    summed: bool = True

    def value(self, p: Array, y: Array) -> float:
        d = p - y
        return float(0.5 * np.sum(d * d))

    def gradient(self, p: Array, y: Array) -> Array:
        return p - y


@dataclass(frozen=True)
class SquaredErrorMean:
    """L = 1/(2n) * sum((p - y)**2): the sum form averaged over n samples; dL/dp = (p - y) / n."""

    name: str = "squared_error_mean"
    fused_activation: str | None = None
    summed: bool = False

    def value(self, p: Array, y: Array) -> float:
        d = p - y
        return float(0.5 * np.sum(d * d) / max(len(p), 1))

    def gradient(self, p: Array, y: Array) -> Array:
        return (p - y) / p.dtype.type(len(p))


@dataclass(frozen=True)
class BinaryCrossEntropy:
    """L = -mean(y log p + (1 - y) log(1 - p)); dL/dp = (p - y) / (p (1 - p) n)."""

    name: str = "binary_cross_entropy"
    fused_activation: str | None = "sigmoid"
    summed: bool = False

    def value(self, p: Array, y: Array) -> float:
        q = _clip_probabilities(p)
        return float(-np.add.reduce(y * np.log(q) + (1 - y) * np.log(1 - q), axis=None) / len(q))

    def gradient(self, p: Array, y: Array) -> Array:
        q = _clip_probabilities(p)
        return (q - y) / (q * (1 - q) * q.dtype.type(len(q)))


@dataclass(frozen=True)
class SoftmaxCrossEntropy:
    """L = -mean(sum(y log p)) over one-hot rows; dL/dp = -y / (p n)."""

    name: str = "softmax_cross_entropy"
    fused_activation: str | None = "softmax"
    summed: bool = False

    def value(self, p: Array, y: Array) -> float:
        return float(-np.sum(y * np.log(_clip_probabilities(p))) / max(len(p), 1))

    def gradient(self, p: Array, y: Array) -> Array:
        return -y / (_clip_probabilities(p) * p.dtype.type(len(p)))


def fused_gradient(p: Array, y: Array) -> Array:
    """dL/dz for sigmoid + binary cross-entropy or softmax + softmax cross-entropy: (p - y) / n."""
    return (p - y) / p.dtype.type(len(p))


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (SquaredErrorSum(), SquaredErrorMean(), BinaryCrossEntropy(), SoftmaxCrossEntropy())
}
