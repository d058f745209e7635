"""Several curves in one small plot: braille dots, one colour per curve (Line API).

Each text cell holds 2 x 4 braille dots, so a plot of w x h cells draws curves on a 2w x 4h
dot grid. Curves are thinned to the dot columns (each column keeps the range of the values
that fall into it, so spikes survive) and joined column to column. Where curves cross, the
later curve's colour wins. In glyph mode (no colour), each curve is drawn at cell resolution
in its own ASCII character instead.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from tui_nn.widgets.palette import text_style

ASCII_MARKERS = "*+ox#%@"
"""Glyph-mode characters of the curves, in order."""
_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.int64)
"""Braille dot bits by (row, column) within a cell."""


@dataclass(frozen=True)
class Curve:
    """One curve: values against x, drawn in one colour."""

    label: str
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    colour: Color


def _prepared(curve: Curve, log: bool) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(curve.x, dtype=np.float64)
    y = np.asarray(curve.y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y) & ((y > 0) if log else True)
    y = y[keep]
    return x[keep], (np.log10(y) if log else y)


def _column_ranges(px: np.ndarray, py: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Per dot column, the lowest and highest dot row of the points in it (-1: none)."""
    low = np.full(columns, np.iinfo(np.int64).max, dtype=np.int64)
    high = np.full(columns, -1, dtype=np.int64)
    np.minimum.at(low, px, py)
    np.maximum.at(high, px, py)
    low[high < 0] = -1
    return low, high


def trace(
    curves: Sequence[Curve],
    columns: int,
    rows: int,
    *,
    log: bool,
    x_range: tuple[float, float] | None = None,
) -> tuple[np.ndarray, tuple[float, float]]:
    """The dots of every curve on a columns x rows grid, and the y range they span.

    Returns:
        (curves, rows, columns) booleans, row 0 at the top; and (y_min, y_max) in plotted
        units (log10 of the values when ``log``).
    """
    data = [_prepared(c, log) for c in curves]
    xs = [x for x, _ in data if len(x)]
    ys = [y for _, y in data if len(y)]
    dots = np.zeros((len(curves), rows, columns), dtype=bool)
    if not ys:
        return dots, (0.0, 1.0)
    y_min = min(float(y.min()) for y in ys)
    y_max = max(float(y.max()) for y in ys)
    if y_max - y_min < 1e-12:
        y_min, y_max = y_min - 0.5, y_max + 0.5
    x_min, x_max = x_range or (
        min(float(x.min()) for x in xs),
        max(float(x.max()) for x in xs),
    )
    span = max(x_max - x_min, 1e-12)
    for i, (x, y) in enumerate(data):
        if not len(x):
            continue
        px = np.clip(((x - x_min) / span * (columns - 1)).round().astype(np.int64), 0, columns - 1)
        py = ((y_max - y) / (y_max - y_min) * (rows - 1)).round().astype(np.int64)
        py = np.clip(py, 0, rows - 1)
        low, high = _column_ranges(px, py, columns)
        used = np.flatnonzero(high >= 0)
        previous = None
        for c in used.tolist():
            lo, hi = int(low[c]), int(high[c])
            if previous is not None:  # join to the last column that had a value
                lo, hi = min(lo, previous), max(hi, previous)
            dots[i, lo : hi + 1, c] = True
            previous = (int(low[c]) + int(high[c])) // 2
    return dots, (y_min, y_max)


def axis_label(value: float, log: bool) -> str:
    """A y-axis value as people read it (the value itself on a log axis)."""
    v = 10**value if log else value
    if not math.isfinite(v):
        return "--"
    return f"{v:.2g}" if abs(v) < 0.01 or abs(v) >= 1000 else f"{v:.3g}"


class CurvePlot(Widget):
    """Curves against epochs, with the y range marked at the top and bottom left."""

    DEFAULT_CSS = """
    CurvePlot {
        height: 1fr;
        min-height: 2;
    }
    CurvePlot > .curve-plot--label {
        color: $text-muted;
    }
    CurvePlot > .curve-plot--marker {
        color: $text;
    }
    """

    COMPONENT_CLASSES = {"curve-plot--label", "curve-plot--marker"}  # noqa: RUF012

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.curves: tuple[Curve, ...] = ()
        """The curves drawn, later ones on top."""
        self.log_scale = False
        """Log-scaled y axis."""
        self.glyphs = False
        """ASCII mode: one character per curve instead of coloured braille."""
        self.marker: float | None = None
        """An x to mark with a vertical line (the epoch shown)."""
        self._key: Hashable = None
        self._built: Hashable = None
        self._strips: list[Strip] = []

    def plot(
        self,
        curves: Sequence[Curve],
        *,
        log: bool,
        glyphs: bool,
        key: Hashable,
        marker: float | None = None,
    ) -> None:
        """Draw these curves, unless ``key`` says they are drawn already."""
        if key == self._key:
            return
        self._key = key
        self.curves, self.log_scale, self.glyphs, self.marker = tuple(curves), log, glyphs, marker
        self.refresh()

    def _build(self, width: int, height: int) -> list[Strip]:
        base = self.rich_style
        if width <= 0 or height <= 0:
            return []
        label = text_style(self, "curve-plot--label")
        if not any(len(c.y) for c in self.curves):
            return [Strip([Segment("no epochs yet"[:width], base + label)])]
        cells = np.full((height, width), -1, dtype=np.int64)
        if self.glyphs:
            dots, y_range = trace(self.curves, width, height, log=self.log_scale)
            for i in range(len(self.curves)):
                cells[dots[i]] = i
            codes = None
        else:
            dots, y_range = trace(self.curves, 2 * width, 4 * height, log=self.log_scale)
            shaped = dots.reshape(len(self.curves), height, 4, width, 2)
            per_curve = np.einsum("shrwc,rc->shw", shaped.astype(np.int64), _BITS)
            codes = np.bitwise_or.reduce(per_curve, axis=0) if len(self.curves) else None
            for i in range(len(self.curves)):
                cells[per_curve[i] > 0] = i
        styles = [base + Style(color=c.colour) for c in self.curves]
        marker_col = self._marker_column(width)
        strips = []
        for r in range(height):
            segments = []
            for c in range(width):
                i = int(cells[r, c])
                if i < 0:
                    if c == marker_col:
                        style = base + text_style(self, "curve-plot--marker")
                        segments.append(Segment("│" if not self.glyphs else "|", style))
                    else:
                        segments.append(Segment(" ", base))
                elif codes is None:
                    segments.append(Segment(ASCII_MARKERS[i % len(ASCII_MARKERS)], base))
                else:
                    segments.append(Segment(chr(0x2800 + int(codes[r, c])), styles[i]))
            strips.append(Strip(segments).simplify())
        self._label(strips, 0, axis_label(y_range[1], self.log_scale), base + label, width)
        if height > 1:
            self._label(
                strips, height - 1, axis_label(y_range[0], self.log_scale), base + label, width
            )
        return strips

    def _marker_column(self, width: int) -> int | None:
        if self.marker is None:
            return None
        xs = [float(c.x[-1]) for c in self.curves if len(c.x)]
        firsts = [float(c.x[0]) for c in self.curves if len(c.x)]
        if not xs:
            return None
        low, high = min(firsts), max(xs)
        if high <= low:
            return None
        return round((self.marker - low) / (high - low) * (width - 1))

    @staticmethod
    def _label(strips: list[Strip], row: int, text: str, style: Style, width: int) -> None:
        if len(text) + 2 > width:
            return
        rest = strips[row].crop(len(text), width)
        strips[row] = Strip([Segment(text, style), *rest])

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        built = (width, height, self._key)
        if built != self._built:
            self._built = built
            self._strips = self._build(width, height)
        if y >= len(self._strips):
            return Strip.blank(width, self.rich_style)
        return self._strips[y].adjust_cell_length(width, self.rich_style)


def legend_segments(curves: Sequence[Curve], glyphs: bool, base: Style) -> list[tuple[str, Style]]:
    """(text, style) pieces of a one-line legend: a stroke in each curve's colour and its label."""
    pieces = []
    for i, curve in enumerate(curves):
        mark = ASCII_MARKERS[i % len(ASCII_MARKERS)] if glyphs else "━"
        pieces.append((mark, base if glyphs else base + Style(color=curve.colour, bold=True)))
        pieces.append((f" {curve.label}  ", base))
    return pieces
