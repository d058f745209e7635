"""A baseline and one of its twins side by side, and how far apart they have drifted.

Twins are the runs an experiment trains in lock-step with the baseline: a weight nudged by
1e-14, labels flipped, lower precision. Each side gets a small decision-boundary map with the
training points; below them, sparklines follow the twin's drift per epoch: the largest
weight difference (log10), the training-loss difference and the share of the plane where the
two runs predict different classes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.containers import Container, Horizontal, Vertical
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Sparkline, Static

from engine.metrics import GridOutputs
from engine.snapshot import RunView, Snapshot
from tui_nn.widgets.architecture_view import snapshot_key
from tui_nn.widgets.loss_panel import downsample
from tui_nn.widgets.palette import (
    CLASS_RGB,
    LEVELS,
    PROBABILITY_RAMP,
    PROBABILITY_STYLES,
    ascii_glyph,
)

NO_TWIN_HINT = (
    "This scenario has no twin run (twins come from the poison, butterfly and precision "
    "experiments)."
)
"""What the panel says for a scenario without twins."""
POINT_RGB = tuple(tuple(round(c + (255 - c) * 0.55) for c in rgb) for rgb in CLASS_RGB)
"""Training points: the class colours lightened so they stand out on their own region."""


@dataclass(frozen=True)
class Points:
    """Data points to draw over a plane: coordinates, labels, and indices to mark."""

    xy: npt.NDArray[np.float64]
    labels: npt.NDArray[np.int64]
    marked: frozenset[int] = frozenset()


def _nearest(source: int, target: int) -> npt.NDArray[np.intp]:
    return np.minimum(source - 1, ((np.arange(target) + 0.5) * source / target).astype(np.intp))


def _point_cells(
    grid: GridOutputs, points: Points, width: int, rows: int
) -> dict[tuple[int, int], tuple[int, bool]]:
    """Map each point to its (row, column) cell: {cell: (label, marked)}; last point wins."""
    e = grid.extent
    cells: dict[tuple[int, int], tuple[int, bool]] = {}
    if not len(points.xy):
        return cells
    col = np.floor((points.xy[:, 0] - e.x_min) / (e.x_max - e.x_min) * width)
    row = np.floor((e.y_max - points.xy[:, 1]) / (e.y_max - e.y_min) * rows)
    inside = (col >= 0) & (col < width) & (row >= 0) & (row < rows)
    for i in np.flatnonzero(inside).tolist():
        cells[(int(row[i]), int(col[i]))] = (int(points.labels[i]), i in points.marked)
    return cells


def render_plane(
    grid: GridOutputs,
    width: int,
    height: int,
    points: Points | None = None,
    glyphs: bool = False,
    base: Style | None = None,
) -> list[Strip]:
    """Draw a run's decision regions (and data points) into ``height`` strips of ``width`` cells.

    Colour mode uses half-block cells (two pixels each) on the probability ramp: blue for
    class 0, grey for undecided, orange for class 1 (with more classes, even classes take the
    blue side and odd ones the orange side). Glyph mode uses one ASCII glyph per cell whose
    shape is the class and whose density is the confidence; points are their label's digit.

    Args:
        grid: The run's outputs over a grid of the plane (any resolution; sampled nearest).
        width: Cells across.
        height: Lines down.
        points: Points drawn on top: '•' (or the digit) by label, '×' (or '!') when marked.
        glyphs: ASCII glyphs instead of colour.
        base: Style of glyph-mode text (the widget's colours).

    Returns:
        One strip per line (empty for a zero-sized area).
    """
    if width <= 0 or height <= 0:
        return []
    out = grid.output
    classes = grid.classes
    conf = np.maximum(out, 1 - out)
    overlay = _point_cells(grid, points, width, height) if points is not None else {}
    cols = _nearest(out.shape[1], width)
    strips = []
    if glyphs:
        rows = _nearest(out.shape[0], height)
        cls = classes[np.ix_(rows, cols)].tolist()
        sure = conf[np.ix_(rows, cols)].tolist()
        for r in range(height):
            chars = []
            for c in range(width):
                if (r, c) in overlay:
                    label, marked = overlay[(r, c)]
                    chars.append("!" if marked else str(label % 10))
                else:
                    chars.append(ascii_glyph(cls[r][c], sure[r][c]))
            strips.append(Strip([Segment("".join(chars), base)]))
        return strips
    rows = _nearest(out.shape[0], 2 * height)
    odd = (classes % 2 == 1)[np.ix_(rows, cols)]
    sure_px = conf[np.ix_(rows, cols)]
    p = np.where(odd, sure_px, 1 - sure_px)
    index = np.clip(np.nan_to_num(p, nan=0.5) * 2 * LEVELS, 0, 2 * LEVELS - 1).astype(np.int64)
    index[np.isnan(p)] = LEVELS
    cells = index.tolist()
    for r in range(height):
        upper, lower = cells[2 * r], cells[2 * r + 1]
        segments = []
        for col, (t, b) in enumerate(zip(upper, lower, strict=True)):
            if (r, col) in overlay:
                label, marked = overlay[(r, col)]
                segments.append(Segment("×" if marked else "•", _point_style(label, t)))
            else:
                segments.append(Segment("▀", PROBABILITY_STYLES[t][b]))
        strips.append(Strip(segments).simplify())
    return strips


_POINT_STYLES: dict[tuple[int, int], Style] = {}


def _point_style(label: int, background: int) -> Style:
    key = (label % len(POINT_RGB), background)
    if key not in _POINT_STYLES:
        rgb = POINT_RGB[key[0]]
        _POINT_STYLES[key] = Style(
            color=Color.from_rgb(*rgb), bgcolor=PROBABILITY_RAMP[background], bold=True
        )
    return _POINT_STYLES[key]


class PlaneView(Widget):
    """A small decision-boundary map of one run (Line API)."""

    DEFAULT_CSS = """
    PlaneView {
        height: 1fr;
        width: 1fr;
    }
    """

    glyphs = reactive(False, init=False)
    """Glyph mode: ASCII glyphs instead of colour."""

    def __init__(self, *, glyphs: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.set_reactive(PlaneView.glyphs, glyphs)
        self._grid: GridOutputs | None = None
        self._points: Points | None = None
        self._key: object = None
        self._strips: list[Strip] = []
        self._built_for: tuple[object, ...] | None = None

    def show_plane(self, grid: GridOutputs | None, points: Points | None, key: object) -> None:
        """Draw this grid and these points, unless ``key`` says they are already drawn."""
        if key == self._key:
            return
        self._grid, self._points, self._key = grid, points, key
        self.refresh()

    def watch_glyphs(self) -> None:
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        built_for = (width, height, self._key, self.glyphs)
        if built_for != self._built_for:
            self._built_for = built_for
            if self._grid is None:
                hint = "no grid" if self._key is not None else ""
                self._strips = [Strip([Segment(hint[:width], self.rich_style)])] if width else []
            else:
                self._strips = render_plane(
                    self._grid, width, height, self._points, self.glyphs, self.rich_style
                )
        if y >= len(self._strips):
            return Strip.blank(width, self.rich_style)
        return self._strips[y].crop_extend(0, width, self.rich_style)


def _fmt(value: float, spec: str) -> str:
    return format(value, spec) if math.isfinite(value) else "--"


def run_title(run: RunView) -> str:
    """Two lines about a run: label and dtype, then loss, accuracy and no-op share.

    The dtype is added only when the label does not already name it ("float32", not
    "float32 (float32)").
    """
    first = run.label if run.dtype in run.label else f"{run.label} ({run.dtype})"
    second = f"loss {_fmt(run.train_loss, '.4g')} acc {_fmt(run.train_accuracy, '.1%')}"
    second += f" noop {_fmt(run.noop_share, '.0%')}"
    if run.blowup:
        second += " NaN"
    return f"{first}\n{second}"


def log_series(values: Sequence[float]) -> list[float]:
    """log10 of the positive finite values; zeros sit at the smallest positive value's log."""
    logs = [math.log10(v) for v in values if math.isfinite(v) and v > 0]
    floor = min(logs, default=0.0)
    return [math.log10(v) if v > 0 else floor for v in values if math.isfinite(v) and v >= 0]


class TwinPanel(Container):
    """Baseline and twin ``twin_index`` side by side, with their drift over the epochs.

    Args:
        glyphs: Glyph mode: ASCII maps without colour.
        **kwargs: The usual widget arguments (id, classes, ...).
    """

    DEFAULT_CSS = """
    TwinPanel {
        height: 1fr;
        layout: vertical;
    }
    TwinPanel #twin-hint {
        color: $text-muted;
        height: auto;
    }
    TwinPanel #twin-maps {
        height: 1fr;
    }
    TwinPanel .twin-side {
        width: 1fr;
        height: 1fr;
    }
    TwinPanel #twin-side-twin {
        margin-left: 1;
    }
    TwinPanel .twin-title {
        height: 2;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    TwinPanel #twin-diffs {
        height: auto;
    }
    TwinPanel .twin-diff {
        height: 1;
    }
    TwinPanel .twin-diff > Static {
        width: 24;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    TwinPanel .twin-diff > Sparkline {
        width: 1fr;
    }
    TwinPanel.-no-twin #twin-maps, TwinPanel.-no-twin #twin-diffs {
        display: none;
    }
    """

    glyphs = reactive(False, init=False)
    """Glyph mode: ASCII maps without colour."""
    twin_index = reactive(0, init=False)
    """Which twin is compared with the baseline: 0 is runs[1]."""

    def __init__(self, *, glyphs: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.set_reactive(TwinPanel.glyphs, glyphs)
        self._snapshot: Snapshot | None = None
        self._key: tuple[object, ...] | None = None
        self.maps = (
            PlaneView(glyphs=glyphs, id="twin-map-baseline"),
            PlaneView(glyphs=glyphs, id="twin-map-twin"),
        )
        self.add_class("-no-twin")

    def compose(self) -> ComposeResult:
        yield Static("waiting for the first snapshot", id="twin-hint")
        with Horizontal(id="twin-maps"):
            for side, plane in zip(("baseline", "twin"), self.maps, strict=True):
                with Vertical(id=f"twin-side-{side}", classes="twin-side"):
                    yield Static("", id=f"twin-title-{side}", classes="twin-title")
                    yield plane
        with Vertical(id="twin-diffs"):
            for name in ("dw", "loss", "disagree"):
                with Horizontal(classes="twin-diff"):
                    yield Static("", id=f"twin-{name}-label")
                    yield Sparkline((), id=f"twin-{name}-spark")

    def show(self, snapshot: Snapshot) -> None:
        """Show the baseline and the selected twin, unless this epoch is already shown."""
        grid = snapshot.baseline.grid
        view = None if grid is None else (grid.output.shape, grid.extent)
        key = (*snapshot_key(snapshot), self.twin_index, len(snapshot.twin_diffs), view)
        if key == self._key:
            return
        self._key = key
        self._snapshot = snapshot
        self._redraw()

    def on_mount(self) -> None:
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def watch_twin_index(self) -> None:
        self._key = None
        self._redraw()

    def watch_glyphs(self, glyphs: bool) -> None:
        for plane in self.maps:
            plane.glyphs = glyphs
        self._redraw()

    @property
    def twin(self) -> int:
        """The twin actually shown: ``twin_index`` clamped to the twins there are."""
        count = 0 if self._snapshot is None else len(self._snapshot.twin_diffs)
        return min(max(0, self.twin_index), max(0, count - 1))

    def _redraw(self) -> None:
        snapshot = self._snapshot
        if snapshot is None or not self.is_mounted:
            return
        has_twin = len(snapshot.runs) > 1 and bool(snapshot.twin_diffs)
        self.set_class(not has_twin, "-no-twin")
        hint = self.query_one("#twin-hint", Static)
        hint.display = not has_twin
        if not has_twin:
            hint.update(NO_TWIN_HINT)
            return
        i = self.twin
        runs = (snapshot.baseline, snapshot.runs[i + 1])
        poisoned = frozenset(snapshot.poisoned.tolist())
        points = Points(snapshot.x_train, snapshot.y_train, poisoned)
        for side, run, plane, index in zip(
            ("baseline", "twin"), runs, self.maps, (0, i + 1), strict=True
        ):
            self.query_one(f"#twin-title-{side}", Static).update(run_title(run))
            plane.show_plane(run.grid, points, (self._key, index))
        self._show_diffs(snapshot, i)

    def _show_diffs(self, snapshot: Snapshot, i: int) -> None:
        diff = snapshot.twin_diffs[i]
        dw = diff.max_abs_dw[-1] if diff.max_abs_dw else math.nan
        loss = diff.loss_difference[-1] if diff.loss_difference else math.nan
        share = diff.disagreement[-1] if diff.disagreement else math.nan
        delta = "dloss" if self.glyphs else "Δloss"
        rows = (
            ("dw", f"max|dW| {_fmt(dw, '.2e')} (log)", log_series(diff.max_abs_dw)),
            ("loss", f"{delta} {_fmt(loss, '.2e')}", diff.loss_difference),
            ("disagree", f"disagree {_fmt(share, '.1%')}", diff.disagreement),
        )
        for name, label, series in rows:
            spark = self.query_one(f"#twin-{name}-spark", Sparkline)
            values = [v for v in series if math.isfinite(v)]
            spark.data = downsample(values, spark.size.width or len(values))
            self.query_one(f"#twin-{name}-label", Static).update(label)
