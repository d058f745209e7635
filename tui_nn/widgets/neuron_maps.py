"""What each hidden neuron computes over the plane.

NeuronMaps draws one small heat map per hidden neuron of the run on the main map (each scaled
by its own largest |activation|, so a weak neuron's shape is still visible), labelled
``L<layer>.<unit>`` with dead and saturated units marked.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from rich.segment import Segment
from rich.style import Style
from textual.events import Resize
from textual.strip import Strip

from engine.snapshot import Snapshot
from tui_nn.plane import LEVELS, nearest
from tui_nn.widgets.palette import ASCII_ACTIVATION_GLYPHS, text_style
from tui_nn.widgets.panel import Panel

MIN_THUMB_WIDTH = 4
"""Narrowest thumbnail (cells); below this the maps stop being readable."""
Indices = npt.NDArray[np.intp]
STATUS_MARKS = {"dead": ("✕", "x"), "saturated": ("◐", "s")}
"""The one-cell mark after a dead or saturated unit's name: (colour mode, glyph mode)."""


@dataclass(frozen=True)
class Thumb:
    """One hidden neuron's map, values scaled to [-1, 1] by its largest |activation|."""

    label: str
    status: str
    values: npt.NDArray[np.float64]


@dataclass(frozen=True)
class Layout:
    """How thumbnails tile a widget: columns, cells across a map, and lines down a map."""

    columns: int
    width: int
    lines: int


def normalise(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Divide by the largest finite |value| (all zeros stay zeros; NaN stays NaN)."""
    magnitude = np.abs(values[np.isfinite(values)])
    top = float(magnitude.max()) if magnitude.size else 0.0
    return values / top if top > 0 else np.where(np.isfinite(values), 0.0, values)


def plan(count: int, grid_w: int, grid_h: int, width: int, height: int) -> Layout:
    """Choose the tiling with the biggest maps that fits, keeping the plane's aspect.

    A map cell holds two vertical pixels (half blocks), so ``lines`` lines show 2 * lines
    pixel rows; each thumbnail has one label line above it and one blank column after it.
    """
    best = Layout(max(1, (width + 1) // (MIN_THUMB_WIDTH + 1)), MIN_THUMB_WIDTH, 1)
    best_area = 0
    for columns in range(1, max(1, count) + 1):
        rows = math.ceil(count / columns)
        cells = (width - (columns - 1)) // columns
        lines = height // rows - 1
        if cells < MIN_THUMB_WIDTH or lines < 1:
            continue
        lines = max(1, min(lines, round(cells * grid_h / grid_w / 2)))
        cells = max(MIN_THUMB_WIDTH, min(cells, round(2 * lines * grid_w / grid_h)))
        if cells * lines > best_area:
            best, best_area = Layout(columns, cells, lines), cells * lines
    return best


def fit_name(label: str, cells: int) -> str:
    """``label`` if it fits in ``cells``, else without its 'L' prefix, else cut to fit."""
    if len(label) > cells and label.startswith("L"):
        label = label[1:]
    return label[: max(0, cells)]


class NeuronMaps(Panel):
    """One heat map per hidden neuron, in a wrapping grid sized to the widget (Line API).

    Args:
        glyphs: Glyph mode: ASCII density glyphs by |activation| instead of colours.
        **kwargs: The usual widget arguments (id, classes, ...).
    """

    DEFAULT_CSS = """
    NeuronMaps {
        height: 1fr;
    }
    NeuronMaps > .neuron-maps--label {
        color: $text-muted;
    }
    NeuronMaps > .neuron-maps--dead {
        color: $error;
        text-style: bold;
    }
    NeuronMaps > .neuron-maps--saturated {
        color: $warning;
        text-style: bold;
    }
    NeuronMaps > .neuron-maps--hatch {
        color: $error 45%;
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "neuron-maps--label",
        "neuron-maps--dead",
        "neuron-maps--saturated",
        "neuron-maps--hatch",
    }

    def __init__(self, *, glyphs: bool = False, **kwargs: object) -> None:
        super().__init__(glyphs=glyphs, **kwargs)
        self.run_index = 0
        """Which run's neurons are drawn (the run on the main map)."""
        self._thumbs: list[Thumb] = []
        self._hint = "waiting for the first snapshot"
        self._key: tuple[object, ...] | None = None
        self._strips: list[Strip] = []
        self._built_for: tuple[object, ...] | None = None
        self._index_cache: dict[tuple[int, int, int, int], tuple[Indices, Indices]] = {}

    def view_key(self) -> Hashable:
        return (self.glyphs, self.run_index)

    def draw(self, snapshot: Snapshot) -> None:
        run = snapshot.runs[min(self.run_index, len(snapshot.runs) - 1)]
        grid = run.grid
        self._key = (snapshot.revision, self.view_key())
        self._thumbs = []
        if grid is None:
            self._hint = "no neuron maps: this view has no grid of the plane"
        elif not grid.hidden:
            self._hint = "no hidden layers: nothing to map"
        else:
            for i, hidden in enumerate(grid.hidden):
                status = run.layers[i].status if i < len(run.layers) else ()
                for j in range(hidden.shape[0]):
                    state = status[j] if j < len(status) else "ok"
                    self._thumbs.append(Thumb(f"L{i + 1}.{j + 1}", state, normalise(hidden[j])))
        self._built_for = None
        self.refresh()

    def on_resize(self, event: Resize) -> None:
        self.refresh()

    def _indices(self, grid_h: int, grid_w: int, rows: int, cells: int) -> tuple[Indices, Indices]:
        key = (grid_h, grid_w, rows, cells)
        if key not in self._index_cache:
            self._index_cache[key] = (nearest(grid_h, rows), nearest(grid_w, cells))
        return self._index_cache[key]

    def _label(self, thumb: Thumb, cells: int, base: Style) -> list[Segment]:
        """The name in its status colour (and a mark if it fits), within ``cells``.

        No segment starts with a blank: some SVG renderers drop leading blanks.
        """
        marked = thumb.status in STATUS_MARKS
        name = fit_name(thumb.label, cells - 2 if marked else cells)
        if marked and not thumb.label.endswith(name):  # never cut a name to make room
            name, marked = fit_name(thumb.label, cells), False
        kind = thumb.status if thumb.status in STATUS_MARKS else "label"
        style = base + text_style(self, f"neuron-maps--{kind}")
        segments = [Segment(name, style)]
        if marked and len(name) + 2 <= cells:
            mark = STATUS_MARKS[thumb.status][1 if self.glyphs else 0]
            segments += [Segment(" ", base), Segment(mark, style)]
        return segments

    def _hatch(self, layout: Layout, base: Style) -> list[list[Segment]]:
        """A dead unit's map: a uniform hatched block the size of every other map."""
        style = base + text_style(self, "neuron-maps--hatch", pattern=True)
        line = [Segment(("/" if self.glyphs else "╱") * layout.width, style)]
        return [line] * layout.lines

    def _map_lines(self, thumb: Thumb, layout: Layout, base: Style) -> list[list[Segment]]:
        if thumb.status == "dead":
            return self._hatch(layout, base)
        grid_h, grid_w = thumb.values.shape
        if self.glyphs:
            rows, cols = self._indices(grid_h, grid_w, layout.lines, layout.width)
            sample = np.abs(thumb.values[np.ix_(rows, cols)])
            top = len(ASCII_ACTIVATION_GLYPHS) - 1
            level = np.where(np.isfinite(sample), np.clip(sample * top + 0.5, 0, top), 0)
            return [
                [Segment("".join(ASCII_ACTIVATION_GLYPHS[int(v)] for v in row), base)]
                for row in level.tolist()
            ]
        rows, cols = self._indices(grid_h, grid_w, 2 * layout.lines, layout.width)
        sample = thumb.values[np.ix_(rows, cols)]
        scaled = (np.nan_to_num(sample, nan=0.0, posinf=1.0, neginf=-1.0) + 1) * LEVELS
        index = np.clip(scaled.astype(np.int64), 0, 2 * LEVELS - 1)
        index[np.isnan(sample)] = LEVELS
        index = index.tolist()
        style = self.palette.activation_style
        return [
            [Segment("▀", style(t, b)) for t, b in zip(upper, lower, strict=True)]
            for upper, lower in zip(index[0::2], index[1::2], strict=True)
        ]

    def _build(self, width: int, height: int) -> list[Strip]:
        base = self.rich_style
        if not self._thumbs:
            return [Strip([Segment(self._hint[:width], base)])] if width > 0 else []
        grid_h, grid_w = self._thumbs[0].values.shape
        layout = plan(len(self._thumbs), grid_w, grid_h, width, height)
        strips: list[Strip] = []
        gap = Segment(" ", base)
        for start in range(0, len(self._thumbs), layout.columns):
            row = self._thumbs[start : start + layout.columns]
            blocks = [
                [self._label(t, layout.width, base), *self._map_lines(t, layout, base)] for t in row
            ]
            for line in range(layout.lines + 1):
                segments: list[Segment] = []
                for k, block in enumerate(blocks):
                    if k:
                        segments.append(gap)
                    cell = Strip(block[line]).adjust_cell_length(layout.width, base)
                    segments.extend(cell)
                strips.append(Strip(segments).simplify())
        return strips

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        built_for = (width, height, self._key, self.glyphs)
        if built_for != self._built_for:
            self._strips = self._build(width, height)
            self._built_for = built_for
        style = self.rich_style
        if y >= len(self._strips):
            return Strip.blank(width, style)
        return self._strips[y].crop_extend(0, width, style)
