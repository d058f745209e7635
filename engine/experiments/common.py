"""Helpers the measurements share: a run's figures now, and safe metric-name parts."""

from __future__ import annotations

import re

import numpy as np

from engine.metrics import accuracy
from engine.run import Run


def run_figures(run: Run) -> dict[str, float]:
    """Loss and accuracy of a run's current weights on its training and test sets.

    Computed in the run's own dtype, so a float16 run is judged by what float16 computes.
    The loss on the training set uses the run's current labels (a poisoned twin's flips).
    """
    net = run.network
    with np.errstate(all="ignore"):
        p_train = net.predict(run.trainer.x)
        figures = {
            "train.loss": float(net.loss.value(p_train, run.trainer.targets)),
            "train.accuracy": accuracy(p_train, run.data.y_train),
            "test.loss": float("nan"),
            "test.accuracy": float("nan"),
        }
        if len(run.x_test):
            p_test = net.predict(run.x_test)
            figures["test.loss"] = float(net.loss.value(p_test, run.test_targets))
            figures["test.accuracy"] = accuracy(p_test, run.data.y_test)
    return figures


def number_key(value: float) -> str:
    """A number as a metric-name part: 10.0 -> '10', 2.5 -> '2_5', -1 -> 'm1'."""
    text = f"{int(value)}" if float(value).is_integer() else f"{value:g}"
    return text.replace(".", "_").replace("-", "m")


def safe_key(text: str) -> str:
    """Lowercase letters, digits and underscores only ('float16 + f32' -> 'float16_f32')."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "run"
