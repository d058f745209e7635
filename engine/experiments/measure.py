"""Every metric of a session at one moment, and every experiment's view.

Metrics are flat dotted names -> float: what scenario expectations are checked against and
what reports print. Each experiment's metrics are the figures of its ``ExperimentView``, so
the panel, the summary and the checks read the same numbers. Metrics of an experiment exist
only when the session runs that experiment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.experiments import (
    backdoor,
    butterfly,
    evasion,
    extraction,
    leakage,
    membership,
    ood,
    poison,
    precision,
    side_channel,
    supply_chain,
)
from engine.experiments.common import run_figures
from engine.experiments.view import ExperimentView
from engine.metrics import confidence

if TYPE_CHECKING:
    from engine.session import Session
    from engine.snapshot import RunView

__all__ = ["METRICS", "base_metrics", "measure", "run_figures", "views"]

METRICS: dict[str, str] = {
    "epoch": "epochs trained so far",
    "train.loss": "baseline's loss on the training set with its current weights",
    "train.accuracy": "baseline's training accuracy with its current weights",
    "test.loss": "baseline's loss on the held-out test set (NaN when nothing is held out)",
    "test.accuracy": "baseline's test accuracy (NaN when nothing is held out)",
    "probe.<i>.output": "baseline's output at probe i (0-based, in file order): the sigmoid "
    "output, or the last class's probability for softmax",
    "probe.<i>.confidence": "probability of the predicted class at probe i: max(p, 1 - p) for "
    "a sigmoid output",
    "probe.<i>.class": "predicted class at probe i",
    **ood.METRICS,
    **poison.METRICS,
    **butterfly.METRICS,
    **precision.METRICS,
    **side_channel.METRICS,
    **evasion.METRICS,
    **membership.METRICS,
    **leakage.METRICS,
    **extraction.METRICS,
    **backdoor.METRICS,
    **supply_chain.METRICS,
}
"""Name pattern -> one-line meaning of every metric ``measure`` can report."""

EXPERIMENTS: dict[str, Callable[[Session], ExperimentView]] = {
    "ood": ood.view,
    "poison": poison.view,
    "butterfly": butterfly.view,
    "precision": precision.view,
    "side_channel": side_channel.view,
    "evasion": evasion.view,
    "membership": membership.view,
    "leakage": leakage.view,
    "extraction": extraction.view,
    "backdoor": backdoor.view,
    "supply_chain": supply_chain.view,
}
"""Experiment key (its `[experiments.*]` table) -> the function that measures it."""


TRACES: dict[str, Callable[[Session], dict[str, float]]] = {
    "backdoor": backdoor.trace,
}
"""Experiment key -> the cheap figures it records while training (``Session.traces``)."""


def traces(session: Session) -> dict[str, float]:
    """The traced figures of every experiment the session runs, now."""
    ex = session.scenario.experiments
    out: dict[str, float] = {}
    for key, trace in TRACES.items():
        if getattr(ex, key) is not None:
            out.update(trace(session))
    return out


def views(session: Session) -> tuple[ExperimentView, ...]:
    """The view of every experiment the session runs, in a fixed order."""
    with session.lock:
        ex = session.scenario.experiments
        return tuple(view(session) for key, view in EXPERIMENTS.items() if getattr(ex, key))


def base_metrics(session: Session, baseline: RunView | None = None) -> dict[str, float]:
    """Epoch, the baseline's loss and accuracy, and the output at every probe."""
    with session.lock:
        out: dict[str, float] = {"epoch": float(session.epoch)}
        if baseline is None:
            out.update(run_figures(session.baseline))
        else:
            out["train.loss"] = baseline.train_loss
            out["train.accuracy"] = baseline.train_accuracy
            out["test.loss"] = baseline.test_loss
            out["test.accuracy"] = baseline.test_accuracy
        for i, probe in enumerate(session.scenario.probes):
            p = session.probe(*probe.point).reshape(1, -1)
            out[f"probe.{i}.output"] = float(p[0, -1])
            out[f"probe.{i}.confidence"] = float(confidence(p)[0])
            out[f"probe.{i}.class"] = float(p[0, 0] > 0.5 if p.shape[1] == 1 else p[0].argmax())
        return out


def measure(session: Session) -> dict[str, float]:
    """Every metric of the session now, flat dotted names -> float (see ``METRICS``)."""
    with session.lock:
        out = base_metrics(session)
        for view in views(session):
            out.update(view.metrics())
        return out
