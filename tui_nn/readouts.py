"""One-line readouts the trainer shows: the probe's value, and why training stopped."""

from __future__ import annotations

import math

import numpy as np

from engine.snapshot import Snapshot


def describe_blowup(blowup: str, snapshot: Snapshot) -> str:
    """What blew up, and the likeliest reason, in one line."""
    dtypes = {run.dtype for run in snapshot.runs}
    if "float16" in blowup or dtypes == {"float16"}:
        cause = "float16 overflowed (largest value 65504)"
    else:
        cause = f"learning rate {snapshot.learning_rate:g} is probably too large"
    return f"NaN/inf in {blowup}: {cause}. Paused; r resets."


def format_probe(point: tuple[float, float], output: np.ndarray, *, short: bool = False) -> str:
    """The probe's exact reading: the predicted class, how sure, and the raw output.

    One sigmoid output p is P(class 1): '(4, 4) class 1 99.98% p1=0.999774'. Several outputs:
    '(4, 4) class 2 87.1%'. ``short`` leaves out the raw output.
    """
    where = f"({point[0]:.4g}, {point[1]:.4g})"
    if len(output) == 1:
        p = float(output[0])
        if not math.isfinite(p):
            return f"{where} p1={p}"
        cls, sure = (1, p) if p > 0.5 else (0, 1 - p)
        text = f"{where} class {cls} {_sure(sure)}"
        if short:
            return text
        text += f" p1={p:.6g}"
        if 0.999 < p < 1:
            text += f" (1-p1={1 - p:.2e})"
        return text
    cls = int(np.argmax(output))
    return f"{where} class {cls} {_sure(float(output[cls]))}"


def _sure(confidence: float) -> str:
    return f"{confidence:.4%}" if confidence >= 0.999 else f"{confidence:.1%}"
