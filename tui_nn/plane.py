"""The one plane rasteriser: a run's output over the plane, with the data on top, as cells.

Every picture of the plane (the trainer's map, the headless report) is built here, as plain
arrays: per pixel a colour index, per cell a glyph class and confidence, and the points and
marks on top. A cell is two pixels stacked (drawn as '▀'), so colour pictures have 2h pixel
rows; glyph pictures have one glyph per cell. Drawing those arrays in a terminal style or in
plain characters is the caller's job; this module imports neither Textual nor Rich.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from engine.experiments.view import Mark
from engine.metrics import Extent, GridOutputs
from engine.snapshot import Snapshot

LEVELS = 16
"""Shades per side of the two-class ramp, and per class of the many-class ramps."""
CLASSES_SHOWN = 4
"""Classes with a colour of their own; further classes reuse them in turn."""
MULTI = 2 * LEVELS
"""First index of the many-class ramps: MULTI + class * LEVELS + level."""
FADED = MULTI + CLASSES_SHOWN * LEVELS
"""FADED + class: a faint class colour (the difference view's agreeing cells)."""
DISAGREE = FADED + CLASSES_SHOWN
"""The difference view's colour for cells where the two runs disagree."""
RING = DISAGREE + 1
"""The colour of circles drawn over the plane (the OOD radii)."""
ACTIVATION = RING + 1
"""First index of the activation ramp (a neuron's map): ACTIVATION + 0..2*LEVELS-1."""
COLOURS = ACTIVATION + 2 * LEVELS
"""How many colour indices there are."""

ASCII_CLASS_GLYPHS = (".-o@", ".+xX", ".~sS", ".=zZ")
"""Per class, glyphs for confidence below 0.6, 0.8, 0.95, and at least 0.95. No letter O: data
points are drawn as their class digit, and 0 must not hide among O's."""
ASCII_DISAGREE = "%"
ASCII_RING = ":"
ARROW_HEADS = "→↗↑↖←↙↓↘"
"""An arrow's head by the octant it points to, counter-clockwise from east."""
ASCII_ARROW_HEADS = ">/^\\</v\\"
SHAFTS = "─╱│╲"
"""An arrow's or a line's cells by its direction (octant mod 4)."""
ASCII_SHAFTS = "-/|\\"
MARK_KINDS = {"point": "mark", "cross": "cross", "target": "target"}
"""Mark kind -> the kind of point it is drawn as."""

Indices = npt.NDArray[np.intp]


def ascii_glyph(cls: int, confidence: float) -> str:
    """The glyph for a cell whose predicted class is ``cls`` at this confidence."""
    glyphs = ASCII_CLASS_GLYPHS[cls % len(ASCII_CLASS_GLYPHS)]
    if confidence != confidence:  # NaN
        return "?"
    level = 0 if confidence < 0.6 else 1 if confidence < 0.8 else 2 if confidence < 0.95 else 3
    return glyphs[level]


def nearest(source: int, target: int) -> Indices:
    """Indices of ``target`` evenly spaced samples (cell centres) of ``source`` values."""
    return np.minimum(source - 1, ((np.arange(target) + 0.5) * source / target).astype(np.intp))


def colour_indices(grid: GridOutputs, n_outputs: int) -> npt.NDArray[np.int64]:
    """Per grid point, a colour index from the model's output and predicted class.

    One sigmoid output, or two softmax classes: the two-class ramp from sure class 0 through
    undecided to sure class 1. More classes: the predicted class's own ramp, by how far its
    probability is above a uniform guess.
    """
    value = grid.output
    if n_outputs > 2:
        floor = 1.0 / n_outputs
        share = (value - floor) / (1.0 - floor)
        level = np.clip(np.nan_to_num(share * LEVELS, nan=0.0), 0, LEVELS - 1).astype(np.int64)
        return MULTI + (grid.classes % CLASSES_SHOWN) * LEVELS + level
    if n_outputs == 2:
        value = np.where(grid.classes == 1, value, 1.0 - value)
    scaled = np.nan_to_num(value * MULTI, nan=float(LEVELS), posinf=MULTI - 1, neginf=0.0)
    return np.clip(scaled, 0, MULTI - 1).astype(np.int64)


def hard_indices(grid: GridOutputs, n_outputs: int) -> npt.NDArray[np.int64]:
    """Per grid point, the sure colour of its predicted class (the discretized map)."""
    if n_outputs > 2:
        return MULTI + (grid.classes % CLASSES_SHOWN) * LEVELS + LEVELS - 1
    return np.where(grid.classes == 1, MULTI - 1, 0).astype(np.int64)


def neuron_values(grid: GridOutputs, layer: int, unit: int) -> npt.NDArray[np.float64]:
    """One hidden neuron's activations over the grid, scaled to [-1, 1] by the largest."""
    values = grid.hidden[layer][unit]
    magnitude = np.abs(values[np.isfinite(values)])
    top = float(magnitude.max()) if magnitude.size else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def class_confidence(grid: GridOutputs, n_outputs: int) -> npt.NDArray[np.float64]:
    """Per grid point, the probability of the predicted class."""
    if n_outputs > 1:
        return grid.output
    return np.maximum(grid.output, 1.0 - grid.output)


@dataclass(frozen=True)
class Points:
    """One layer of data points drawn over the plane."""

    kind: str
    """'train', 'test', 'flipped', 'mark' (an experiment's point), 'cross' (a recovered
    point), 'target' (the real point it came from) or 'head' (an arrow's head; the label is
    its octant)."""
    xy: npt.NDArray[np.float64]
    labels: npt.NDArray[np.int64]


@dataclass(frozen=True)
class Raster:
    """A picture of the plane, ``width`` cells across and ``height`` lines down."""

    extent: Extent
    width: int
    height: int
    colours: npt.NDArray[np.int64]
    """(2 * height, width) colour indices, one per pixel (half a cell)."""
    classes: npt.NDArray[np.int64]
    """(height, width) predicted class per cell (glyph pictures)."""
    confidence: npt.NDArray[np.float64]
    """(height, width) probability of that class."""
    disagree: npt.NDArray[np.bool_] | None = None
    """(2 * height, width) pixels where the two compared runs disagree (difference view)."""
    cells_disagree: npt.NDArray[np.bool_] | None = None
    """(height, width) cells whose two pixels include a disagreeing one."""
    points: dict[tuple[int, int], tuple[str, int]] = field(default_factory=dict)
    """(row, col) -> (kind, class) of the point drawn in that cell; later layers win."""

    def glyph(self, row: int, col: int) -> str:
        """What a plain-character picture shows in a cell (ignoring points)."""
        if self.cells_disagree is not None and self.cells_disagree[row, col]:
            return ASCII_DISAGREE
        if self.colours[2 * row, col] == RING or self.colours[2 * row + 1, col] == RING:
            return ASCII_RING
        return ascii_glyph(int(self.classes[row, col]), float(self.confidence[row, col]))


def fit_aspect(extent: Extent, width: int, height: int) -> Extent:
    """``extent`` grown about its centre so a pixel covers as much x as y.

    A picture ``width`` cells across and ``height`` lines down has width x 2 * height pixels
    (half a cell each, close to square on a terminal). Growing the shorter side keeps circles
    round and never hides any of the requested range.
    """
    columns, rows = max(1, width), 2 * max(1, height)
    wide = (extent.x_max - extent.x_min) / columns
    tall = (extent.y_max - extent.y_min) / rows
    cx, cy = (extent.x_min + extent.x_max) / 2, (extent.y_min + extent.y_max) / 2
    if wide < tall:
        half = tall * columns / 2
        return Extent(cx - half, cx + half, extent.y_min, extent.y_max)
    half = wide * rows / 2
    return Extent(extent.x_min, extent.x_max, cy - half, cy + half)


def cell_of(x: float, y: float, extent: Extent, width: int, height: int) -> tuple[int, int, int]:
    """(row, col, pixel row) of a point in a width x height cell picture of ``extent``."""
    col = math.floor((x - extent.x_min) / (extent.x_max - extent.x_min) * width)
    pixel = math.floor((extent.y_max - y) / (extent.y_max - extent.y_min) * 2 * height)
    return pixel // 2, col, pixel


def _place(layer: Points, extent: Extent, width: int, height: int) -> list[tuple[int, int, int]]:
    """(row, col, label) of every point of a layer that falls inside the picture."""
    if len(layer.xy) == 0:
        return []
    e = extent
    cols = np.floor((layer.xy[:, 0] - e.x_min) / (e.x_max - e.x_min) * width)
    rows = np.floor((e.y_max - layer.xy[:, 1]) / (e.y_max - e.y_min) * height)
    inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    return list(
        zip(
            rows[inside].astype(int).tolist(),
            cols[inside].astype(int).tolist(),
            layer.labels[inside].tolist(),
            strict=True,
        )
    )


def _sample(values: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``values`` (grid rows x grid cols) resampled to rows x cols by nearest point."""
    if values.shape == (rows, cols):
        return values
    return values[np.ix_(nearest(values.shape[0], rows), nearest(values.shape[1], cols))]


def _rings(extent: Extent, width: int, height: int, marks: Sequence[Mark]) -> np.ndarray:
    """(2h, w) True on pixels a mark's circle passes through."""
    xs = extent.x_min + (np.arange(width) + 0.5) * (extent.x_max - extent.x_min) / width
    ys = extent.y_max - (np.arange(2 * height) + 0.5) * (extent.y_max - extent.y_min) / (2 * height)
    # Half the larger side of a pixel: thin enough to read as a line, thick enough that the
    # circle never breaks up into dots.
    tolerance = 0.5 * max(
        (extent.x_max - extent.x_min) / width, (extent.y_max - extent.y_min) / (2 * height)
    )
    ring = np.zeros((2 * height, width), dtype=bool)
    for m in marks:
        if m.kind != "circle":
            continue
        distance = np.hypot(xs[None, :] - m.x, ys[:, None] - m.y)
        ring |= np.abs(distance - m.radius) <= tolerance
    return ring


def shaft_cells(extent: Extent, width: int, height: int, marks: Sequence[Mark]) -> Points:
    """The cells arrows and lines pass through, as 'shaft' points labelled by direction.

    A shaft is drawn as a line character over the map rather than as coloured pixels, so the
    map under it stays readable; the cell where an arrow ends holds its head instead.
    """
    cells: dict[tuple[int, int], int] = {}
    sx = width / (extent.x_max - extent.x_min)
    sy = height / (extent.y_max - extent.y_min)
    for m in marks:
        if m.kind not in ("arrow", "line") or m.to is None:
            continue
        x0, y0 = (m.x - extent.x_min) * sx, (extent.y_max - m.y) * sy
        x1, y1 = (m.to[0] - extent.x_min) * sx, (extent.y_max - m.to[1]) * sy
        # A cell is twice as tall as it is wide: the direction drawn is the one on screen.
        direction = octant(x1 - x0, (y0 - y1) * 2) % 4
        # One cell per step along the longer axis (a DDA line): a steep line takes one cell in
        # each row and a flat one one in each column, never two side by side.
        steps = int(min(4 * (width + height), np.ceil(max(abs(x1 - x0), abs(y1 - y0))) + 1))
        t = np.linspace(0.0, 1.0, max(2, steps))
        cols = np.floor(x0 + t * (x1 - x0)).astype(np.int64)
        rows = np.floor(y0 + t * (y1 - y0)).astype(np.int64)
        end = (int(np.floor(y1)), int(np.floor(x1))) if m.kind == "arrow" else None
        inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
        for r, c in zip(rows[inside].tolist(), cols[inside].tolist(), strict=True):
            if (r, c) != end:
                cells[(r, c)] = direction
    # Back to data coordinates (cell centres), so the layer places like any other.
    xy = np.array(
        [[extent.x_min + (c + 0.5) / sx, extent.y_max - (r + 0.5) / sy] for (r, c) in cells],
        dtype=np.float64,
    ).reshape(-1, 2)
    return Points("shaft", xy, np.array(list(cells.values()), dtype=np.int64))


def octant(dx: float, dy: float) -> int:
    """0..7: the direction of (dx, dy) counter-clockwise from east, in eighths of a turn."""
    return round(math.atan2(dy, dx) / (math.pi / 4)) % 8


def mark_points(marks: Sequence[Mark]) -> list[Points]:
    """The point-like marks (probe points, recovered points, arrow heads) as point layers."""
    layers = []
    for kind, drawn in MARK_KINDS.items():
        chosen = [m for m in marks if m.kind == kind]
        if chosen:
            xy = np.array([[m.x, m.y] for m in chosen], dtype=np.float64)
            layers.append(Points(drawn, xy, np.zeros(len(chosen), dtype=np.int64)))
    heads = [m for m in marks if m.kind == "arrow" and m.to is not None]
    if heads:
        xy = np.array([m.to for m in heads], dtype=np.float64)
        octants = [octant(m.to[0] - m.x, m.to[1] - m.y) for m in heads if m.to is not None]
        layers.append(Points("head", xy, np.array(octants, dtype=np.int64)))
    return layers


def rasterise(
    grid: GridOutputs,
    width: int,
    height: int,
    *,
    n_outputs: int,
    points: Sequence[Points] = (),
    other: GridOutputs | None = None,
    marks: Sequence[Mark] = (),
    hard: bool = False,
    neuron: tuple[int, int] | None = None,
) -> Raster:
    """Draw one run's decision over the plane, or where two runs disagree.

    Args:
        grid: The run's outputs over a grid of the plane (any resolution; sampled nearest).
        width: Cells across.
        height: Lines down (each line is two pixel rows).
        n_outputs: Output units of the network (1 for a sigmoid).
        points: Layers of points drawn on top, later layers over earlier ones.
        other: A second run's grid over the same extent: draw the difference view (faint
            class colours where the two agree, the DISAGREE colour where they do not).
        marks: Experiment marks: circles are drawn into the pixels, points as 'mark' points.
        hard: Colour each pixel by its predicted class only (no confidence shading).
        neuron: (hidden layer, unit): draw that neuron's activation instead of the output.
    """
    width, height = max(1, width), max(1, height)
    indices = hard_indices(grid, n_outputs) if hard else colour_indices(grid, n_outputs)
    colours = _sample(indices, 2 * height, width)
    classes = _sample(grid.classes, height, width)
    confidence = _sample(class_confidence(grid, n_outputs), height, width)
    if hard:
        confidence = np.ones_like(confidence)
    if neuron is not None:
        values = neuron_values(grid, *neuron)
        ramp = np.clip(((values + 1) * LEVELS).astype(np.int64), 0, 2 * LEVELS - 1)
        colours = _sample(ACTIVATION + ramp, 2 * height, width)
        classes = _sample((values > 0).astype(np.int64), height, width)
        confidence = _sample(0.5 + np.abs(values) / 2, height, width)
    disagree = cells_disagree = None
    if other is not None:
        px_classes = _sample(grid.classes, 2 * height, width)
        disagree = px_classes != _sample(other.classes, 2 * height, width)
        colours = np.where(disagree, DISAGREE, FADED + px_classes % CLASSES_SHOWN)
        cells_disagree = disagree[0::2] | disagree[1::2]
    ring = _rings(grid.extent, width, height, marks)
    colours = np.where(ring, RING, colours)
    shafts = shaft_cells(grid.extent, width, height, marks)
    heads = [layer for layer in mark_points(marks) if layer.kind == "head"]
    others = [layer for layer in mark_points(marks) if layer.kind != "head"]
    layers = [shafts, *heads, *points, *others]  # data points hide arrows; marks go on top
    placed: dict[tuple[int, int], tuple[str, int]] = {}
    for layer in layers:
        for row, col, label in _place(layer, grid.extent, width, height):
            placed[(row, col)] = (layer.kind, int(label))
    return Raster(
        grid.extent, width, height, colours, classes, confidence, disagree, cells_disagree, placed
    )


def data_points(snapshot: Snapshot, *, test: bool = True) -> list[Points]:
    """The snapshot's points as layers: test, then training, then flipped training labels."""
    layers = []
    if test and len(snapshot.x_test):
        layers.append(Points("test", snapshot.x_test, snapshot.y_test))
    layers.append(Points("train", snapshot.x_train, snapshot.y_train))
    if len(snapshot.flipped):
        i = snapshot.flipped
        layers.append(Points("flipped", snapshot.x_train[i], snapshot.y_train[i]))
    if len(snapshot.relabelled):
        i = snapshot.relabelled
        layers.append(Points("flipped", snapshot.x_train[i], snapshot.y_train[i]))
    if len(snapshot.added):
        i = snapshot.added
        layers.append(Points("added", snapshot.x_train[i], snapshot.y_train[i]))
    return layers


@dataclass(frozen=True)
class Pane:
    """One picture of the map; several are drawn side by side."""

    label: str
    """'' for a lone pane; e.g. 'trigger off', 'trigger on', 'extracted copy'."""
    grid: GridOutputs
    other: GridOutputs | None
    """The second run's grid in the difference view."""
    points: list[Points]


def slice_points(layers: Sequence[Points], value: float) -> list[Points]:
    """The points of each layer whose extra input (third column) equals ``value``."""
    out = []
    for layer in layers:
        if layer.xy.shape[1] < 3:
            out.append(layer)
            continue
        keep = layer.xy[:, 2] == value
        out.append(Points(layer.kind, layer.xy[keep], layer.labels[keep]))
    return out


def panes(snapshot: Snapshot, runs: Sequence[int], *, test: bool = True) -> list[Pane]:
    """What the map shows for these runs (one run, or two compared), pane by pane.

    A network with an extra binary input (a backdoor's trigger) is shown as two slices side
    by side, the feature off and on. A single run shown at the range an experiment's planes
    cover (an extracted copy) gets those planes beside it.
    """
    runs = [i for i in runs if i < len(snapshot.runs)]
    if not runs or snapshot.runs[runs[0]].grid is None:
        return []
    first = snapshot.runs[runs[0]]
    assert first.grid is not None
    grids = [first.grid, *first.slices]
    others: list[GridOutputs | None] = [None] * len(grids)
    if len(runs) == 2:
        second = snapshot.runs[runs[1]]
        others = [second.grid, *second.slices] if second.grid is not None else others
    points = data_points(snapshot, test=test)
    if len(grids) > 1:
        name = snapshot.features[2] if len(snapshot.features) > 2 else "x3"
        out = []
        for grid, other in zip(grids, others, strict=False):
            value = grid.extra[0] if grid.extra else 0.0
            label = f"{name} {'on' if value else 'off'}"
            out.append(Pane(label, grid, other, slice_points(points, value)))
        return out
    out = [Pane("", first.grid, others[0], points)]
    if len(runs) == 1:
        beside = [
            Pane(plane.label, plane.grid, None, points)
            for view in snapshot.experiments
            for plane in view.planes
            if plane.grid.extent == first.grid.extent
        ]
        if beside:
            out = [replace(out[0], label=first.label), *beside]
    return out


def pane_count(snapshot: Snapshot | None, runs: Sequence[int], extent: Extent) -> int:
    """How many panes ``panes`` will give for these runs at this extent (1 without data)."""
    if snapshot is None or not snapshot.runs:
        return 1
    first = snapshot.runs[min(runs[0], len(snapshot.runs) - 1)] if runs else snapshot.runs[0]
    if first.slices:
        return 1 + len(first.slices)
    if len(runs) != 1:
        return 1
    planes = [
        p for v in snapshot.experiments for p in v.planes if p.tracks or p.grid.extent == extent
    ]
    return 1 + len(planes)


def own_marks(marks: Sequence[Mark]) -> list[Mark]:
    """The marks a pane beside the run's own draws (a copy, a slice): those tied to no run.

    A mark tied to a run (the victim's recovered hinges, an attack's arrows) belongs on that
    run's pane only.
    """
    return [m for m in marks if not m.run]


def experiment_marks(snapshot: Snapshot, run: str | None = None) -> list[Mark]:
    """Every experiment's marks (probes, radius circles, arrows, ...) for the run shown.

    Marks tied to a run (an attack on that run) are drawn only when ``run`` is that run's key;
    None draws the first run's.
    """
    shown = run if run is not None else (snapshot.runs[0].key if snapshot.runs else "")
    return [m for view in snapshot.experiments for m in view.marks if m.run in ("", shown)]


@dataclass(frozen=True)
class LegendItem:
    """One entry of a legend: what is drawn (colour mode, glyph mode) and what it means."""

    key: str
    """'class', 'train', 'test', 'flipped', 'mark', 'disagree', 'ring', 'head', 'line',
    'target', 'cross', 'shade', 'probe'."""
    glyph: str
    ascii: str
    text: str
    cls: int = 0


def legend(
    snapshot: Snapshot,
    raster: Raster | None,
    *,
    difference: bool = False,
    neuron: str | None = None,
) -> list[LegendItem]:
    """What the marks, colours and shades of a picture of this snapshot mean."""
    items = []
    kinds = {kind for kind, _ in (raster.points.values() if raster else ())}
    if neuron is not None:
        items.append(LegendItem("activation", "█", "@", f"{neuron}: − blue, + amber"))
    elif difference:
        items.append(LegendItem("disagree", "█", ASCII_DISAGREE, "the runs disagree"))
    else:
        for c in range(min(snapshot.n_classes, CLASSES_SHOWN)):
            glyphs = ASCII_CLASS_GLYPHS[c]
            items.append(LegendItem("class", "█", glyphs[-1], f"class {c}", cls=c))
    if "flipped" in kinds or (raster is None and len(snapshot.flipped)):
        poisoned = len(snapshot.features) > 2
        items.append(LegendItem("flipped", "✖", "!", "poisoned" if poisoned else "flipped label"))
    if "added" in kinds:
        items.append(LegendItem("added", "■", "+", "added by hand"))
    if "mark" in kinds:
        items.append(LegendItem("mark", "◆", "*", "probe point"))
    if raster is not None and bool(np.any(raster.colours == RING)):
        items.append(LegendItem("ring", "◯", ASCII_RING, "radius circle"))
    if "head" in kinds:
        items.append(LegendItem("head", "→", ">", "pushed by the attack"))
    elif "shaft" in kinds:
        items.append(LegendItem("line", "─", "-", "recovered hinge"))
    if "target" in kinds:
        items.append(LegendItem("target", "◎", "$", "real point"))
    if "cross" in kinds:
        items.append(LegendItem("cross", "✚", "&", "recovered"))
    items.append(LegendItem("train", "●", "0-9", "train"))
    if "test" in kinds or (raster is None and len(snapshot.x_test)):
        items.append(LegendItem("test", "○", "0-9", "test"))
    if neuron is not None:
        pass
    elif difference:
        items.append(LegendItem("shade", "▒", ".", "faint: they agree"))
    else:
        items.append(LegendItem("shade", "░", ".", "grey: unsure"))
    items.append(LegendItem("probe", "╋", "#", "cursor"))
    return items


def panes_legend(
    snapshot: Snapshot, rasters: Sequence[Raster], *, difference: bool = False
) -> list[LegendItem]:
    """The legend of several panes drawn side by side: every entry any of them needs, once."""
    if not rasters:
        return legend(snapshot, None, difference=difference)
    items = legend(snapshot, rasters[0], difference=difference)
    for raster in rasters[1:]:
        keys = {(i.key, i.cls) for i in items}
        extra = [i for i in legend(snapshot, raster, difference=difference)
                 if (i.key, i.cls) not in keys]  # fmt: skip
        # New marks go before the points' entries, which end every legend.
        cut = next((n for n, i in enumerate(items) if i.key == "train"), len(items))
        items[cut:cut] = [i for i in extra if i.key not in ("train", "test", "shade", "probe")]
    return items
