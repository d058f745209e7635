"""The same run in several precisions: what each learns and why a low precision stalls.

A float16 weight near 1 can only change in steps of about 0.001; an update smaller than half
of that rounds back to the stored value and is lost. The no-op share counts exactly those
updates, separately from gradients that underflow to zero.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.experiments.common import run_figures
from engine.experiments.view import ExperimentView, Figure, Table, number, percent

if TYPE_CHECKING:
    from engine.session import Session

METRICS = {
    "precision.<run>.test_accuracy": "test accuracy of the run in that precision "
    "(<run>: float64, float32, float16, float16_master)",
    "precision.<run>.train_loss": "training loss of that run's current weights",
    "precision.<run>.noop_share": "share of the last epoch's parameter updates (parameters x "
    "batches) whose step was non-zero but left the stored value unchanged",
    "precision.<run>.noop_share_mean": "the no-op share averaged over all epochs",
    "precision.<run>.underflow": "gradient entries that rounded to zero in that dtype, last epoch",
    "precision.<run>.underflow_total": "the same count summed over every epoch so far",
    "precision.<run>.nonfinite": "NaN or infinite values after the last epoch",
}


def view(session: Session) -> ExperimentView:
    """The precision panel: per run, its loss, no-op share, underflow and non-finite count."""
    figures: list[Figure] = []
    rows = []
    stalls: list[tuple[float, str, float]] = []
    for slot in session.slots:
        run = slot.run
        latest = run.latest
        f = run_figures(run)
        noop = latest.noop_share if latest else 0.0
        noop_mean = run.noop_mean
        underflow = float(latest.underflow) if latest else 0.0
        underflow_total = float(run.underflow_total)
        nonfinite = float(latest.nonfinite) if latest else 0.0
        p = f"precision.{slot.key}"
        figures += [
            Figure(
                f"{p}.train_loss",
                f"{slot.label} loss",
                f["train.loss"],
                number(f["train.loss"]),
                "training loss of this run's current weights",
            ),
            Figure(
                f"{p}.noop_share",
                f"{slot.label} no-op",
                noop,
                percent(noop, 0),
                "share of last epoch's updates that rounded back to the stored value",
            ),
            Figure(
                f"{p}.noop_share_mean",
                f"{slot.label} no-op (mean)",
                noop_mean,
                percent(noop_mean, 0),
                "the no-op share averaged over every epoch",
                shown=False,
            ),
            Figure(
                f"{p}.underflow_total",
                f"{slot.label} underflow (all)",
                underflow_total,
                f"{underflow_total:.0f}",
                "gradient entries that rounded to zero in this dtype, every epoch so far",
                shown=False,
            ),
            Figure(
                f"{p}.underflow",
                f"{slot.label} underflow",
                underflow,
                f"{underflow:.0f}",
                "gradient entries that rounded to zero in this dtype, last epoch",
            ),
            Figure(
                f"{p}.nonfinite",
                f"{slot.label} NaN/inf",
                nonfinite,
                f"{nonfinite:.0f}",
                "NaN or infinite values after the last epoch",
            ),
            Figure(
                f"{p}.test_accuracy",
                f"{slot.label} test acc",
                f["test.accuracy"],
                percent(f["test.accuracy"]),
                "test accuracy of this run",
                shown=False,
            ),
        ]
        no_reference = run.last is not None and run.last.underflow is None
        rows.append(
            (
                slot.key,
                number(f["train.loss"]),
                percent(noop, 0),
                "-" if no_reference else f"{underflow_total:.0f}",
                f"{nonfinite:.0f}",
            )
        )
        stalls.append((noop, slot.label, f["train.loss"]))
    worst = max(stalls)
    best = min(stalls, key=lambda s: s[2] if np.isfinite(s[2]) else np.inf)
    master = next((s for s in session.slots if s.run.train_config.master_weights), None)
    if worst[0] > 0.05:
        headline = (
            f"{worst[1]}: loss {number(worst[2], '.3g')} (best {number(best[2], '.3g')}), "
            f"{percent(worst[0], 0)} of its updates round away"
        )
        if master is not None:
            m = master.run.latest
            headline += f"; master weights: {percent(m.noop_share if m else 0.0, 0)}"
    else:
        headline = f"every precision still learns (lowest loss {number(best[2], '.3g')})"
    notes = [
        "no-op: share of the last epoch's updates smaller than half a step between "
        "neighbouring values of the weight's dtype, so the stored weight did not change. "
        "uflow: gradient entries that rounded to 0 in the whole run so far ('-' for float64, "
        "which has no wider reference). NaN: non-finite values after the last epoch.",
    ]
    if master is not None:
        notes.append(
            f"The fix, beside the stall: '{master.label}' keeps a float32 copy of the weights "
            "that the small steps add up in, and rounds it to float16 after each update."
        )
    return ExperimentView(
        name="precision",
        title="Precision",
        headline=headline,
        figures=tuple(figures),
        table=Table(("run", "loss", "no-op", "uflow", "NaN"), tuple(rows)),
        notes=tuple(notes),
    )
