"""The butterfly effect: a twin whose initial weights differ by one tiny nudge."""

from __future__ import annotations

from collections.abc import Sequence

DIVERGED = 1e-6
"""Largest |weight difference| still counted as 'the twins agree'."""

METRICS = {
    "butterfly.max_abs_dw": "largest |weight difference| between the twins now",
    "butterfly.loss_difference": "|training loss difference| between the twins, last epoch",
    "butterfly.disagreement": "share of the display plane where the twins predict different "
    "classes, last epoch",
    "butterfly.peak_disagreement": "largest disagreement of any epoch so far",
    "butterfly.first_divergence_epoch": f"first epoch where max|dW| exceeded {DIVERGED:g} "
    "(-1: not yet)",
}


def first_divergence(max_abs_dw: Sequence[float], threshold: float = DIVERGED) -> int:
    """1-based epoch at which the per-epoch max|dW| first exceeds ``threshold``, or -1."""
    for i, value in enumerate(max_abs_dw):
        if value > threshold:
            return i + 1
    return -1
