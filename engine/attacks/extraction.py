"""Model extraction: a copy trained from the answers of the original.

The attacker never sees the weights. It chooses inputs (at random over the plane, on a grid,
or near the boundary its own copy draws so far), asks the victim, and sees either the class
or the probabilities. It then fits a network of its own choosing to those answers (Tramer et
al., 2016). Fidelity is how often the copy agrees with the victim: on the test points and on
a grid of the plane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt

from engine.config import LossName, ModelConfig, OutputActivation, TrainConfig
from engine.metrics import Extent, grid_points, plane_inputs, predicted_classes
from engine.network import Network, build_network
from engine.optim import Optimizer
from engine.scenario import ExtractionConfig
from engine.training import Trainer, encode_targets

Floats = npt.NDArray[np.float64]

LOSS_FOR_OUTPUT = {
    "sigmoid": "binary_cross_entropy",
    "softmax": "softmax_cross_entropy",
    "linear": "squared_error_mean",
}
BOUNDARY_ROUNDS = 3
"""Rounds of boundary-seeking queries after the first random half."""
CANDIDATES = 20
"""Candidate points sampled per query a boundary-seeking round makes."""


def ask(victim: Network, x: Floats, access: str) -> Floats:
    """The victim's answers: its outputs, or its classes encoded as its training targets."""
    with np.errstate(all="ignore"):
        p = victim.predict(plane_inputs(x, victim.layers[0].n_in).astype(victim.dtype))
    if access == "probabilities":
        return p.astype(np.float64)
    return encode_targets(predicted_classes(p), victim).astype(np.float64)


def fit(
    victim: Network, x: Floats, answers: Floats, config: ExtractionConfig, seed: int
) -> Network:
    """The attacker's copy: its own architecture, fitted to the answers with full-batch Adam."""
    out = victim.layers[-1]
    model = ModelConfig(
        hidden=config.hidden,
        activation=config.activation,
        output=cast(OutputActivation, out.activation.name),
    )
    n_classes = max(out.n_out, 2)
    copy = build_network(
        model, LOSS_FOR_OUTPUT[model.output], n_classes, seed, "float64", x.shape[1]
    )
    train = TrainConfig(
        loss=cast(LossName, LOSS_FOR_OUTPUT[model.output]),
        optimizer="adam",
        learning_rate=config.learning_rate,
        epochs=config.epochs,
    )
    optimizer = Optimizer(train, copy.flat_params, copy.is_weight)
    labels = np.zeros(len(x), dtype=np.int64)
    trainer = Trainer(copy, optimizer, x, labels, None, np.random.default_rng(seed))
    trainer.targets = answers.astype(copy.dtype)
    with np.errstate(all="ignore"):
        for _ in range(config.epochs):
            trainer.train_epoch()
    return copy


def agreement(a: Network, b: Network, x: Floats) -> float:
    """Share of the points where the two networks predict the same class."""
    if not len(x):
        return float("nan")
    with np.errstate(all="ignore"):
        ca = predicted_classes(a.predict(plane_inputs(x, a.layers[0].n_in).astype(a.dtype)))
        cb = predicted_classes(b.predict(plane_inputs(x, b.layers[0].n_in).astype(b.dtype)))
    return float(np.mean(ca == cb))


def queries(
    victim: Network,
    budget: int,
    extent: Extent,
    config: ExtractionConfig,
    rng: np.random.Generator,
) -> Floats:
    """Where the attacker asks, ``budget`` points of the plane."""
    low = np.array([extent.x_min, extent.y_min])
    high = np.array([extent.x_max, extent.y_max])
    if config.strategy == "grid":
        side = max(2, math.isqrt(budget))
        return grid_points(extent, side, side)[:budget].astype(np.float64)
    if config.strategy == "random":
        return rng.uniform(low, high, size=(budget, 2))
    # boundary: half at random, then rounds that ask where the copy so far is least sure.
    x = rng.uniform(low, high, size=(budget - budget // 2, 2))
    left = budget - len(x)
    for r in range(BOUNDARY_ROUNDS):
        take = left // (BOUNDARY_ROUNDS - r)
        if take <= 0:
            continue
        copy = fit(victim, x, ask(victim, x, config.access), config, config.seed + r)
        pool = rng.uniform(low, high, size=(take * CANDIDATES, 2))
        with np.errstate(all="ignore"):
            p = copy.predict(pool)
        margin = np.abs(p[:, 0] - 0.5) if p.shape[1] == 1 else -np.sort(p, axis=1)[:, -2]
        x = np.vstack([x, pool[np.argsort(margin, kind="stable")[:take]]])
        left -= take
    return x


@dataclass(frozen=True)
class Extraction:
    """One budget's copy and how well it agrees with the victim."""

    budget: int
    queries: Floats
    copy: Network
    test_fidelity: float
    grid_fidelity: float


def extract(
    victim: Network, budget: int, extent: Extent, test: Floats, cells: int, config: ExtractionConfig
) -> Extraction:
    """Query, fit and measure one copy."""
    rng = np.random.default_rng([config.seed, budget])
    x = queries(victim, budget, extent, config, rng)
    copy = fit(victim, x, ask(victim, x, config.access), config, config.seed)
    grid = grid_points(extent, cells, cells).astype(np.float64)
    return Extraction(budget, x, copy, agreement(victim, copy, test), agreement(victim, copy, grid))
