"""Gradient leakage: the training inputs read back from the gradient a client shares.

The baseline at its current weights plays the shared model; one training point (and then a
batch of them) plays the client's private data. The panel shows what comes back: the exact
point from one example's gradient, mixtures from a batch's, what a gradient-matching search
finds, and how clipping and noise (the DP-SGD defence) spoil the exact recovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.attacks.leakage import (
    defend,
    flatten,
    gradient_match,
    matched_error,
    recover,
    shared_gradient,
)
from engine.experiments.cache import cached
from engine.experiments.common import number_key
from engine.experiments.view import ExperimentView, Figure, Mark, Series, number
from engine.scenario import LeakageConfig

if TYPE_CHECKING:
    from engine.session import Session

METRICS = {
    "leakage.single.error": "distance from the shared example to the input read off its "
    "gradient (dW0 row / db0)",
    "leakage.single.label_correct": "1 when the label read off the output bias's gradient is "
    "the example's, else 0",
    "leakage.batch.exact": "batch points some unit's ratio returns to within 1e-6",
    "leakage.batch.error": "mean distance from each batch point to the nearest ratio",
    "leakage.dlg.error": "distance from the example to what the gradient-matching search finds",
    "leakage.dlg.batch_error": "mean distance from each batch point to the nearest input the "
    "search finds for the batch",
    "leakage.noisy.error.s<S>": "the single-example error when the gradient is clipped to "
    "`clip` and gets noise of std S * clip (s0_001 for 0.001)",
}


@dataclass(frozen=True)
class Leak:
    example: npt.NDArray[np.float64]
    recovered: npt.NDArray[np.float64] | None
    label: int
    label_read: int | None
    batch: npt.NDArray[np.float64]
    mixtures: npt.NDArray[np.float64]
    dlg: npt.NDArray[np.float64]
    dlg_batch: npt.NDArray[np.float64]
    noisy: tuple[float, ...]


def batch_indices(n: int, config: LeakageConfig) -> npt.NDArray[np.int64]:
    """The shared batch: the example, then ``batch - 1`` other training points (seeded)."""
    others = np.delete(np.arange(n), config.example)
    chosen = np.random.default_rng(config.seed).permutation(others)[: config.batch - 1]
    return np.concatenate([[config.example], chosen]).astype(np.int64)


def _measure(session: Session) -> Leak:
    config = session.scenario.experiments.leakage
    assert config is not None
    net = session.baseline.network
    d = session.data
    i = min(config.example, len(d.y_train) - 1)
    x, y = d.x_train[i : i + 1], d.y_train[i : i + 1]
    gradient = shared_gradient(net, x, y)
    single = recover(gradient)
    batch = batch_indices(len(d.y_train), config)
    mixtures = recover(shared_gradient(net, d.x_train[batch], d.y_train[batch])).points
    rng = np.random.default_rng(config.seed)
    low, high = d.x_train.min(axis=0), d.x_train.max(axis=0)
    dims = x.shape[1]
    evaluations = config.iterations
    starts = rng.uniform(low, high, size=(config.restarts, dims))
    dlg, _ = gradient_match(net, flatten(gradient), y, starts=starts, evaluations=evaluations)
    k = len(batch)
    batch_starts = rng.uniform(np.tile(low, k), np.tile(high, k), size=(config.restarts, k * dims))
    target = flatten(shared_gradient(net, d.x_train[batch], d.y_train[batch]))
    dlg_batch, _ = gradient_match(
        net, target, d.y_train[batch], starts=batch_starts, evaluations=evaluations * k
    )
    noisy = []
    for sigma in config.sigmas:
        got = recover(defend(gradient, config.clip, sigma, np.random.default_rng(config.seed)))
        noisy.append(float("nan") if got.best is None else float(np.linalg.norm(got.best - x[0])))
    return Leak(
        x[0], single.best, int(y[0]), single.label, d.x_train[batch], mixtures, dlg[0],
        dlg_batch, tuple(noisy),
    )  # fmt: skip


def view(session: Session) -> ExperimentView:
    """The leakage panel: the point read off its gradient, mixtures, DLG, and the defence."""
    config = session.scenario.experiments.leakage
    assert config is not None
    leak = cached(session, "leakage", _measure)
    error = (
        float("nan")
        if leak.recovered is None
        else float(np.linalg.norm(leak.recovered - leak.example))
    )
    right = float(leak.label_read == leak.label) if leak.label_read is not None else float("nan")
    verdict = "--" if leak.label_read is None else f"class {leak.label_read}"
    verdict += "" if leak.label_read is None else (" (right)" if right else " (wrong)")
    nearest = np.linalg.norm(leak.batch[:, None, :] - leak.mixtures[None, :, :], axis=2)
    nearest = nearest.min(axis=1) if leak.mixtures.size else np.full(len(leak.batch), np.nan)
    exact = int(np.count_nonzero(nearest < 1e-6))
    dlg_error = float(np.linalg.norm(leak.dlg - leak.example))
    dlg_batch = matched_error(leak.batch, leak.dlg_batch)
    k = len(leak.batch)
    figures = [
        Figure("leakage.single.error", "one example", error, number(error, ".2e"),
               "distance between the shared point and the input read off its gradient"),
        Figure("leakage.single.label_correct", "label read", right,
               verdict,
               "the label, read off the sign of the output bias's gradient"),
        Figure("leakage.batch.exact", f"batch of {k}", float(exact), f"{exact} of {k} exact",
               "batch points some hidden unit returns exactly (it fired for that point alone)"),
        Figure("leakage.batch.error", "batch error", float(np.mean(nearest)),
               number(float(np.mean(nearest)), ".3g"),
               "mean distance from a batch point to the nearest returned mixture", shown=False),
        Figure("leakage.dlg.error", "gradient match", dlg_error, number(dlg_error, ".2e"),
               "distance to the input whose gradient matches (Nelder-Mead, no bias needed)"),
        Figure("leakage.dlg.batch_error", "match, batch", dlg_batch, number(dlg_batch, ".3g"),
               f"mean distance from the {k} batch points to the inputs the search finds"),
    ]  # fmt: skip
    for sigma, value in zip(config.sigmas, leak.noisy, strict=True):
        figures.append(
            Figure(f"leakage.noisy.error.s{number_key(sigma)}", f"noise sigma {sigma:g}", value,
                   number(value, ".2e"),
                   f"one-example error with the gradient clipped to {config.clip:g} and noise "
                   f"of std {sigma:g} x {config.clip:g}", shown=sigma > 0)
        )  # fmt: skip
    sigmas = np.array(config.sigmas, dtype=np.float64)
    positive = sigmas > 0
    series: tuple[Series, ...] = ()
    if positive.sum() >= 2:
        series = (
            Series("recovery error", np.log10(sigmas[positive]),
                   np.array(leak.noisy)[positive], log=True, x_label="log10 sigma"),
        )  # fmt: skip
    marks = [Mark("target", float(p[0]), float(p[1]), "batch point") for p in leak.batch[1:]]
    marks += [Mark("cross", float(p[0]), float(p[1]), "mixture") for p in leak.mixtures]
    marks.append(Mark("target", float(leak.example[0]), float(leak.example[1]), "shared point"))
    if leak.recovered is not None:
        marks.append(Mark("cross", float(leak.recovered[0]), float(leak.recovered[1]), "read"))
    headline = (
        f"one shared gradient returns its point (error {number(error, '.1e')}) and its label "
        f"{'right' if right else 'wrong'} · batch of {k}: {exact} exact"
    )
    return ExperimentView(
        name="leakage",
        title="Gradient leakage",
        headline=headline,
        figures=tuple(figures),
        series=series,
        marks=tuple(marks),
        notes=(
            "The client shares the gradient of its loss on one training point (◎); dividing a "
            "row of the first layer's weight gradient by that unit's bias gradient gives the "
            "point back (✚). For a batch each unit returns a weighted mixture of the points it "
            "fired for. The search needs no bias: it looks for inputs whose gradient matches.",
            f"Defence: the gradient clipped to norm {config.clip:g} and Gaussian noise added; "
            "the curve is the recovery error against the noise's sigma.",
        ),
    )
