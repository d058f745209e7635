"""What an experiment shows: its figures with their meanings, charts, table and marks.

An experiment module turns a session into one ``ExperimentView``. The trainer's experiment
panel, the headless summary, the JSON report and scenario expectations all read that one
object, so a figure has the same value and the same words wherever it appears.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from engine.metrics import GridOutputs


@dataclass(frozen=True)
class Figure:
    """One measured number of an experiment."""

    key: str
    """Its metric name, e.g. 'poison.region_changed' (what expectations and JSON use)."""
    label: str
    """A few words for a panel row, e.g. 'plane changed'."""
    value: float
    text: str
    """The value as shown, e.g. '15.2%' or '4 of 5'."""
    meaning: str
    """One line saying what the number is."""
    shown: bool = True
    """False for figures that only feed expectations and reports (kept off small panels)."""


@dataclass(frozen=True)
class Series:
    """A curve an experiment draws: values against epochs (or another x)."""

    label: str
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    log: bool = False
    """Draw y on a log scale (zeros and negatives are left out)."""
    x_label: str = ""
    """What x is when it is not the epoch, e.g. 'eps' or 'queries'."""


@dataclass(frozen=True)
class Mark:
    """Something an experiment draws over the plane, in data coordinates."""

    kind: Literal["point", "circle", "arrow", "line", "cross", "target"]
    """point: a probe point; circle: a ring of ``radius``; arrow: from (x, y) to ``to``; line:
    a segment from (x, y) to ``to``; cross: a recovered point; target: the real point it was
    recovered from."""
    x: float
    y: float
    label: str = ""
    radius: float = 0.0
    """circle: its radius."""
    to: tuple[float, float] | None = None
    """arrow, line: the other end."""
    run: str = ""
    """The key of the run the mark belongs to ('': every run); the map draws a run's own."""


@dataclass(frozen=True)
class Plane:
    """A model's decision over the display range that is not a session run (a surrogate)."""

    label: str
    grid: GridOutputs


@dataclass(frozen=True)
class Table:
    """Rows of short cells under a header, e.g. one row per precision run."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ExperimentView:
    """One experiment of a session at one moment."""

    name: str
    """The experiment's key: 'ood', 'poison', 'butterfly', 'precision', 'side_channel'."""
    title: str
    headline: str
    """The phenomenon and its number in one short line, for the main screen."""
    figures: tuple[Figure, ...]
    series: tuple[Series, ...] = ()
    table: Table | None = None
    marks: tuple[Mark, ...] = ()
    histogram: dict[int, tuple[int, ...]] = field(default_factory=dict)
    """side channel: histogram[c][k] = inputs of class c with exactly k active units."""
    notes: tuple[str, ...] = ()
    """Sentences that explain what the figures show."""
    planes: tuple[Plane, ...] = ()
    """Decisions drawn beside the main map's run (an extracted copy beside its victim)."""
    listing: tuple[str, ...] = ()
    """Lines shown as they are, in a fixed-width block (a pickle's opcodes)."""

    def metrics(self) -> dict[str, float]:
        """The figures as metric name -> value."""
        return {f.key: f.value for f in self.figures}


def percent(value: float, digits: int = 1) -> str:
    """0.152 -> '15.2%'; NaN -> '--'."""
    return f"{value:.{digits}%}" if math.isfinite(value) else "--"


def number(value: float, spec: str = ".4g") -> str:
    """A number for a panel, '--' when it is not finite."""
    return format(value, spec) if math.isfinite(value) else "--"
