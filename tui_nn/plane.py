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
from dataclasses import dataclass, field

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
    """'train', 'test', 'flipped' or 'mark' (an experiment's point)."""
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
    layers = list(points)
    marked = [m for m in marks if m.kind == "point"]
    if marked:
        xy = np.array([[m.x, m.y] for m in marked], dtype=np.float64)
        layers.append(Points("mark", xy, np.zeros(len(marked), dtype=np.int64)))
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


def experiment_marks(snapshot: Snapshot) -> list[Mark]:
    """Every experiment's marks (probes, radius circles, ...)."""
    return [m for view in snapshot.experiments for m in view.marks]


@dataclass(frozen=True)
class LegendItem:
    """One entry of a legend: what is drawn (colour mode, glyph mode) and what it means."""

    key: str
    """'class', 'train', 'test', 'flipped', 'mark', 'disagree', 'ring', 'shade', 'probe'."""
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
        items.append(LegendItem("flipped", "✖", "!", "flipped label"))
    if "added" in kinds:
        items.append(LegendItem("added", "✚", "+", "added by hand"))
    if "mark" in kinds:
        items.append(LegendItem("mark", "◆", "*", "probe point"))
    if raster is not None and bool(np.any(raster.colours == RING)):
        items.append(LegendItem("ring", "◯", ASCII_RING, "radius circle"))
    items.append(LegendItem("train", "●", "0", "train"))
    if "test" in kinds or (raster is None and len(snapshot.x_test)):
        items.append(LegendItem("test", "○", "0", "test"))
    if neuron is not None:
        pass
    elif difference:
        items.append(LegendItem("shade", "▒", ".", "faint: they agree"))
    else:
        items.append(LegendItem("shade", "░", ".", "grey: unsure"))
    items.append(LegendItem("probe", "╋", "#", "cursor"))
    return items
