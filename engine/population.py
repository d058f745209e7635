"""K models of one architecture trained in lock-step in one batched computation.

A population is K networks that share the model and training configuration, the dtype and the
data points; each member has its own initial weights and its own training labels (a poisoned
twin, say), and all of them see the same batches in the same order, like lock-step twins. The
members are stacked along a leading axis through the same hand-written layers, activations,
losses and optimiser as a single network (``engine.layers`` explains how a model's numbers come
out of the same NumPy routines either way), so member k ends every epoch with the same bytes
as an ``engine.run.Run`` of its own: same weights, same loss, same counters.

A ``MemberRun`` shows one member as a ``Run`` (its network reads the member's parameters, and
``Population.step_members`` records its history as ``Run.step`` would), so lock-step twins of
one architecture and dtype can train as a population and be read like any other run.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import cast

import numpy as np
import numpy.typing as npt

from engine.config import ModelConfig, TrainConfig
from engine.network import Network, build_network, stack_networks
from engine.optim import Optimizer
from engine.run import Data, Labels, Run, RunState
from engine.training import EpochStats, Trainer, count_nonfinite, encode_targets, locate_blowup

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

    def member(self, k: int) -> EpochStats:
        """Member k's share: the statistics a ``Run`` of its own reports for this epoch."""
        return EpochStats(
            self.epoch,
            float(self.train_loss[k]),
            int(self.noop_updates[k]),
            self.updates,
            None if self.underflow is None else int(self.underflow[k]),
            int(self.nonfinite[k]),
            self.blowup[k],
        )


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
        if train.dp is not None:
            raise ValueError("DP-SGD clips each model's own gradients: train it as a Run")
        self.data = data
        self.model_config = model
        self.train_config = train
        members = []
        for weights in initial_weights:
            net = build_network(
                model, train.loss, data.n_classes, train.seed, train.dtype, data.x_train.shape[1]
            )
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
        self.runs: list[MemberRun] = []
        """The members shown as runs (``MemberRun``), whose histories ``step_members`` keeps."""

    @classmethod
    def from_seeds(
        cls, data: Data, model: ModelConfig, train: TrainConfig, seeds: Sequence[int]
    ) -> Population:
        """Members whose initial weights are drawn from the given seeds, one member per seed.

        Member k starts where ``Run(data, model, train)`` with ``train.seed = seeds[k]`` starts;
        all members share ``train.seed``'s batch order.
        """
        n_inputs = data.x_train.shape[1]
        weights = [
            build_network(model, train.loss, data.n_classes, seed, train.dtype, n_inputs).weights()
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

    def step_members(self) -> PopulationStats:
        """Train every member one epoch, and record it in each ``MemberRun``'s history."""
        with np.errstate(all="ignore"):
            stats = self.last = self._step()
            outputs = self.network.layers[-1].a  # every member's outputs of this epoch's pass
            full_batch = self.trainer.batch_size is None
            for run in self.runs:
                k = run.member
                if full_batch and outputs is not None:
                    p_train = outputs[k]
                else:
                    p_train = run.network.predict(run.trainer.x)
                run.record(stats.member(k), p_train)
            return stats

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

    def set_points(self, data: Data) -> None:
        """Train every member from now on on these points and labels (an edit of the data)."""
        self.data = data
        self.train_labels = np.stack([data.y_train] * self.size)
        self.trainer.set_points(data.x_train, self.train_labels)
        self._fit_batch_size()

    def set_train_config(self, train: TrainConfig) -> None:
        """Train every member on with another learning rate, optimiser, penalty or batch
        size, as ``Run.set_train_config`` does for one run."""
        if train == self.train_config:
            return
        if train.dp is not None:
            raise ValueError("DP-SGD clips each model's own gradients: train it as a Run")
        old = self.optimizer
        self.train_config = train
        self.optimizer = Optimizer(train, self.network.flat_params, self.network.is_weight)
        saved = old.state()
        if train.optimizer != old.config.optimizer:
            saved = {"master": saved["master"], "t": 0}
        self.optimizer.set_state(saved)
        self.trainer.optimizer = self.optimizer
        self._fit_batch_size()

    def _fit_batch_size(self) -> None:
        size = self.train_config.batch_size
        self.trainer.batch_size = size if size and size < len(self.trainer.x) else None

    def params(self, member: int) -> Array:
        """Member k's flat parameters, weights and biases layer by layer: a view, not a copy."""
        return self.network.flat_params[member]

    def weights(self, member: int) -> list[tuple[Array, Array | None]]:
        """Copies of member k's (weight, bias) per layer."""
        return [
            (w[member].copy(), None if b is None else b[member].copy())
            for w, b in self.network.weights()
        ]

    def frozen(self) -> Population:
        """A copy to read from another thread while this population trains on."""
        twin = copy.copy(self)
        twin.network = self.network.copy()
        return twin

    def predict(self, x: Array) -> Array:
        """Every member's outputs for the points x ``(n, 2)``: an array ``(K, n, outputs)``."""
        with np.errstate(all="ignore"):
            return self.network.predict(np.asarray(x).astype(self.network.dtype))


def same_points(a: Data, b: Data) -> bool:
    """Whether two data sets have the same points (their training labels may differ)."""
    if a is b:
        return True
    return (
        (a.x_train is b.x_train or np.array_equal(a.x_train, b.x_train))
        and (a.x_test is b.x_test or np.array_equal(a.x_test, b.x_test))
        and (a.y_test is b.y_test or np.array_equal(a.y_test, b.y_test))
    )


class MemberRun(Run):
    """Member k of a population, read and changed as a ``Run``.

    While in the population its network's parameters and gradients are views of the
    population's, and ``Population.step_members`` trains it and records what ``Run.step``
    would record; it cannot step alone. Changes made to the run reach its population: new
    labels for this member, and new points or a new training configuration for every member
    (the session makes such changes to all its runs alike); ``state`` and ``set_state`` read
    and restore this member's share. ``leave`` turns it into a run of its own, from exactly
    where it is.

    Args:
        population: The population (the run registers itself in ``population.runs``).
        member: Its index k.
    """

    def __init__(self, population: Population, member: int) -> None:
        p = population
        self.population: Population | None = None
        """The population it trains in; None once it has left."""
        super().__init__(p.data, p.model_config, p.train_config, p.weights(member))
        self.member = member
        net = self.network
        self._own = (net.flat_params, net.flat_grads, self.optimizer, self.trainer.batch_rng)
        net.bind_member(p.network, member)
        self.trainer.batch_rng = p.trainer.batch_rng  # one batch order for all members
        self.trainer.epoch = p.epoch
        self.population = p
        if not np.array_equal(p.train_labels[member], p.data.y_train):
            Run.set_data(self, Data(p.data.x_train, p.train_labels[member].copy(),
                                    p.data.x_test, p.data.y_test))  # fmt: skip
        p.runs.append(self)

    @property
    def optimizer(self) -> Optimizer:
        """The population's optimiser while in it (this member's rows), else its own."""
        return self.population.optimizer if self.population is not None else self._optimizer

    @optimizer.setter
    def optimizer(self, value: Optimizer) -> None:
        self._optimizer = value

    def step(self) -> EpochStats:
        if self.population is not None:
            raise RuntimeError("a population's member trains with it (or leaves it first)")
        return super().step()

    def record(self, stats: EpochStats, p_train: Array) -> EpochStats:
        self.trainer.epoch = stats.epoch
        return super().record(stats, p_train)

    def leave(self) -> None:
        """Train alone from now on, from exactly where the population has this member: its
        parameters, optimiser state and batch order carry over."""
        p = self.population
        if p is None:
            return
        k = self.member
        net = self.network
        params, grads, optimizer, rng = self._own
        params[...] = net.flat_params
        grads[...] = net.flat_grads
        net.bind_flat(params, grads)
        optimizer.set_state(p.optimizer.state(k))
        rng.bit_generator.state = p.trainer.batch_rng.bit_generator.state
        self.trainer.batch_rng = rng
        p.runs.remove(self)
        self.population = None
        self.optimizer = self.trainer.optimizer = optimizer

    def frozen(self) -> MemberRun:
        twin = cast(MemberRun, super().frozen())
        if self.population is not None:
            twin.population = self.population.frozen()
        return twin

    def state(self) -> RunState:
        state = super().state()
        if self.population is None:
            return state
        return replace(state, optimizer=self.population.optimizer.state(self.member))

    def set_state(self, state: RunState) -> None:
        p = self.population
        if p is None:
            return super().set_state(state)
        if state.train != self.train_config:
            self.set_train_config(state.train)
        if state.data is not self.data:
            self.set_data(state.data)
        self.network.flat_params[...] = state.params
        p.optimizer.set_state(state.optimizer, self.member)
        self.trainer.set_state(state.trainer)  # the shared batch order, and the epoch
        p.trainer.epoch = self.trainer.epoch
        self.last, self.latest = state.last, state.latest
        self.noop_total, self.blowup = state.noop_total, state.blowup
        self.underflow_total = state.underflow_total
        return None

    def set_train_config(self, train: TrainConfig) -> None:
        p = self.population
        if p is None:
            return super().set_train_config(train)
        if train.dp is not None:  # DP-SGD clips each model's own gradients
            self.leave()
            return super().set_train_config(train)
        p.set_train_config(train)
        self.train_config = train
        self.trainer.batch_size = p.trainer.batch_size
        return None

    def set_data(self, data: Data) -> None:
        p = self.population
        if p is not None:
            if not same_points(data, p.data):
                p.set_points(data)
            p.set_train_labels(self.member, data.y_train)
        super().set_data(data)

    def set_train_data(self, x: npt.NDArray[np.float64], y: Labels) -> None:
        self.leave()  # the members of a population train on the same points
        super().set_train_data(x, y)

    def sync_master(self) -> None:
        if self.population is None:
            return super().sync_master()
        return self.population.optimizer.sync_master(self.member)
