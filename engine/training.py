"""One epoch of training: forward, loss, backward, update, and the precision counters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.network import Network
from engine.optim import Optimizer

Array = npt.NDArray[np.floating]


@dataclass(frozen=True)
class EpochStats:
    """What one epoch did."""

    epoch: int
    """1-based number of the epoch just trained."""
    train_loss: float
    """Loss of the forward passes of this epoch (before their updates): the sum of the batches'
    values for a summed loss, their size-weighted mean otherwise."""
    noop_updates: int
    """Parameter entries whose non-zero step left the stored value unchanged."""
    updates: int
    """Parameter entries updated (parameters x batches): the denominator of the no-op share."""
    underflow: int | None
    """Gradient entries that rounded to zero in the run's dtype though the same product of the
    same operands is non-zero in float64; None for float64 runs, which have no wider reference."""
    nonfinite: int
    """NaN or infinite values among outputs, gradients and parameters after the epoch."""
    blowup: str | None
    """Where the first non-finite value appeared (e.g. 'layer 1 output'), if any."""


def encode_targets(y: npt.NDArray[np.integer], network: Network) -> Array:
    """Integer labels as the output layer's targets: one-hot for softmax, else a 0/1 column."""
    out = network.layers[-1]
    if out.activation.name == "softmax":
        return np.eye(out.n_out, dtype=network.dtype)[y]
    return y.astype(network.dtype).reshape(-1, 1)


def count_nonfinite(*arrays: Array | None) -> int:
    return sum(int(a.size - np.count_nonzero(np.isfinite(a))) for a in arrays if a is not None)


def locate_blowup(network: Network) -> str | None:
    """Name the first place, in forward order, that holds a NaN or infinity."""
    for i, layer in enumerate(network.layers):
        for what, arr in (
            ("weights", layer.weight),
            ("bias", layer.bias),
            ("pre-activation", layer.z),
            ("output", layer.a),
        ):
            if arr is not None and not np.isfinite(arr).all():
                return f"layer {i} {what}"
    for i in range(len(network.layers) - 1, -1, -1):
        layer = network.layers[i]
        if not np.isfinite(layer.grad_weight).all():
            return f"layer {i} weight gradient"
    return None


class Trainer:
    """Trains a network on fixed data, full batch or in seeded mini-batches."""

    def __init__(
        self,
        network: Network,
        optimizer: Optimizer,
        x: Array,
        y: npt.NDArray[np.integer],
        batch_size: int | None,
        batch_rng: np.random.Generator,
    ) -> None:
        self.network = network
        self.optimizer = optimizer
        self.x = x.astype(network.dtype)
        self.targets = encode_targets(y, network)
        self.batch_size = batch_size if batch_size and batch_size < len(x) else None
        self.batch_rng = batch_rng
        self.epoch = 0
        self.track_underflow = network.dtype != np.float64
        self.input_transform: Callable[[Array, Array], Array] | None = None
        """Replaces each batch's inputs before its forward pass (adversarial training)."""
        self.gradient_hook: Callable[[Network], None] | None = None
        """Rewrites ``network.flat_grads`` after backward, before the update (DP-SGD)."""

    def state(self) -> dict[str, Any]:
        """The epoch count and the batch generator's state: what the next epoch draws from."""
        return {"epoch": self.epoch, "rng": self.batch_rng.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a ``state()``."""
        self.epoch = int(state["epoch"])
        self.batch_rng.bit_generator.state = state["rng"]

    def batches(self) -> list[tuple[Array, Array]]:
        """This epoch's (inputs, targets) batches; draws the order from the batch generator."""
        if self.batch_size is None:
            return [(self.x, self.targets)]
        order = self.batch_rng.permutation(len(self.x))
        return [
            (self.x[idx], self.targets[idx])
            for idx in np.array_split(order, range(self.batch_size, len(order), self.batch_size))
        ]

    def train_epoch(self) -> EpochStats:
        """Run one epoch and return its statistics."""
        net = self.network
        loss_sum = 0.0
        noop = underflow = 0
        batches = self.batches()
        for xb, yb in batches:
            if self.input_transform is not None:
                xb = self.input_transform(xb, yb)
            p = net.forward(xb)
            value = net.loss.value(p, yb)
            loss_sum += value if net.loss.summed else value * len(xb)
            net.backward(yb)
            if self.gradient_hook is not None:
                self.gradient_hook(net)
            if self.track_underflow:
                underflow += self._underflow()
            noop += self.optimizer.step(net.flat_grads)
        self.epoch += 1
        loss = loss_sum if net.loss.summed else loss_sum / len(self.x)
        nonfinite = 0
        blowup = None
        # One sum is finite exactly when every term is (barring overflow, which is checked too).
        if not (np.isfinite(loss) and np.isfinite(net.flat_params.sum())):
            last = net.layers[-1]
            nonfinite = count_nonfinite(net.flat_params, net.flat_grads, last.a)
            blowup = locate_blowup(net) or "loss"
            nonfinite = max(nonfinite, 1)
        return EpochStats(
            epoch=self.epoch,
            train_loss=loss,
            noop_updates=noop,
            updates=net.flat_params.size * len(batches),
            underflow=underflow if self.track_underflow else None,
            nonfinite=nonfinite,
            blowup=blowup,
        )

    def _underflow(self) -> int:
        count = 0
        for layer in self.network.layers:
            assert layer.x is not None and layer.grad_z is not None
            reference = layer.x.T.astype(np.float64) @ layer.grad_z.astype(np.float64)
            count += int(np.count_nonzero((layer.grad_weight == 0) & (reference != 0)))
            if layer.grad_bias is not None:
                ref_b = layer.grad_z.astype(np.float64).sum(axis=0)
                count += int(np.count_nonzero((layer.grad_bias == 0) & (ref_b != 0)))
        return count
