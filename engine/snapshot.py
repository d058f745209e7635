"""Plain-data pictures of a session at one epoch: what the app and reports read.

A ``Snapshot`` holds copies and Python scalars only, never live layer objects, so a widget
may keep it while training goes on in another thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engine.metrics import GridOutputs

Floats = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int64]


@dataclass(frozen=True)
class LayerView:
    """One layer's parameters and what its neurons are doing."""

    n_in: int
    n_out: int
    activation: str
    weight: Floats
    """(n_in, n_out) copy, float64."""
    bias: Floats | None
    """(n_out,) copy, float64, or None."""
    status: tuple[str, ...]
    """Per neuron: 'ok', 'dead' (ReLU never active on the training set), 'saturated' (sigmoid or
    tanh output pinned near its limits on most training points)."""
    grad_norm: float
    """Norm of the last weight gradient."""


@dataclass(frozen=True)
class RunView:
    """One run of a session (the baseline, or a twin) at the current epoch."""

    label: str
    """e.g. 'baseline', 'nudged +1e-14', 'poisoned', 'float16'."""
    dtype: str
    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    """NaN when there is no test split."""
    test_accuracy: float
    loss_history: tuple[float, ...]
    test_loss_history: tuple[float, ...]
    noop_share: float
    """Share of the last epoch's parameter updates that changed nothing."""
    underflow: int | None
    nonfinite: int
    blowup: str | None
    """Where the first NaN/inf appeared ('layer 1 output at epoch 12'), else None."""
    layers: tuple[LayerView, ...]
    grid: GridOutputs | None
    """Output and hidden activations over the requested grid, when one was requested."""
    train_outputs: Floats
    """(n, outputs) model outputs on the training inputs, dataset order."""


@dataclass(frozen=True)
class TwinDiff:
    """How far a twin has drifted from the baseline, per epoch (index 0 = epoch 1)."""

    label: str
    max_abs_dw: tuple[float, ...]
    loss_difference: tuple[float, ...]
    """|train loss of twin - train loss of baseline|."""
    disagreement: tuple[float, ...]
    """Share of a fixed grid of the plane where the two predicted classes differ."""


@dataclass(frozen=True)
class Snapshot:
    """The whole session at one epoch."""

    scenario: str
    title: str
    epoch: int
    learning_rate: float
    runs: tuple[RunView, ...]
    """runs[0] is the baseline; any further runs are its twins, trained in lock-step."""
    twin_diffs: tuple[TwinDiff, ...]
    """One per twin, in the order of runs[1:]."""
    x_train: Floats
    y_train: Labels
    x_test: Floats
    y_test: Labels
    poisoned: Labels = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Indices into x_train whose labels the poisoned twin sees flipped."""
    probes: tuple[tuple[str, tuple[float, float], float], ...] = ()
    """(label, point, baseline output) for each probe point of the scenario."""
    active_units: dict[int, tuple[int, ...]] = field(default_factory=dict)
    """Per class, the histogram of active hidden ReLU units per training input:
    active_units[c][k] = inputs of class c with exactly k units active."""
    display_extent: tuple[float, float, float, float] = (-2.0, 2.0, -2.0, 2.0)
    """The scenario's preferred view of the plane: x_min, x_max, y_min, y_max."""

    @property
    def baseline(self) -> RunView:
        return self.runs[0]
