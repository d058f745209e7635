"""Measurements of a network: accuracy, active units, gradient norms, outputs over a grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.network import Network

Array = npt.NDArray[np.floating]
Labels = npt.NDArray[np.int64]


def predicted_classes(outputs: Array) -> Labels:
    """Class per row: argmax for several outputs, threshold 0.5 for a single one."""
    if outputs.shape[1] == 1:
        return (outputs[:, 0] > 0.5).astype(np.int64)
    return outputs.argmax(axis=1).astype(np.int64)


def confidence(outputs: Array) -> npt.NDArray[np.float64]:
    """Probability of the predicted class: max(p, 1 - p) for one output, max row entry else."""
    if outputs.shape[1] == 1:
        p = outputs[:, 0].astype(np.float64)
        return np.maximum(p, 1 - p)
    return outputs.max(axis=1).astype(np.float64)


def accuracy(outputs: Array, y: Labels) -> float:
    """Share of rows whose predicted class equals the label (NaN for no rows)."""
    if len(y) == 0:
        return float("nan")
    if outputs.shape[1] == 1:  # the threshold of predicted_classes without its int copy
        return np.count_nonzero((outputs[:, 0] > 0.5) == y) / len(y)
    return np.count_nonzero(predicted_classes(outputs) == y) / len(y)


def active_unit_counts(network: Network, x: Array) -> npt.NDArray[np.int64]:
    """Per input, how many hidden units output a non-zero value (all hidden layers together)."""
    hidden = network.predict_all(x.astype(network.dtype))[:-1]
    if not hidden:
        return np.zeros(len(x), dtype=np.int64)
    return sum(np.count_nonzero(h, axis=1) for h in hidden).astype(np.int64)


def mean_active_units_per_class(counts: npt.NDArray[np.int64], y: Labels) -> dict[int, float]:
    """Mean active-unit count for each class present in y."""
    return {int(c): float(counts[y == c].mean()) for c in np.unique(y)}


def gradient_norms(network: Network) -> list[float]:
    """Euclidean norm of each layer's weight gradient from the last backward pass."""
    return [float(np.linalg.norm(layer.grad_weight.astype(np.float64))) for layer in network.layers]


@dataclass(frozen=True)
class Extent:
    """A rectangle of the input plane."""

    x_min: float
    x_max: float
    y_min: float
    y_max: float

    def scaled(self, factor: float) -> Extent:
        """The rectangle grown (factor > 1) or shrunk about its centre."""
        cx, cy = (self.x_min + self.x_max) / 2, (self.y_min + self.y_max) / 2
        hw, hh = (self.x_max - self.x_min) / 2 * factor, (self.y_max - self.y_min) / 2 * factor
        return Extent(cx - hw, cx + hw, cy - hh, cy + hh)


def grid_points(extent: Extent, width: int, height: int) -> Array:
    """Centres of a width x height grid of cells, row 0 at the top (largest y), as (n, 2)."""
    xs = extent.x_min + (np.arange(width) + 0.5) * (extent.x_max - extent.x_min) / width
    ys = extent.y_max - (np.arange(height) + 0.5) * (extent.y_max - extent.y_min) / height
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()])


def plane_inputs(points: Array, n_inputs: int, extra: tuple[float, ...] = ()) -> Array:
    """Points of the plane as a network's inputs: inputs beyond the two set to ``extra`` (0).

    A network with an extra feature (a backdoor's trigger) sees the plane as one slice.
    """
    if n_inputs <= points.shape[1]:
        return points
    values = np.zeros(n_inputs - points.shape[1])
    values[: len(extra)] = extra[: len(values)]
    return np.hstack([points, np.broadcast_to(values, (len(points), len(values)))])


@dataclass(frozen=True)
class GridOutputs:
    """The model's output and every hidden neuron's activation over a grid of the plane."""

    extent: Extent
    output: npt.NDArray[np.float64]
    """(height, width): probability of class 1 (single output) or of the predicted class."""
    classes: Labels
    """(height, width): predicted class per cell."""
    hidden: tuple[npt.NDArray[np.float64], ...]
    """Per hidden layer, (units, height, width) activations."""
    extra: tuple[float, ...] = ()
    """The values of the inputs beyond the plane's two in this slice (empty for 2 inputs)."""


def evaluate_grid(
    network: Network, extent: Extent, width: int, height: int, extra: tuple[float, ...] = ()
) -> GridOutputs:
    """Evaluate the network over a grid in one vectorised forward pass.

    Args:
        network: The model.
        extent: The rectangle of the plane to cover.
        width: Cells across.
        height: Cells down (row 0 is the top edge, largest y).
        extra: Values of the inputs beyond the two of the plane (0 for any not given).

    Returns:
        Output, predicted class and hidden activations per cell, all float64.
    """
    n_in = network.layers[0].n_in
    points = plane_inputs(grid_points(extent, width, height), n_in, extra).astype(network.dtype)
    with np.errstate(all="ignore"):
        layers = network.predict_all(points)
    out = layers[-1]
    value = out[:, 0] if out.shape[1] == 1 else confidence(out)
    return GridOutputs(
        extent=extent,
        output=value.astype(np.float64).reshape(height, width),
        classes=predicted_classes(out).reshape(height, width),
        hidden=tuple(
            h.astype(np.float64).T.reshape(h.shape[1], height, width) for h in layers[:-1]
        ),
        extra=tuple(float(v) for v in points[0, 2:]) if n_in > 2 and len(points) else (),
    )


def region_changed(a: Network, b: Network, extent: Extent, cells: int) -> float:
    """Share of a cells x cells grid over ``extent`` where a and b predict different classes."""
    points = plane_inputs(grid_points(extent, cells, cells), a.layers[0].n_in)
    with np.errstate(all="ignore"):
        ca = predicted_classes(a.predict(points.astype(a.dtype)))
        cb = predicted_classes(b.predict(points.astype(b.dtype)))
    return float(np.mean(ca != cb))
