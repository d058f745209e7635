"""Checking a scenario's expectations (``metric op value [at epoch]``) against measurements."""

from __future__ import annotations

import difflib
import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from engine.scenario import Expectation, Scenario

EQUAL_TOLERANCE = 1e-9
"""Relative tolerance of '==' (absolute 1e-12 near zero), so 0.1 + 0.2 == 0.3 passes."""

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": lambda a, b: math.isclose(a, b, rel_tol=EQUAL_TOLERANCE, abs_tol=1e-12),
}


@dataclass(frozen=True)
class Outcome:
    """One expectation checked."""

    expectation: Expectation
    value: float | None
    """The measured value, or None when the metric does not exist."""
    passed: bool
    detail: str
    """What was compared, e.g. '0.987 >= 0.95', or why it could not be."""


def checkpoints(scenario: Scenario) -> list[int]:
    """The sorted distinct epochs at which some expectation is checked (not the end)."""
    return sorted({e.epoch for e in scenario.expect if e.epoch is not None})


def check(expectation: Expectation, metrics: dict[str, float]) -> Outcome:
    """Check one expectation against a dict of measurements."""
    name = expectation.metric
    if name not in metrics:
        close = difflib.get_close_matches(name, list(metrics), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        known = ", ".join(sorted(metrics))
        return Outcome(expectation, None, False, f"unknown metric {name!r} ({hint}known: {known})")
    value = float(metrics[name])
    shown = f"{value:.6g} {expectation.op} {expectation.value:g}"
    if math.isnan(value):
        return Outcome(expectation, value, False, f"{shown} (not a number)")
    return Outcome(expectation, value, OPS[expectation.op](value, expectation.value), shown)


def evaluate(
    expectations: Iterable[Expectation], metrics: dict[str, float], epoch: int | None
) -> list[Outcome]:
    """Check the expectations that belong to ``epoch`` (None: those checked at the end).

    Args:
        expectations: A scenario's ``expect`` entries (all of them; this picks its own).
        metrics: The measurements taken at that moment (``measure``).
        epoch: The checkpoint epoch, or None for the end of the run.

    Returns:
        One outcome per selected expectation, in file order.
    """
    return [check(e, metrics) for e in expectations if e.epoch == epoch]
