"""Membership inference against an overfit run, a regularised twin and a DP-SGD twin.

Members are the training points, non-members the held-out test points. Each run is attacked
with its own losses (the loss-threshold attack) and its own confidences; a DP-SGD run also
states its privacy budget epsilon at its delta, from the ``dp-accounting`` library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.attacks.membership import advantage, auc, example_confidences, example_losses, roc
from engine.experiments.cache import cached
from engine.experiments.common import run_figures
from engine.experiments.view import ExperimentView, Figure, Series, Table, number, percent

if TYPE_CHECKING:
    from engine.session import Session

METRICS = {
    "membership.<run>.auc": "area under the ROC of the loss-threshold attack on that run "
    "(<run>: overfit, regularised, dp); 0.5 is guessing",
    "membership.<run>.advantage": "max |TPR - FPR| of the loss-threshold attack",
    "membership.<run>.confidence_auc": "area under the ROC of the confidence-threshold attack",
    "membership.<run>.gap": "training accuracy minus test accuracy",
    "membership.<run>.test_accuracy": "test accuracy of that run",
    "membership.dp.epsilon": "privacy budget epsilon of the DP-SGD run so far, at its delta",
    "membership.dp.clipped": "share of per-example gradients the DP-SGD run has clipped",
}


@dataclass(frozen=True)
class RunResult:
    key: str
    label: str
    auc: float
    advantage: float
    confidence_auc: float
    fpr: np.ndarray
    tpr: np.ndarray
    train_accuracy: float
    test_accuracy: float


def _measure(session: Session) -> list[RunResult]:
    d = session.data
    out = []
    for slot in session.slots:
        net = slot.run.network
        member, other = (
            example_losses(net, d.x_train, d.y_train),
            example_losses(net, d.x_test, d.y_test),
        )
        fpr, tpr = roc(-member, -other)
        conf = auc(example_confidences(net, d.x_train), example_confidences(net, d.x_test))
        f = run_figures(slot.run)
        out.append(
            RunResult(slot.key, slot.label, auc(-member, -other), advantage(fpr, tpr), conf,
                      fpr, tpr, f["train.accuracy"], f["test.accuracy"])
        )  # fmt: skip
    return out


def view(session: Session) -> ExperimentView:
    """The membership panel: per run, how well its losses give its training points away."""
    results = cached(session, "membership", _measure)
    figures: list[Figure] = []
    rows = []
    for r in results:
        p = f"membership.{r.key}"
        gap = r.train_accuracy - r.test_accuracy
        figures += [
            Figure(f"{p}.auc", f"{r.key}: AUC", r.auc, number(r.auc, ".3f"),
                   "area under the ROC of the loss-threshold attack (0.5: guessing)"),
            Figure(f"{p}.advantage", f"{r.key}: advantage", r.advantage, percent(r.advantage),
                   "best |true-positive rate - false-positive rate| over thresholds"),
            Figure(f"{p}.confidence_auc", f"{r.key}: conf. AUC", r.confidence_auc,
                   number(r.confidence_auc, ".3f"),
                   "the same area when the attacker thresholds the top probability", shown=False),
            Figure(f"{p}.gap", f"{r.key}: gap", gap, f"{gap * 100:+.1f} pts",
                   "training accuracy minus test accuracy", shown=False),
            Figure(f"{p}.test_accuracy", f"{r.key}: test acc", r.test_accuracy,
                   percent(r.test_accuracy), "test accuracy", shown=False),
        ]  # fmt: skip
        rows.append((r.label, percent(r.train_accuracy), percent(r.test_accuracy),
                     number(r.auc, ".2f"), percent(r.advantage, 0)))  # fmt: skip
    notes = [
        f"Members are the {len(session.data.y_train)} training points, non-members the "
        f"{len(session.data.y_test)} held-out ones. The attacker calls a point a member when "
        "its loss is below a threshold; the curve sweeps every threshold (the diagonal is "
        "guessing)."
    ]
    dp_run = session.run_named("dp")
    if dp_run is not None and dp_run.dp is not None and dp_run.train_config.dp is not None:
        eps = dp_run.privacy_epsilon()
        delta = dp_run.train_config.dp.delta
        clipped = dp_run.dp.clipped_share
        figures += [
            Figure("membership.dp.epsilon", "dp: epsilon", eps, number(eps, ".3g"),
                   f"privacy budget spent so far at delta {delta:g} (dp-accounting, RDP)"),
            Figure("membership.dp.clipped", "dp: clipped", clipped, percent(clipped),
                   "share of per-example gradients clipped to the norm C", shown=False),
        ]  # fmt: skip
        rate = "full batch" if dp_run.trainer.batch_size is None else "Poisson sampling assumed"
        notes.append(
            f"The DP-SGD run has spent epsilon = {number(eps, '.3g')} at delta = {delta:g} "
            f"after {dp_run.epoch * dp_run.steps_per_epoch:,} noisy steps ({rate}), as "
            "computed by Google's dp-accounting (Renyi DP accountant)."
        )
    diagonal = np.array([0.0, 1.0])
    series = (
        *(Series(r.key, r.fpr, r.tpr, x_label="false-positive rate") for r in results),
        Series("guess", diagonal, diagonal, x_label="false-positive rate"),
    )
    first = results[0]
    headline = (
        f"{first.key}: AUC {number(first.auc, '.2f')}, advantage {percent(first.advantage, 0)}"
    )
    for r in results[1:]:
        headline += f" · {r.key}: AUC {number(r.auc, '.2f')}"
    return ExperimentView(
        name="membership",
        title="Membership inference",
        headline=headline,
        figures=tuple(figures),
        series=series,
        table=Table(("run", "train", "test", "AUC", "adv"), tuple(rows)),
        notes=tuple(notes),
    )
