"""Helpers the measurements share: a run's figures now, and safe metric-name parts."""

from __future__ import annotations

import re

import numpy as np

from engine.metrics import accuracy
from engine.run import Array, Run


def run_figures(run: Run, train_outputs: Array | None = None) -> dict[str, float]:
    """Loss and accuracy of a run's current weights on its training and test sets.

    Computed in the run's own dtype, so a float16 run is judged by what float16 computes.
    The loss on the training set uses the run's current labels (a poisoned twin's flips).

    Args:
        run: The run.
        train_outputs: Its outputs on the training inputs, when already computed.
    """
    net = run.network
    with np.errstate(all="ignore"):
        p_train = net.predict(run.trainer.x) if train_outputs is None else train_outputs
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


def sure(confidence: float) -> str:
    """A confidence as people read it: '65.3%', or '99.977%' when it is close to 1."""
    if not np.isfinite(confidence):
        return "--"
    if confidence >= 0.999:
        return f"{confidence:.4%}"
    return f"{confidence:.1%}"
