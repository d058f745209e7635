"""The decision boundary: the model's output over the plane, with the data and a probe on top.

One Line-API widget. Each text cell is two pixels stacked ('▀': foreground = upper pixel,
background = lower pixel), so a map of w x h cells shows a w x 2h grid of model outputs that the
screen asks the session for once per frame. Strips are built once per frame and cached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from engine.metrics import Extent, GridOutputs
from engine.snapshot import Snapshot
from tui_nn.widgets.palette import (
    ASCII_CLASS_GLYPHS,
    CLASS_RGB,
    LEVELS,
    NEUTRAL_RGB,
    PROBABILITY_RAMP,
    PROBABILITY_STYLES,
    ascii_glyph,
)

ZOOMS = (1.0, 4.0, 25.0, 100.0)
"""Factors by which `z` widens the view around the scenario's display range, in turn."""

HALF = "▀"
TRAIN_GLYPH = "●"
TEST_GLYPH = "○"
POISON_GLYPH = "✖"
PROBE_GLYPH = "╋"
ASCII_PROBE_GLYPH = "#"
ASCII_POISON_GLYPH = "!"


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> Color:
    return Color.from_rgb(*(round(x + (y - x) * t) for x, y in zip(a, b, strict=True)))


COLOURS: tuple[Color, ...] = PROBABILITY_RAMP + tuple(
    _mix(NEUTRAL_RGB, rgb, (level + 1) / LEVELS) for rgb in CLASS_RGB for level in range(LEVELS)
)
"""Pixel colours: the two-class probability ramp, then one ramp per class for softmax models
with more than two classes (index 2 * LEVELS + class * LEVELS + level)."""

POINT_RGB = tuple(tuple(round(c + (255 - c) * 0.55) for c in rgb) for rgb in CLASS_RGB)
"""Data points are drawn in lighter tints of their class colour, to stand out on its region."""

_pair_styles: dict[tuple[int, int], Style] = {}
_point_styles: dict[tuple[int, int], Style] = {}


def pair_style(top: int, bottom: int) -> Style:
    """The style of a '▀' cell whose pixels have these colour indices."""
    n = 2 * LEVELS
    if top < n and bottom < n:
        return PROBABILITY_STYLES[top][bottom]
    style = _pair_styles.get((top, bottom))
    if style is None:
        style = _pair_styles[(top, bottom)] = Style(color=COLOURS[top], bgcolor=COLOURS[bottom])
    return style


def point_style(cls: int, background: int) -> Style:
    """A data point of class ``cls`` drawn on a pixel of colour index ``background``."""
    style = _point_styles.get((cls, background))
    if style is None:
        rgb = POINT_RGB[cls % len(POINT_RGB)]
        style = Style(color=Color.from_rgb(*rgb), bgcolor=COLOURS[background], bold=True)
        _point_styles[(cls, background)] = style
    return style


_ascii_styles = {
    (cls, level): Style(color=Color.from_rgb(*rgb), dim=level < 2)
    for cls, rgb in enumerate(CLASS_RGB)
    for level in range(4)
}
_ascii_segments: dict[tuple[int, str], Segment] = {}


def colour_indices(grid: GridOutputs, n_outputs: int) -> npt.NDArray[np.int64]:
    """Per pixel, an index into COLOURS from the model's output and predicted class."""
    value = grid.output
    n = 2 * LEVELS
    if n_outputs > 1:
        n_classes = n_outputs
        if n_classes == 2:
            value = np.where(grid.classes == 1, value, 1.0 - value)
        else:
            floor = 1.0 / n_classes
            share = (value - floor) / (1.0 - floor)
            level = np.clip(np.nan_to_num(share * LEVELS, nan=0.0), 0, LEVELS - 1)
            return n + (grid.classes % len(CLASS_RGB)) * LEVELS + level.astype(np.int64)
    scaled = np.nan_to_num(value * n, nan=float(LEVELS), posinf=n - 1, neginf=0.0)
    return np.clip(scaled, 0, n - 1).astype(np.int64)


def class_confidence(grid: GridOutputs, n_outputs: int) -> npt.NDArray[np.float64]:
    """Per pixel, the probability of the predicted class."""
    if n_outputs > 1:
        return grid.output
    return np.maximum(grid.output, 1.0 - grid.output)


@dataclass
class _Frame:
    """What one snapshot draws: pixel colours, per-cell glyphs, and the extent they cover."""

    extent: Extent
    colours: npt.NDArray[np.int64]
    """(2h, w) colour indices."""
    classes: npt.NDArray[np.int64]
    confidence: npt.NDArray[np.float64]
    marks: dict[tuple[int, int], tuple[str, int, str]]
    """(row, col) -> (glyph, class, kind) for the data points on top of the map."""


class BoundaryMap(Widget):
    """The model's decision over the plane: colour (or glyphs) by class and confidence."""

    DEFAULT_CSS = """
    BoundaryMap {
        width: 1fr;
        height: 1fr;
        min-width: 4;
        min-height: 2;
    }
    BoundaryMap > .boundary-map--label {
        color: $text;
        background: $panel 80%;
    }
    BoundaryMap > .boundary-map--probe {
        color: $text;
        text-style: bold;
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"boundary-map--label", "boundary-map--probe"}

    def __init__(
        self,
        base_extent: Extent,
        *,
        glyphs: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.base_extent = base_extent
        """The scenario's display range (zoom factor 1)."""
        self.zoom_index = 0
        """Index into ZOOMS."""
        self.glyphs = glyphs
        """ASCII mode: glyphs for class and confidence instead of colour shades."""
        self.run_index = 0
        """Which run of the snapshot to draw (0 = the baseline)."""
        self.probe = self._centre_probe()
        """The probe's point in the plane (data coordinates)."""
        self.frames_built = 0
        """How many times a snapshot was turned into a new frame (for tests and benchmarks)."""
        self._snapshot: Snapshot | None = None
        self._key: tuple[object, ...] | None = None
        self._frame: _Frame | None = None
        self._rows: dict[int, Strip] = {}

    # -- geometry ------------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        """The current zoom factor."""
        return ZOOMS[self.zoom_index]

    @property
    def extent(self) -> Extent:
        """The rectangle of the plane the map shows."""
        return self.base_extent.scaled(self.zoom) if self.zoom != 1 else self.base_extent

    def grid_size(self) -> tuple[int, int]:
        """(width, height) of the pixel grid the map needs: one column per cell, two rows."""
        width, height = self.size
        return max(width, 8), 2 * max(height, 4)

    def _centre_probe(self) -> tuple[float, float]:
        e = self.base_extent
        return ((e.x_min + e.x_max) / 2, (e.y_min + e.y_max) / 2)

    def _cell_of(self, x: float, y: float, extent: Extent, w: int, h: int) -> tuple[int, int, int]:
        """(row, col, pixel row) of the point in a w x h cell map of the extent."""
        col = math.floor((x - extent.x_min) / (extent.x_max - extent.x_min) * w)
        pixel = math.floor((extent.y_max - y) / (extent.y_max - extent.y_min) * 2 * h)
        return pixel // 2, col, pixel

    def set_base_extent(self, extent: Extent) -> None:
        """A new scenario: its display range, zoom 1, the probe in the middle."""
        self.base_extent = extent
        self.zoom_index = 0
        self.probe = self._centre_probe()
        self._invalidate()

    def cycle_zoom(self) -> float:
        """Widen the view to the next zoom factor (after the last, back to 1); returns it."""
        self.zoom_index = (self.zoom_index + 1) % len(ZOOMS)
        self._invalidate()
        return self.zoom

    def set_glyphs(self, glyphs: bool) -> None:
        """Switch between colour shades and ASCII glyphs."""
        if glyphs != self.glyphs:
            self.glyphs = glyphs
            self._invalidate()

    def move_probe(self, dx: int, dy: int) -> tuple[float, float]:
        """Move the probe by whole cells (dy > 0 is up), kept inside the view; returns it.

        The probe lands on the centre of its cell, so what the readout reports is the model's
        output at exactly the point the cursor marks.
        """
        e = self.extent
        w, h = max(self.size.width, 1), max(self.size.height, 1)
        row, col, _ = self._cell_of(*self.probe, e, w, h)
        col = min(max(col + dx, 0), w - 1)
        row = min(max(row - dy, 0), h - 1)
        cw, ch = (e.x_max - e.x_min) / w, (e.y_max - e.y_min) / h
        probe = (e.x_min + (col + 0.5) * cw, e.y_max - (row + 0.5) * ch)
        if probe != self.probe:
            self.probe = probe
            self._rows.clear()
            self.refresh()
        return self.probe

    # -- data ----------------------------------------------------------------------------

    def show(self, snapshot: Snapshot) -> None:
        """Draw this snapshot (redraws only if the epoch, view or data changed)."""
        self._snapshot = snapshot
        run = snapshot.runs[min(self.run_index, len(snapshot.runs) - 1)]
        grid = run.grid
        key = (
            snapshot.scenario,
            run.epoch,
            self.run_index,
            self.glyphs,
            None if grid is None else (grid.extent, grid.output.shape),
            len(snapshot.x_train),
        )
        if key == self._key:
            return
        self._key = key
        self._frame = None if grid is None else self._build_frame(snapshot, grid)
        self.frames_built += 1
        self._rows.clear()
        self.refresh()

    def _invalidate(self) -> None:
        self._key = None
        self._frame = None
        self._rows.clear()
        self.refresh()

    def _build_frame(self, snapshot: Snapshot, grid: GridOutputs) -> _Frame:
        n_outputs = snapshot.baseline.layers[-1].n_out
        colours = colour_indices(grid, n_outputs)
        pixel_rows, w = colours.shape
        h = pixel_rows // 2
        marks: dict[tuple[int, int], tuple[str, int, str]] = {}
        e = grid.extent
        layers = (
            (snapshot.x_test, snapshot.y_test, TEST_GLYPH, "test"),
            (snapshot.x_train, snapshot.y_train, TRAIN_GLYPH, "train"),
        )
        for points, labels, glyph, kind in layers:
            if len(points) == 0:
                continue
            cols = np.floor((points[:, 0] - e.x_min) / (e.x_max - e.x_min) * w)
            pix = np.floor((e.y_max - points[:, 1]) / (e.y_max - e.y_min) * 2 * h)
            inside = (cols >= 0) & (cols < w) & (pix >= 0) & (pix < 2 * h)
            for c, p, label in zip(
                cols[inside].astype(int).tolist(),
                pix[inside].astype(int).tolist(),
                labels[inside].tolist(),
                strict=True,
            ):
                marks[(p // 2, c)] = (glyph, int(label), kind)
        for i in snapshot.poisoned.tolist():
            x, y = snapshot.x_train[i]
            row, col, _ = self._cell_of(float(x), float(y), e, w, h)
            if 0 <= row < h and 0 <= col < w:
                marks[(row, col)] = (POISON_GLYPH, int(snapshot.y_train[i]), "poison")
        return _Frame(e, colours, grid.classes, class_confidence(grid, n_outputs), marks)

    # -- drawing -------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        strip = self._rows.get(y)
        if strip is None:
            strip = self._rows[y] = self._render_row(y).adjust_cell_length(width, self.rich_style)
        return strip

    def _render_row(self, y: int) -> Strip:
        frame = self._frame
        if frame is None or 2 * y + 1 >= frame.colours.shape[0]:
            return Strip.blank(self.size.width, self.rich_style)
        top = frame.colours[2 * y].tolist()
        bottom = frame.colours[2 * y + 1].tolist()
        if self.glyphs:
            classes = frame.classes[2 * y].tolist()
            conf = frame.confidence[2 * y].tolist()
            segments = [self._ascii_cell(c, p) for c, p in zip(classes, conf, strict=True)]
        else:
            segments = [Segment(HALF, pair_style(t, b)) for t, b in zip(top, bottom, strict=True)]
        for (row, col), (glyph, cls, kind) in frame.marks.items():
            if row == y and col < len(segments):
                segments[col] = self._mark(glyph, cls, kind, top[col])
        self._draw_probe(y, frame, segments, top)
        self._draw_labels(y, frame, segments)
        return Strip(segments).simplify()

    def _ascii_cell(self, cls: int, confidence: float) -> Segment:
        glyph = ascii_glyph(cls, confidence)
        key = (cls, glyph)
        segment = _ascii_segments.get(key)
        if segment is None:
            glyphs = ASCII_CLASS_GLYPHS[cls % len(ASCII_CLASS_GLYPHS)]
            level = glyphs.index(glyph) if glyph in glyphs else 0
            segment = Segment(glyph, _ascii_styles[(cls % len(CLASS_RGB), level)])
            _ascii_segments[key] = segment
        return segment

    def _mark(self, glyph: str, cls: int, kind: str, background: int) -> Segment:
        if self.glyphs:
            text = ASCII_POISON_GLYPH if kind == "poison" else str(cls)
            style = _ascii_styles[(cls % len(CLASS_RGB), 3)] + Style(
                bold=True, reverse=kind != "test"
            )
            return Segment(text, style)
        return Segment(glyph, point_style(cls, background))

    def _draw_probe(self, y: int, frame: _Frame, segments: list[Segment], top: list[int]) -> None:
        h = frame.colours.shape[0] // 2
        w = frame.colours.shape[1]
        row, col, _ = self._cell_of(*self.probe, frame.extent, w, h)
        if row != y or not 0 <= col < len(segments):
            return
        style = self.get_component_rich_style("boundary-map--probe", partial=True)
        if self.glyphs:
            segments[col] = Segment(ASCII_PROBE_GLYPH, style + Style(reverse=True))
        else:
            segments[col] = Segment(PROBE_GLYPH, Style(bgcolor=COLOURS[top[col]]) + style)

    def _draw_labels(self, y: int, frame: _Frame, segments: list[Segment]) -> None:
        """The corners' coordinates: top right (x_max, y_max), bottom left (x_min, y_min)."""
        h = frame.colours.shape[0] // 2
        w = len(segments)
        e = frame.extent
        if y == 0:
            text = f"({_num(e.x_max)}, {_num(e.y_max)})"
            start = w - len(text)
        elif y == h - 1:
            text = f"({_num(e.x_min)}, {_num(e.y_min)})"
            start = 0
        else:
            return
        if start < 0 or len(text) * 3 > w or h < 4:
            return
        style = self.get_component_rich_style("boundary-map--label", partial=True)
        for i, ch in enumerate(text):
            segments[start + i] = Segment(ch, style)


def _num(value: float) -> str:
    """A coordinate short enough for a corner label."""
    return f"{value:.3g}"
