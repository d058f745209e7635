"""K models of one architecture trained in lock-step in one batched computation.

A population is K networks that share the model and training configuration, the dtype and the
data points; each member has its own initial weights and its own training labels (a poisoned
twin, say), and all of them see the same batches in the same order, like lock-step twins. The
members are stacked along a leading axis through the same hand-written layers, activations,
losses and optimiser as a single network (``engine.layers`` explains how a model's numbers come
out of the same NumPy routines either way), so member k ends every epoch with the same bytes
as an ``engine.run.Run`` of its own: same weights, same loss, same counters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.config import ModelConfig, TrainConfig
from engine.network import Network, build_network, stack_networks
from engine.optim import Optimizer
from engine.run import Data, Labels
from engine.training import Trainer, count_nonfinite, encode_targets, locate_blowup

Array = npt.NDArray[np.floating]
Weights = Sequence[tuple[Array, Array | None]]
Counts = npt.NDArray[np.intp]


@dataclass(frozen=True)
class PopulationStats:
    """What one epoch did, per member (index k of every array is member k)."""

    epoch: int
    """1-based number of the epoch just trained."""
    train_loss: npt.NDArray[np.float64]
    """Each member's loss of this epoch's forward passes, as ``EpochStats.train_loss``."""
    noop_updates: Counts
    """Each member's parameter entries whose non-zero step left the value unchanged."""
    updates: int
    """Parameter entries updated per member (parameters x batches)."""
    underflow: Counts | None
    """Each member's gradient entries lost to underflow; None for float64."""
    nonfinite: Counts
    """Each member's NaN or infinite values among outputs, gradients and parameters."""
    blowup: tuple[str | None, ...]
    """Per member, where its first non-finite value is (e.g. 'layer 1 output'), or None."""


class Population:
    """K models trained together; member k is bit for bit a ``Run`` of its own.

    Args:
        data: The points every member trains and is tested on.
        model: The shared architecture.
        train: The shared training configuration; its seed orders the batches.
        initial_weights: One ``[(weight, bias or None), ...]`` list per member (K lists).
        train_labels: One label vector per member (K vectors), or None for ``data.y_train``.
    """

    def __init__(
        self,
        data: Data,
        model: ModelConfig,
        train: TrainConfig,
        initial_weights: Sequence[Weights],
        train_labels: Sequence[Labels] | None = None,
    ) -> None:
        if not initial_weights:
            raise ValueError("a population needs at least one member")
        self.data = data
        self.model_config = model
        self.train_config = train
        members = []
        for weights in initial_weights:
            net = build_network(model, train.loss, data.n_classes, train.seed, train.dtype)
            net.set_weights(weights)
            members.append(net)
        self.network: Network = stack_networks(members)
        """The K members as one network with stacked layers (weights ``(K, n_in, n_out)``)."""
        self.optimizer = Optimizer(train, self.network.flat_params, self.network.is_weight)
        labels = np.stack(
            [data.y_train] * len(members) if train_labels is None else list(train_labels)
        )
        if labels.shape != (len(members), len(data.y_train)):
            raise ValueError(
                f"train_labels: expected {len(members)} vectors of {len(data.y_train)} labels "
                f"(got shape {labels.shape})"
            )
        self.trainer = Trainer(
            self.network,
            self.optimizer,
            data.x_train,
            labels,
            train.batch_size,
            np.random.default_rng([train.seed, 1]),
        )
        self.train_labels: Labels = labels
        """(K, n) training labels, one row per member."""
        self.last: PopulationStats | None = None

    @classmethod
    def from_seeds(
        cls, data: Data, model: ModelConfig, train: TrainConfig, seeds: Sequence[int]
    ) -> Population:
        """Members whose initial weights are drawn from the given seeds, one member per seed.

        Member k starts where ``Run(data, model, train)`` with ``train.seed = seeds[k]`` starts;
        all members share ``train.seed``'s batch order.
        """
        weights = [
            build_network(model, train.loss, data.n_classes, seed, train.dtype).weights()
            for seed in seeds
        ]
        return cls(data, model, train, weights)

    @property
    def size(self) -> int:
        """K, the number of members."""
        return int(self.network.lead[0])

    @property
    def epoch(self) -> int:
        return self.trainer.epoch

    def step(self) -> PopulationStats:
        """Train every member one epoch.

        Overflow to inf and the NaN that follows are results here, counted and located per
        member, so NumPy's warnings about them are silenced.
        """
        with np.errstate(all="ignore"):
            self.last = self._step()
            return self.last

    def _step(self) -> PopulationStats:
        # The bookkeeping of Trainer.train_epoch, with one number per member where it has one.
        trainer = self.trainer
        net = self.network
        loss = net.loss
        optimizer = self.optimizer
        batches = trainer.batches()
        weighted = len(batches) > 1 and not loss.summed
        total: npt.NDArray[np.float64] | float = 0.0
        noop: Counts | int = 0
        underflow: Counts | int = 0
        for xb, yb in batches:
            value = loss.values(net.forward(xb), yb).astype(np.float64)
            total = total + (value * xb.shape[-2] if weighted else value)
            net.backward(yb)
            if trainer.track_underflow:
                underflow = underflow + trainer.count_underflow()
            noop = noop + optimizer.step(net.flat_grads)
        trainer.epoch += 1
        train_loss = np.asarray(total / len(trainer.x) if weighted else total)
        nonfinite = np.zeros(self.size, dtype=np.intp)
        blowup: list[str | None] = [None] * self.size
        if not (optimizer.finite and np.isfinite(train_loss).all()):
            finite_params = np.isfinite(net.flat_params).all(axis=-1)
            outputs = net.layers[-1].a
            assert outputs is not None
            for k in np.flatnonzero(~(finite_params & np.isfinite(train_loss))):
                member = (int(k),)
                found = count_nonfinite(
                    net.flat_params[member], net.flat_grads[member], outputs[member]
                )
                nonfinite[k] = max(found, 1)
                blowup[k] = locate_blowup(net, member) or "loss"
        return PopulationStats(
            epoch=trainer.epoch,
            train_loss=train_loss,
            noop_updates=np.asarray(noop),
            updates=net.flat_params.shape[-1] * len(batches),
            underflow=np.asarray(underflow) if trainer.track_underflow else None,
            nonfinite=nonfinite,
            blowup=tuple(blowup),
        )

    def set_train_labels(self, member: int, y: Labels) -> None:
        """Train member ``member`` from now on with labels y for the same points."""
        self.train_labels[member] = y
        self.trainer.targets[member] = encode_targets(y, self.network)

    def params(self, member: int) -> Array:
        """Member k's flat parameters, weights and biases layer by layer: a view, not a copy."""
        return self.network.flat_params[member]

    def weights(self, member: int) -> list[tuple[Array, Array | None]]:
        """Copies of member k's (weight, bias) per layer."""
        return [
            (w[member].copy(), None if b is None else b[member].copy())
            for w, b in self.network.weights()
        ]

    def predict(self, x: Array) -> Array:
        """Every member's outputs for the points x ``(n, 2)``: an array ``(K, n, outputs)``."""
        with np.errstate(all="ignore"):
            return self.network.predict(np.asarray(x).astype(self.network.dtype))
