"""Plain-data pictures of a session at one epoch: what the app and the reports read.

A ``Snapshot`` holds copies and Python scalars only, never live layer objects, so a widget
may keep it while training goes on in another thread, and a report can be written from it
alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engine.experiments.view import ExperimentView
from engine.metrics import Extent, GridOutputs

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


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
    grad_weight: Floats | None = None
    """(n_in, n_out) the last weight gradient, float64."""
    grad_bias: Floats | None = None
    """(n_out,) the last bias gradient, float64, or None."""


@dataclass(frozen=True)
class History:
    """A run's per-epoch measurements: entry i belongs to epoch ``epochs[i]``.

    Training loss comes from each epoch's own forward pass, before its update; test loss and
    accuracy are measured after the epoch's last update.
    """

    epochs: Ints
    train_loss: Floats
    test_loss: Floats
    """NaN where there is no test split."""
    train_accuracy: Floats
    test_accuracy: Floats
    noop_share: Floats

    @staticmethod
    def empty() -> History:
        none = np.zeros(0)
        return History(np.zeros(0, dtype=np.int64), none, none, none, none, none)


@dataclass(frozen=True)
class RunView:
    """One run of a session (the baseline, or a twin) at the current epoch."""

    key: str
    """What scenarios call the run: 'baseline', 'clean', 'poisoned', 'float16', ..."""
    label: str
    """What people read: 'poisoned (5 flips)', 'nudged +1e-14', 'float16 + f32 master'."""
    dtype: str
    epoch: int
    train_loss: float
    """Loss of the current weights on the training set (with the run's own labels)."""
    train_accuracy: float
    test_loss: float
    """NaN when there is no test split."""
    test_accuracy: float
    noop_share: float
    """Share of the last epoch's parameter updates that changed nothing."""
    underflow: int | None
    """Gradient entries that rounded to zero in the last epoch (None for float64)."""
    nonfinite: int
    blowup: str | None
    """Where the first NaN/inf appeared ('layer 1 output at epoch 12'), else None."""
    layers: tuple[LayerView, ...]
    history: History
    train_outputs: Floats
    """(n, outputs) model outputs on the training inputs, dataset order."""
    grid: GridOutputs | None = None
    """Output and hidden activations over the requested grid, when this run was asked for."""
    slices: tuple[GridOutputs, ...] = ()
    """For a network with an extra binary input (a trigger): the same grid with it set to 1;
    ``grid`` is the slice with it at 0."""


@dataclass(frozen=True)
class Drift:
    """How far a twin has drifted from the baseline, per epoch."""

    key: str
    label: str
    epochs: Ints
    max_abs_dw: Floats
    """Largest |weight difference| after each epoch."""
    loss_difference: Floats
    """|training loss of the twin - that of the baseline| of each epoch."""
    disagreement_epochs: Ints
    disagreement: Floats
    """Share of a fixed grid of the plane where the two predict different classes, sampled at
    ``disagreement_epochs``."""
    first_divergence: int
    """First epoch whose max|dW| exceeded the divergence threshold, or -1."""
    last_max_abs_dw: float = 0.0
    """max|dW| after the epoch shown."""
    last_loss_difference: float = 0.0
    """|Δ training loss| of the epoch shown."""


@dataclass(frozen=True)
class ProbeView:
    """A scenario's probe point and the baseline's output there."""

    label: str
    point: tuple[float, float]
    outputs: Floats
    """The output vector (one sigmoid value, or one probability per class)."""


@dataclass(frozen=True)
class MomentView:
    """A scenario moment that training has reached."""

    epoch: int
    trigger: str
    """'epoch 500', 'the twins diverge', ..."""
    caption: str


@dataclass(frozen=True)
class EditView:
    """An edit made by hand: the epoch it was made after, and what it did."""

    epoch: int
    text: str


@dataclass(frozen=True)
class Snapshot:
    """The whole session at one epoch."""

    revision: int
    """Changes whenever the session does (a step, reset, reload): equal revisions, equal data."""
    measured: int
    """Measurements made in the background that had landed: with the revision, what a view
    drawn from this snapshot was drawn from."""
    measuring: bool
    """Whether an experiment's figures are being measured again (they are shown meanwhile as
    last measured)."""
    scenario: str
    title: str
    description: str
    epoch: int
    target_epochs: int
    """The scenario's training.epochs: where continuous training pauses."""
    seed: int
    """The scenario's training.seed."""
    learning_rate: float
    runs: tuple[RunView, ...]
    """runs[0] is the baseline; any further runs are its twins, trained in lock-step."""
    drifts: tuple[Drift, ...]
    """One per twin, in the order of runs[1:]."""
    x_train: Floats
    y_train: Ints
    x_test: Floats
    y_test: Ints
    n_classes: int
    flipped: Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Indices into x_train whose labels the poisoned twin sees flipped."""
    probes: tuple[ProbeView, ...] = ()
    extent: Extent = field(default_factory=lambda: Extent(-2.0, 2.0, -2.0, 2.0))
    """The scenario's preferred view of the plane."""
    view: str = ""
    """The run key the scenario opens on, 'difference', or '' for the baseline."""
    compare: tuple[int, int] = (0, 1)
    """Indices into runs of the two runs the difference view compares."""
    experiments: tuple[ExperimentView, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    """Every metric (what expectations are checked against), flat dotted names."""
    moments: tuple[MomentView, ...] = ()
    """Moments reached so far, in order."""
    blowup: str | None = None
    """The first NaN/inf of any run, named with its run."""
    features: tuple[str, ...] = ("x1", "x2")
    """Names of the network's inputs: the plane's two, then any extra feature ('trigger')."""
    head: int = -1
    """The newest epoch trained (more than ``epoch`` while looking at the past; -1: same)."""
    edits: tuple[EditView, ...] = ()
    """Edits made by hand, oldest first."""
    added: Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Indices into x_train of points added by hand."""
    relabelled: Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Indices into x_train whose label was flipped by hand (y_train holds the new label)."""
    training: dict[str, object] = field(default_factory=dict)
    """The baseline's [training] settings now (live changes included)."""

    @property
    def newest(self) -> int:
        """The newest epoch trained."""
        return self.epoch if self.head < 0 else self.head

    @property
    def in_past(self) -> bool:
        """Whether this shows a past epoch."""
        return self.epoch < self.newest

    @property
    def baseline(self) -> RunView:
        return self.runs[0]

    def run_index(self, key: str) -> int | None:
        """Index of the run with this key, or None."""
        return next((i for i, run in enumerate(self.runs) if run.key == key), None)
