"""The main map: any run's decision over the plane, or where two runs disagree.

One Line-API widget over ``tui_nn.plane``. Each text cell is two pixels stacked ('▀':
foreground = upper pixel, background = lower pixel), so a map of w x h cells shows a w x 2h
grid of model outputs, which the screen asks the session for once per frame. The data, the
experiment's marks (probe points, radius circles) and the probe cursor are drawn on top.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.events import Click
from textual.strip import Strip

from engine.metrics import Extent
from engine.snapshot import Snapshot
from engine.twins import DIFFERENCE
from tui_nn.messages import MapClicked
from tui_nn.plane import (
    ARROW_HEADS,
    ASCII_ARROW_HEADS,
    ASCII_CLASS_GLYPHS,
    ASCII_SHAFTS,
    CLASSES_SHOWN,
    SHAFTS,
    Raster,
    cell_of,
    experiment_marks,
    fit_aspect,
    own_marks,
    pane_count,
    panes,
    rasterise,
)
from tui_nn.widgets.palette import text_style
from tui_nn.widgets.panel import Panel

ZOOMS = (1.0, 4.0, 25.0, 100.0)
"""Factors by which `z` widens the view around the scenario's display range, in turn."""

HALF = "▀"
POINT_GLYPHS = {
    "train": "●",
    "test": "○",
    "flipped": "✖",
    "added": "■",
    "mark": "◆",
    "cross": "✚",
    "target": "◎",
}
ASCII_POINT_GLYPHS = {"flipped": "!", "added": "+", "mark": "*", "cross": "&", "target": "$"}
GAP = "│"
"""Between panes drawn side by side."""
PROBE_GLYPH = "╋"
ASCII_PROBE_GLYPH = "#"


@dataclass(frozen=True)
class MapView:
    """What the map shows: one run, or the difference of two."""

    runs: tuple[int, ...]
    """One run index, or the two compared."""

    @property
    def difference(self) -> bool:
        return len(self.runs) == 2

    def title(self, snapshot: Snapshot) -> str:
        labels = [snapshot.runs[i].label for i in self.runs if i < len(snapshot.runs)]
        if self.difference and len(labels) == 2:
            return f"where {labels[0]} and {labels[1]} disagree"
        return labels[0] if labels else ""


def map_views(snapshot: Snapshot) -> list[MapView]:
    """The views `t` cycles through: every run, then the difference of the compared pair."""
    views = [MapView((i,)) for i in range(len(snapshot.runs))]
    if len(snapshot.runs) > 1:
        views.append(MapView(snapshot.compare))
    return views


def opening_view(snapshot: Snapshot) -> MapView:
    """The view a scenario opens on (its `display.view`), else the baseline."""
    if snapshot.view == DIFFERENCE and len(snapshot.runs) > 1:
        return MapView(snapshot.compare)
    index = snapshot.run_index(snapshot.view) if snapshot.view else None
    return MapView((index or 0,))


class BoundaryMap(Panel):
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

    def __init__(self, base_extent: Extent, *, glyphs: bool = False, **kwargs: object) -> None:
        super().__init__(glyphs=glyphs, **kwargs)
        self.base_extent = base_extent
        """The scenario's display range (zoom factor 1)."""
        self.zoom_index = 0
        """Index into ZOOMS."""
        self.view = MapView((0,))
        """The run (or pair of runs) shown."""
        self.show_test = True
        """Whether the test points are drawn."""
        self.hard = False
        """Discretized: each cell in its predicted class's colour, no confidence shading."""
        self.neuron: tuple[int, int] | None = None
        """(hidden layer, unit) whose activation is drawn instead of the output, or None."""
        self.probe = self._centre()
        """The probe's point in the plane (data coordinates)."""
        self.stale = False
        """True when the last snapshot shown was taken for another extent or view (the map
        has not drawn it); the screen then takes a fresh one."""
        self.raster: Raster | None = None
        """The (first) picture last built (for tests and the legend)."""
        self.rasters: list[Raster] = []
        """Every pane's picture, left to right."""
        self.pane_labels: list[str] = []
        """What each pane shows, when there are several ('trigger off', ...)."""
        self._rows: dict[int, Strip] = {}

    # -- geometry ------------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        """The current zoom factor."""
        return ZOOMS[self.zoom_index]

    @property
    def requested_extent(self) -> Extent:
        """The scenario's display range at this zoom."""
        return self.base_extent.scaled(self.zoom) if self.zoom != 1 else self.base_extent

    @property
    def extent(self) -> Extent:
        """The rectangle of the plane the map shows: the requested range, grown on one side
        so that circles stay round at each pane's shape.

        Panes an experiment computed over the scenario's own range (an extracted copy beside
        its victim) keep that exact range, so the panes match cell for cell; planes that
        follow the map (an ensemble's answer) are computed for whatever range it asks.
        """
        wanted = self.requested_extent
        if self.size.area == 0:
            return wanted
        k = self.panes_shown()
        snapshot = self.snapshot
        run = snapshot.runs[self.view.runs[0]] if snapshot is not None else None
        fixed = snapshot is None or any(
            not p.tracks for v in snapshot.experiments for p in v.planes
        )
        if k > 1 and (run is None or not run.slices) and fixed:
            return wanted
        return fit_aspect(wanted, self.pane_width(), self.size.height)

    def panes_shown(self) -> int:
        """How many panes sit side by side (from the last snapshot and the current view)."""
        return pane_count(self.snapshot, self.view.runs, self.requested_extent)

    def pane_width(self) -> int:
        """Cells across one pane (panes are separated by one column)."""
        k = self.panes_shown()
        return max(1, (self.size.width - (k - 1)) // k)

    def grid_size(self) -> tuple[int, int]:
        """(width, height) of the pixel grid the map needs: one column per cell, two rows."""
        return max(self.pane_width(), 8), 2 * max(self.size.height, 4)

    def _centre(self) -> tuple[float, float]:
        e = self.base_extent
        return ((e.x_min + e.x_max) / 2, (e.y_min + e.y_max) / 2)

    def set_base_extent(self, extent: Extent) -> None:
        """A new scenario: its display range, zoom 1, the probe in the middle."""
        self.base_extent = extent
        self.zoom_index = 0
        self.probe = self._centre()
        self.invalidate()

    def cycle_zoom(self) -> float:
        """Widen the view to the next zoom factor (after the last, back to 1); returns it.

        The probe stays where it is in the plane; only if it falls outside the new view does
        it move, to the view's centre.
        """
        self.zoom_index = (self.zoom_index + 1) % len(ZOOMS)
        if not self._inside(*self.probe):
            e = self.extent
            self.probe = ((e.x_min + e.x_max) / 2, (e.y_min + e.y_max) / 2)
        self.invalidate()
        return self.zoom

    def zoom_to_fit(self, x: float, y: float) -> None:
        """Zoom out just far enough that (x, y) is in view."""
        while not self._inside(x, y) and self.zoom_index < len(ZOOMS) - 1:
            self.zoom_index += 1
        self.invalidate()

    def on_resize(self) -> None:
        self.invalidate()  # the extent follows the map's shape

    def _inside(self, x: float, y: float) -> bool:
        e = self.extent
        return e.x_min <= x <= e.x_max and e.y_min <= y <= e.y_max

    def move_probe(self, dx: int, dy: int) -> tuple[float, float]:
        """Move the probe by whole cells (dy > 0 is up), onto a cell centre inside the view.

        The probe lands on the centre of its cell, so what the readout reports is the model's
        output at exactly the point the cursor marks.
        """
        e = self.extent
        w, h = self.pane_width(), max(self.size.height, 1)
        row, col, _ = cell_of(*self.probe, e, w, h)
        col = min(max(col + dx, 0), w - 1)
        row = min(max(row - dy, 0), h - 1)
        cw, ch = (e.x_max - e.x_min) / w, (e.y_max - e.y_min) / h
        self.place_probe(e.x_min + (col + 0.5) * cw, e.y_max - (row + 0.5) * ch)
        return self.probe

    def place_probe(self, x: float, y: float) -> None:
        """Put the probe at exactly (x, y), zooming out if that is outside the view."""
        self.probe = (x, y)
        if not self._inside(x, y):
            self.zoom_to_fit(x, y)
        self._rows.clear()
        self.refresh()

    def set_view(self, view: MapView) -> None:
        """Show this run, or this pair's difference."""
        if view != self.view:
            self.view = view
            self.invalidate()

    def set_show_test(self, show: bool) -> None:
        """Draw the test points, or hide them."""
        if show != self.show_test:
            self.show_test = show
            self.invalidate()

    def set_hard(self, hard: bool) -> None:
        """Hard class colours (discretized), or shades of confidence."""
        if hard != self.hard:
            self.hard = hard
            self.invalidate()

    def set_neuron(self, neuron: tuple[int, int] | None) -> None:
        """Draw this hidden neuron's activation over the plane (None: the output again)."""
        if neuron != self.neuron:
            self.neuron = neuron
            self.invalidate()

    def point_at(self, col: int, row: int) -> tuple[float, float]:
        """The plane's point at the centre of a cell of the map."""
        e = self.extent
        w, h = max(self.size.width, 1), max(self.size.height, 1)
        cw, ch = (e.x_max - e.x_min) / w, (e.y_max - e.y_min) / h
        return e.x_min + (col + 0.5) * cw, e.y_max - (row + 0.5) * ch

    def on_click(self, event: Click) -> None:
        """A click puts the probe there, and says so (the screen may edit the data there)."""
        x, y = self.point_at(event.x, event.y)
        self.place_probe(x, y)
        self.post_message(MapClicked(x, y, event.button))

    def grid_runs(self) -> tuple[int, ...]:
        """The runs whose grid the map needs."""
        return self.view.runs

    # -- data ----------------------------------------------------------------------------

    def view_key(self) -> Hashable:
        return (
            self.glyphs,
            self.view,
            self.extent,
            self.show_test,
            self.hard,
            self.neuron,
            tuple(self.size),
        )

    def draw(self, snapshot: Snapshot) -> None:
        shown = panes(snapshot, self.view.runs, test=self.show_test)
        first = shown[0] if shown else None
        if (
            first is None
            or first.grid.extent != self.extent
            or (self.view.difference and first.other is None)
        ):
            self.invalidate()  # a snapshot taken for another view: wait for the next one
            self.stale = True
            return
        self.stale = False
        run = snapshot.runs[self.view.runs[0]]
        marks = experiment_marks(snapshot, run.key)
        width = max(1, (self.size.width - (len(shown) - 1)) // len(shown))
        n_outputs = snapshot.baseline.layers[-1].n_out
        neuron = self.neuron
        hidden = first.grid.hidden
        if neuron is not None and (
            neuron[0] >= len(hidden) or neuron[1] >= hidden[neuron[0]].shape[0]
        ):
            neuron = None
        self.rasters = [
            rasterise(
                p.grid,
                width,
                self.size.height,
                n_outputs=n_outputs,
                points=p.points,
                other=p.other if neuron is None else None,
                marks=marks if i == 0 else own_marks(marks),
                hard=self.hard,
                neuron=neuron,
            )
            for i, p in enumerate(shown)
        ]
        self.pane_labels = [p.label for p in shown] if len(shown) > 1 else []
        self.raster = self.rasters[0]
        self._rows.clear()
        self.refresh()

    def invalidate(self) -> None:
        super().invalidate()
        self._rows.clear()
        self.refresh()

    # -- drawing -------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        strip = self._rows.get(y)
        if strip is None:
            strip = self._rows[y] = self._render_row(y).adjust_cell_length(width, self.rich_style)
        return strip

    def _render_row(self, y: int) -> Strip:
        if not self.rasters or y >= self.rasters[0].height:
            return Strip.blank(self.size.width, self.rich_style)
        label = text_style(self, "boundary-map--label")
        segments: list[Segment] = []
        for i, raster in enumerate(self.rasters):
            if i:
                segments.append(Segment(GAP, label))
            part = self._pane_row(raster, y)
            if y == 0 and i < len(self.pane_labels) and self.pane_labels[i]:
                text = f" {self.pane_labels[i]} "[: raster.width]
                part[: len(text)] = [Segment(ch, label) for ch in text]
            segments += part
        self._draw_labels(y, self.rasters, segments)
        return Strip(segments).simplify()

    def _pane_row(self, raster: Raster, y: int) -> list[Segment]:
        top = raster.colours[2 * y].tolist()
        bottom = raster.colours[2 * y + 1].tolist()
        if self.glyphs:
            segments = [self._ascii_cell(raster, y, c) for c in range(raster.width)]
        else:
            pair_style = self.palette.pair_style
            segments = [Segment(HALF, pair_style(t, b)) for t, b in zip(top, bottom, strict=True)]
        for (row, col), (kind, cls) in raster.points.items():
            if row == y and col < len(segments):
                segments[col] = self._point(kind, cls, top[col])
        self._draw_probe(y, raster, segments, top)
        return segments

    def _ascii_cell(self, raster: Raster, row: int, col: int) -> Segment:
        glyph = raster.glyph(row, col)
        cls = int(raster.classes[row, col]) % CLASSES_SHOWN
        glyphs = ASCII_CLASS_GLYPHS[cls]
        if glyph not in glyphs:
            return Segment(glyph, Style(bold=True))
        return Segment(glyph, self.palette.class_style(cls, dim=glyphs.index(glyph) < 2))

    def _point(self, kind: str, cls: int, background: int) -> Segment:
        if kind in ("head", "shaft"):
            if kind == "head":
                glyph = (ASCII_ARROW_HEADS if self.glyphs else ARROW_HEADS)[cls % 8]
            else:
                glyph = (ASCII_SHAFTS if self.glyphs else SHAFTS)[cls % 4]
            style = (
                Style(bold=True) if self.glyphs else self.palette.point_style(kind, 0, background)
            )
            return Segment(glyph, style)
        if self.glyphs:
            text = ASCII_POINT_GLYPHS.get(kind, str(cls % 10))
            style = self.palette.class_style(cls, bold=True, reverse=kind in ("train", "flipped"))
            return Segment(text, style)
        return Segment(POINT_GLYPHS.get(kind, "●"), self.palette.point_style(kind, cls, background))

    def _draw_probe(self, y: int, raster: Raster, segments: list[Segment], top: list[int]) -> None:
        row, col, _ = cell_of(*self.probe, raster.extent, raster.width, raster.height)
        if row != y or not 0 <= col < len(segments):
            return
        style = text_style(self, "boundary-map--probe")
        if self.glyphs:
            segments[col] = Segment(ASCII_PROBE_GLYPH, style + Style(reverse=True))
        else:
            # Black or white, whichever reads on the pixel under it, in any theme.
            background = Style(bgcolor=self.palette.pixel[top[col]])
            cursor = background + self.palette.contrast_style(top[col])
            segments[col] = Segment(PROBE_GLYPH, cursor)

    def _draw_labels(self, y: int, rasters: list[Raster], segments: list[Segment]) -> None:
        """The corners' coordinates: top right (x_max, y_max), bottom left (x_min, y_min)."""
        w, h = len(segments), rasters[0].height
        e = rasters[0].extent
        if y == 0:
            text = f"({_num(e.x_max)}, {_num(e.y_max)})"
            start = w - len(text)
        elif y == h - 1:
            text = f"({_num(e.x_min)}, {_num(e.y_min)})"
            start = 0
        else:
            return
        if start < 0 or len(text) * 3 > rasters[-1].width or h < 4:
            return
        style = text_style(self, "boundary-map--label")
        for i, ch in enumerate(text):
            segments[start + i] = Segment(ch, style)


def _num(value: float) -> str:
    """A coordinate short enough for a corner label."""
    return f"{value:.3g}"
