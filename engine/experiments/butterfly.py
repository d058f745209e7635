"""The butterfly effect: a twin whose initial weights differ by one tiny nudge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from engine.experiments.view import ExperimentView, Figure, Series, number, percent

if TYPE_CHECKING:
    from engine.session import Session

DIVERGED = 1e-6
"""Largest |weight difference| still counted as 'the twins agree'."""

METRICS = {
    "butterfly.max_abs_dw": "largest |weight difference| between the twins now",
    "butterfly.loss_difference": "|training loss difference| between the twins, last epoch",
    "butterfly.disagreement": "share of the display plane where the twins predict different "
    "classes now",
    "butterfly.peak_disagreement": "largest disagreement sampled so far (every few epochs, "
    "and now)",
    "butterfly.first_divergence_epoch": f"first epoch where max|dW| exceeded {DIVERGED:g} "
    "(-1: not yet)",
}


def first_divergence(max_abs_dw: Sequence[float], threshold: float = DIVERGED) -> int:
    """1-based epoch at which the per-epoch max|dW| first exceeds ``threshold``, or -1."""
    for i, value in enumerate(max_abs_dw):
        if value > threshold:
            return i + 1
    return -1


def view(session: Session) -> ExperimentView:
    """The butterfly panel: how far the nudged twin has drifted, and when it broke away."""
    config = session.scenario.experiments.butterfly
    assert config is not None
    drift = session.drift(0)
    base, twin = session.slots[0].run, session.slots[1].run
    dw = float(
        np.abs(
            twin.network.flat_params.astype(np.float64)
            - base.network.flat_params.astype(np.float64)
        ).max(initial=0.0)
    )
    loss_difference = drift.last_loss_difference
    now = session.disagreement(0)
    peak = max(float(drift.disagreement.max(initial=0.0)), now)
    first = drift.first_divergence
    figures = (
        Figure(
            "butterfly.max_abs_dw",
            "max|dW|",
            dw,
            f"{dw:.2e}",
            "largest difference between any weight of the two runs",
        ),
        Figure(
            "butterfly.loss_difference",
            "|Δloss|",
            loss_difference,
            f"{loss_difference:.2e}",
            "difference of the two runs' training loss, last epoch",
        ),
        Figure(
            "butterfly.disagreement",
            "disagree",
            now,
            percent(now),
            "share of the plane where the two runs predict different classes now",
        ),
        Figure(
            "butterfly.peak_disagreement",
            "peak disagree",
            peak,
            percent(peak),
            "the largest disagreement so far",
        ),
        Figure(
            "butterfly.first_divergence_epoch",
            "diverged at",
            float(first),
            f"epoch {first}" if first > 0 else "not yet",
            f"first epoch where max|dW| passed {DIVERGED:g}",
        ),
    )
    if first > 0:
        headline = (
            f"nudge {config.epsilon:g} → diverged at epoch {first} · max|dW| {number(dw, '.3g')}"
            f" · disagree {percent(now)} (peak {percent(peak)})"
        )
    else:
        headline = f"nudge {config.epsilon:g}: the twins still agree (max|dW| {dw:.1e})"
    epochs = drift.epochs.astype(np.float64)
    series = (
        Series("max|dW|", epochs, drift.max_abs_dw, log=True),
        Series("|Δloss|", epochs, drift.loss_difference, log=True),
        Series("disagree", drift.disagreement_epochs.astype(np.float64), drift.disagreement),
    )
    return ExperimentView(
        name="butterfly",
        title="Butterfly effect",
        headline=headline,
        figures=figures,
        series=series,
        notes=(
            f"One initial weight of the twin differs by {config.epsilon:g}; data, batch order "
            "and every other weight are the same.",
        ),
    )
