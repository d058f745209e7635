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


def format_probe(point: tuple[float, float], output: np.ndarray) -> str:
    """The probe's exact reading: p(class 1) for one output, the class and its p for several."""
    where = f"({point[0]:.4g}, {point[1]:.4g})"
    if len(output) == 1:
        p = float(output[0])
        text = f"{where} p={p:.6g}"
        if math.isfinite(p) and 0.999 < p < 1:
            text += f" (1-p={1 - p:.2e})"
        elif math.isfinite(p) and 0 < p < 0.001:
            text += f" (p={p:.2e})"
        return text
    cls = int(np.argmax(output))
    return f"{where} class {cls} p={float(output[cls]):.6g}"
