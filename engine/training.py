"""One epoch of training: forward, loss, backward, update, and the precision counters.

The network may hold K stacked models: ``engine.population`` runs the same steps on them and
keeps one number per model where this loop keeps one number (in Python floats, which are
quicker to add up for a single model).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from engine.arrays import batch_array
from engine.layers import with_ones_column
from engine.network import Network
from engine.optim import Optimizer

Array = npt.NDArray[np.floating]
Counts = npt.NDArray[np.intp]


class EpochStats(NamedTuple):
    """What one epoch did (immutable; a named tuple because it is made every epoch)."""

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
    """Integer labels as the output layer's targets: one-hot for softmax, else a 0/1 column.

    Labels ``(…, n)`` give targets ``(…, n, outputs)``, stored column by column like the
    layers' batch arrays.
    """
    out = network.layers[-1]
    dtype = network.dtype
    targets = batch_array(y.shape[:-1], y.shape[-1], out.n_out, dtype)
    if out.activation.name == "softmax":
        targets[...] = np.eye(out.n_out, dtype=dtype)[y]
    else:
        targets[..., 0] = y
    return targets


def count_nonfinite(*arrays: Array | None) -> int:
    return sum(int(a.size - np.count_nonzero(np.isfinite(a))) for a in arrays if a is not None)


def locate_blowup(network: Network, model: tuple[int, ...] = ()) -> str | None:
    """Name the first place, in forward order, that holds a NaN or infinity.

    Args:
        network: The network.
        model: Index of one stacked model, e.g. ``(3,)``; ``()`` for an unstacked network.
    """
    for i, layer in enumerate(network.layers):
        for what, arr in (
            ("weights", layer.weight),
            ("bias", layer.bias),
            ("pre-activation", layer.z),
            ("output", layer.a),
        ):
            if arr is not None and not np.isfinite(arr[model]).all():
                return f"layer {i} {what}"
    for i in range(len(network.layers) - 1, -1, -1):
        layer = network.layers[i]
        if not np.isfinite(layer.grad_weight[model]).all():
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
        self.x_ext = with_ones_column(self.x)
        """``[x 1]``: the inputs as the first layer reads them."""
        self.targets = encode_targets(y, network)
        self.batch_size = batch_size if batch_size and batch_size < len(x) else None
        self.batch_rng = batch_rng
        self.epoch = 0
        self.track_underflow = network.dtype != np.float64
        self._parameter_count = network.flat_params.shape[-1]
        self.input_transform: Callable[[Array, Array], Array] | None = None
        """Replaces each batch's inputs x (without the ones column) before its forward pass
        (adversarial training)."""
        self.gradient_hook: Callable[[Network], None] | None = None
        """Rewrites ``network.flat_grads`` after backward, before the update (DP-SGD)."""

    def state(self) -> dict[str, Any]:
        """The epoch count and the batch generator's state: what the next epoch draws from."""
        return {"epoch": self.epoch, "rng": self.batch_rng.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a ``state()``."""
        self.epoch = int(state["epoch"])
        self.batch_rng.bit_generator.state = state["rng"]

    def set_points(self, x: Array, y: npt.NDArray[np.integer]) -> None:
        """Train from now on on other points and labels (a clean set to fine-tune on)."""
        self.x = x.astype(self.network.dtype)
        self.x_ext = with_ones_column(self.x)
        self.targets = encode_targets(y, self.network)
        self.batch_size = self.batch_size if self.batch_size and self.batch_size < len(x) else None

    @property
    def targets(self) -> Array:
        """``(…, n, outputs)``; set it to train on other labels (see ``encode_targets``)."""
        return self._targets

    @targets.setter
    def targets(self, targets: Array) -> None:
        self._targets = targets
        self._full_batch = [(self.x_ext, targets)]

    def batches(self) -> list[tuple[Array, Array]]:
        """This epoch's ([x 1], targets) batches; draws the order from the batch generator."""
        if self.batch_size is None:
            return self._full_batch
        order = self.batch_rng.permutation(len(self.x))
        # Gathering columns of the transposed arrays keeps every batch stored like the layers'
        # arrays (see engine.arrays.batch_array).
        x_cols, target_cols = self.x_ext.swapaxes(-1, -2), self.targets.swapaxes(-1, -2)
        return [
            (x_cols[..., idx].swapaxes(-1, -2), target_cols[..., idx].swapaxes(-1, -2))
            for idx in np.array_split(order, range(self.batch_size, len(order), self.batch_size))
        ]

    def train_epoch(self) -> EpochStats:
        """Run one epoch and return its statistics."""
        net = self.network
        loss = net.loss
        optimizer = self.optimizer
        batches = self.batches()
        weighted = len(batches) > 1 and not loss.summed
        total = 0.0
        noop: int | Counts = 0
        underflow = 0
        for xb, yb in batches:
            if self.input_transform is not None:
                xb = with_ones_column(self.input_transform(xb[..., :-1], yb))
            value = float(loss.values(net.forward(xb), yb))
            total += value * xb.shape[-2] if weighted else value
            net.backward(yb)
            if self.gradient_hook is not None:
                self.gradient_hook(net)
            if self.track_underflow:
                underflow += int(self.count_underflow())
            noop += optimizer.step(net.flat_grads)
        self.epoch += 1
        train_loss = total / len(self.x) if weighted else total
        updates = self._parameter_count * len(batches)
        if optimizer.finite and math.isfinite(train_loss):
            nonfinite, blowup = 0, None
        else:
            last = net.layers[-1]
            nonfinite = max(count_nonfinite(net.flat_params, net.flat_grads, last.a), 1)
            blowup = locate_blowup(net) or "loss"
        return EpochStats(
            self.epoch,
            train_loss,
            int(noop),
            updates,
            underflow if self.track_underflow else None,
            nonfinite,
            blowup,
        )

    def count_underflow(self) -> Counts:
        """Gradient entries of the last backward pass that rounded to zero in the network's
        dtype though the same product of the same operands is non-zero in float64 (one count
        per stacked model)."""
        count: Counts = np.zeros(self.network.lead, dtype=np.intp)
        for layer in self.network.layers:
            assert layer.inputs is not None and layer.grad_z is not None
            # An entry can only be lost where the gradient is zero while neither its input
            # column nor its dL/dz column is all zeros (else the reference is zero too): in most
            # epochs there is no such entry, and the float64 reference is skipped.
            zero = layer.grads_block == 0
            if not zero.any():
                continue
            live_grads = np.logical_or.reduce(layer.grad_z, axis=-2, keepdims=True)
            zero &= live_grads
            if not zero.any():  # (a dead unit's zero gradients: its dL/dz column is all zeros)
                continue
            live_inputs = np.logical_or.reduce(layer.inputs, axis=-2, keepdims=True)
            if not (zero & live_inputs.swapaxes(-1, -2)).any():
                continue
            # [x 1].T @ dL/dz in float64: the weight and bias gradients' reference together.
            reference = np.matmul(
                layer.inputs.swapaxes(-1, -2).astype(np.float64),
                layer.grad_z.astype(np.float64),
            )
            lost = (layer.grads_block == 0) & (reference != 0)
            count = count + np.count_nonzero(lost, axis=(-2, -1))
        return np.asarray(count)
