"""The same run in several precisions: what each learns and why a low precision stalls.

A float16 weight near 1 can only change in steps of about 0.001; an update smaller than half
of that rounds back to the stored value and is lost. The no-op share counts exactly those
updates, separately from gradients that underflow to zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.experiments.common import run_figures, safe_key
from engine.run import Run

METRICS = {
    "precision.<run>.test_accuracy": "test accuracy of the run in that precision "
    "(<run>: float64, float32, float16, float16_master)",
    "precision.<run>.train_loss": "training loss of that run's current weights",
    "precision.<run>.noop_share": "share of non-zero updates that left the stored value "
    "unchanged, last epoch",
    "precision.<run>.noop_share_mean": "the no-op share averaged over all epochs",
    "precision.<run>.underflow": "gradient entries that rounded to zero in that dtype, last epoch",
    "precision.<run>.nonfinite": "NaN or infinite values after the last epoch",
}


def run_key(run: Run) -> str:
    """The metric-name part of a precision run: its dtype, plus '_master' for master weights."""
    config = run.train_config
    return safe_key(config.dtype + ("_master" if config.master_weights else ""))


def measure_precision(runs: Sequence[Run]) -> dict[str, float]:
    """The ``precision.*`` metrics of every run (a repeated key gets a suffix _2, _3...)."""
    out: dict[str, float] = {}
    seen: dict[str, int] = {}
    for run in runs:
        key = run_key(run)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = f"{key}_{seen[key]}"
        h = run.history
        figures = run_figures(run)
        prefix = f"precision.{key}"
        out[f"{prefix}.test_accuracy"] = figures["test.accuracy"]
        out[f"{prefix}.train_loss"] = figures["train.loss"]
        out[f"{prefix}.noop_share"] = h.noop_share[-1] if h.noop_share else 0.0
        out[f"{prefix}.noop_share_mean"] = float(np.mean(h.noop_share)) if h.noop_share else 0.0
        out[f"{prefix}.underflow"] = float(h.underflow[-1]) if h.underflow else 0.0
        out[f"{prefix}.nonfinite"] = float(h.nonfinite[-1]) if h.nonfinite else 0.0
    return out
