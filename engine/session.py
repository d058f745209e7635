"""The one API the app and the headless runner use: load a scenario, step, snapshot, reset.

A session trains a baseline run and, for experiments that compare, its twins in lock-step:
every run trains epoch e before any run trains epoch e + 1, on the same data order, so the
difference between them is the experiment's and nothing else's. All public methods take a
lock, so a worker thread may train while the interface thread takes snapshots.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine import io
from engine.config import MAX_CLASSES, MAX_EPOCH_WORK, MAX_TOTAL_WORK, TrainConfig
from engine.datasets import DataError
from engine.metrics import (
    Extent,
    active_unit_counts,
    evaluate_grid,
    gradient_norms,
    region_changed,
)
from engine.network import output_units
from engine.run import Array, Data, Run, build_data, flip_labels
from engine.scenario import Scenario, ScenarioError, load_scenario
from engine.snapshot import LayerView, RunView, Snapshot, TwinDiff

DIFF_GRID = 32
"""Cells per side of the grid on which twin boundaries are compared every epoch."""

Weights = list[tuple[Array, Array | None]]


def choose_flips(scenario: Scenario, data: Data) -> npt.NDArray[np.int64]:
    """Indices into the training set whose labels the poisoned twin flips."""
    p = scenario.experiments.poison
    if p is None:
        return np.zeros(0, dtype=np.int64)
    n = len(data.y_train)
    k = min(p.k, n)
    if p.mode == "indices":
        return np.array(sorted(set(p.indices)), dtype=np.int64)
    if p.mode == "random":
        return np.sort(np.random.default_rng(p.seed).choice(n, size=k, replace=False))
    # targeted: the k points of the chosen class nearest the target point
    candidates = np.flatnonzero(data.y_train == p.target_class)
    distance = np.linalg.norm(data.x_train[candidates] - np.array(p.target), axis=1)
    return np.sort(candidates[np.argsort(distance, kind="stable")[:k]])


@dataclass
class _Twin:
    run: Run
    label: str
    max_abs_dw: list[float] = field(default_factory=list)
    loss_difference: list[float] = field(default_factory=list)
    disagreement: list[float] = field(default_factory=list)


class Session:
    """A scenario's runs, trained together.

    Args:
        scenario: The validated scenario.
        initial_weights: Start the baseline (and the twins derived from it) from these
            weights instead of the scenario's seeded initialisation.
    """

    def __init__(self, scenario: Scenario, initial_weights: Weights | None = None) -> None:
        self.scenario = scenario
        self._initial_weights = initial_weights
        self._lock = threading.RLock()
        where = f"{scenario.source or scenario.name}: data.path: "
        try:
            self.data = build_data(scenario.data, Path(scenario.base_dir or "."))
        except DataError as exc:
            raise ScenarioError([where + str(exc)]) from None
        self._check_against_data()
        self._build()

    def _check_against_data(self) -> None:
        """What can only be checked once the data exists: classes, flips, work bounds."""
        sc = self.scenario
        src = sc.source or sc.name
        n = len(self.data.y_train)
        k = self.data.n_classes
        problems = []
        if k > MAX_CLASSES:
            problems.append(
                f"{src}: data: too many classes (got {k}, expected at most {MAX_CLASSES})"
            )
        elif k != 2 and sc.model.output != "softmax":
            problems.append(
                f"{src}: model.output: {sc.model.output} separates two classes "
                f"(got {k} classes in the data, expected output = 'softmax')"
            )
        b = sc.experiments.butterfly
        widths = [2, *sc.model.hidden, output_units(sc.model, k)]
        if b is not None and b.layer < len(widths) - 1 and b.col >= widths[b.layer + 1]:
            problems.append(
                f"{src}: experiments.butterfly.col: no such neuron in layer "
                f"{b.layer} (got {b.col}, expected 0..{widths[b.layer + 1] - 1})"
            )
        params = sum((i + 1) * o for i, o in itertools.pairwise(widths))
        runs = (
            1
            + bool(sc.experiments.butterfly or sc.experiments.poison)
            + (4 if sc.experiments.precision else 0)
        )
        if n * params > MAX_EPOCH_WORK:
            problems.append(
                f"{src}: data.samples x model size: one epoch is too much work "
                f"(got {n} training points x {params} parameters, expected a "
                f"product of at most {MAX_EPOCH_WORK:,})"
            )
        elif sc.training.epochs * n * params * runs > MAX_TOTAL_WORK:
            problems.append(
                f"{src}: training.epochs: too much work in all (got {sc.training.epochs}"
                f" epochs x {n} points x {params} parameters x {runs} runs, expected a "
                f"product of at most {MAX_TOTAL_WORK:,})"
            )
        problems += self._poison_problems(src, n)
        if problems:
            raise ScenarioError(problems)

    def _poison_problems(self, src: str, n: int) -> list[str]:
        """Flips are checked against the training set here: its size is known only now."""
        p = self.scenario.experiments.poison
        if p is None:
            return []
        where = f"{src}: experiments.poison"
        problems = []
        if p.k > n:
            problems.append(
                f"{where}.k: more flips than training points (got {p.k}, expected at most {n})"
            )
        bad = [i for i in p.indices if not 0 <= i < n]
        if bad:
            problems.append(
                f"{where}.indices: not a training point (got {bad[0]}, expected 0..{n - 1})"
            )
        if p.mode == "targeted" and not np.any(self.data.y_train == p.target_class):
            problems.append(
                f"{where}.target_class: no training point has this class (got {p.target_class})"
            )
        return problems

    @classmethod
    def from_file(cls, path: str | Path) -> Session:
        """Load, validate and build a scenario file (raises ScenarioError)."""
        return cls(load_scenario(path))

    def _build(self) -> None:
        sc = self.scenario
        ex = sc.experiments
        self.poisoned = choose_flips(sc, self.data)
        train = sc.training
        if ex.precision is not None:
            train = train.model_copy(
                update={"dtype": ex.precision.dtypes[0], "master_weights": False}
            )
        self.baseline = Run(self.data, sc.model, train, self._initial_weights)
        start = self.baseline.weights()
        self.twins: list[_Twin] = []
        if ex.butterfly is not None:
            b = ex.butterfly
            nudged = [(w.copy(), None if bias is None else bias.copy()) for w, bias in start]
            w = nudged[b.layer][0]
            w[b.row, b.col] += w.dtype.type(b.epsilon)
            self.twins.append(
                _Twin(Run(self.data, sc.model, train, nudged), f"nudged {b.epsilon:+.0e}")
            )
        if ex.poison is not None:
            twin = Run(self.data, sc.model, train, start)
            self.twins.append(_Twin(twin, f"poisoned ({len(self.poisoned)} flips)"))
            if ex.poison.at_epoch == 0:
                self._poison(twin)
        if ex.precision is not None:
            dtypes = list(ex.precision.dtypes[1:])
            configs: list[tuple[str, TrainConfig]] = [
                (d, train.model_copy(update={"dtype": d})) for d in dtypes
            ]
            if ex.precision.master_weights:
                configs.append(
                    (
                        "float16 + f32 master",
                        train.model_copy(update={"dtype": "float16", "master_weights": True}),
                    )
                )
            for label, config in configs:
                self.twins.append(_Twin(Run(self.data, sc.model, config, start), label))
        x_min, x_max = sc.display.x_range
        y_min, y_max = sc.display.y_range
        self.extent = Extent(x_min, x_max, y_min, y_max)

    def _poison(self, run: Run) -> None:
        run.set_train_labels(flip_labels(self.data.y_train, self.poisoned, self.data.n_classes))

    @property
    def lock(self) -> threading.RLock:
        """The session's re-entrant lock: hold it to read several things consistently."""
        return self._lock

    @property
    def runs(self) -> list[Run]:
        return [self.baseline, *(t.run for t in self.twins)]

    @property
    def epoch(self) -> int:
        return self.baseline.epoch

    @property
    def blowup(self) -> str | None:
        """The first NaN/inf of any run, named with its run ('float16: layer 1 ...'), or None."""
        for label, run in zip(self.labels(), self.runs, strict=True):
            if run.blowup:
                return f"{label}: {run.blowup}" if self.twins else run.blowup
        return None

    def labels(self) -> list[str]:
        first = (
            self.baseline.train_config.dtype
            if self.scenario.experiments.precision
            else ("clean" if self.scenario.experiments.poison else "baseline")
        )
        return [first, *(t.label for t in self.twins)]

    def reset(self) -> None:
        """Back to the scenario's initial state (same seeds, same weights)."""
        with self._lock:
            self._build()

    def step(self, epochs: int = 1) -> int:
        """Train every run ``epochs`` epochs in lock-step.

        Stops early, after the epoch in which any run first produced NaN or inf.

        Returns:
            The number of epochs trained.
        """
        with self._lock, np.errstate(all="ignore"):
            poison = self.scenario.experiments.poison
            for done in range(epochs):
                if self.blowup:
                    return done
                if poison is not None and poison.at_epoch and self.epoch == poison.at_epoch:
                    self._poison(self.twins[0].run)
                self.baseline.step()
                for twin in self.twins:
                    twin.run.step()
                    self._record_diff(twin)
            return epochs

    def _record_diff(self, twin: _Twin) -> None:
        base = self.baseline
        dw = np.abs(
            twin.run.network.flat_params.astype(np.float64)
            - base.network.flat_params.astype(np.float64)
        )
        twin.max_abs_dw.append(float(dw.max()))
        twin.loss_difference.append(
            abs(twin.run.history.train_loss[-1] - base.history.train_loss[-1])
        )
        twin.disagreement.append(
            region_changed(base.network, twin.run.network, self.extent, DIFF_GRID)
        )

    def probe(self, x: float, y: float, run: int = 0) -> Array:
        """The exact outputs of one run at the point (x, y)."""
        with self._lock, np.errstate(all="ignore"):
            net = self.runs[run].network
            return net.predict(np.array([[x, y]], dtype=net.dtype))[0].astype(np.float64)

    def active_unit_counts(self, run: int = 0) -> npt.NDArray[np.int64]:
        """Per training input, how many hidden units are non-zero."""
        with self._lock:
            return active_unit_counts(self.runs[run].network, self.data.x_train)

    def snapshot(
        self, grid: tuple[int, int] | None = None, extent: Extent | None = None
    ) -> Snapshot:
        """A plain-data copy of the session now.

        Args:
            grid: (width, height) cells over which to evaluate every run's output and hidden
                activations, or None for no grid.
            extent: The rectangle the grid covers; defaults to the scenario's display range.
        """
        with self._lock, np.errstate(all="ignore"):
            area = extent or self.extent
            runs = tuple(
                self._view(label, run, grid, area)
                for label, run in zip(self.labels(), self.runs, strict=True)
            )
            counts = self.active_unit_counts()
            n_classes = self.data.n_classes
            width = max(int(counts.max(initial=0)) + 1, 1)
            histogram = {
                c: tuple(
                    int(v) for v in np.bincount(counts[self.data.y_train == c], minlength=width)
                )
                for c in range(n_classes)
            }
            probes = tuple(
                (p.name, p.point, float(self.probe(*p.point)[-1])) for p in self.scenario.probes
            )
            sc = self.scenario
            return Snapshot(
                scenario=sc.name,
                title=sc.title or sc.name,
                epoch=self.epoch,
                learning_rate=sc.training.learning_rate,
                runs=runs,
                twin_diffs=tuple(
                    TwinDiff(
                        t.label,
                        tuple(t.max_abs_dw),
                        tuple(t.loss_difference),
                        tuple(t.disagreement),
                    )
                    for t in self.twins
                ),
                x_train=self.data.x_train,
                y_train=self.data.y_train,
                x_test=self.data.x_test,
                y_test=self.data.y_test,
                poisoned=self.poisoned.copy(),
                probes=probes,
                active_units=histogram,
                display_extent=(
                    self.extent.x_min,
                    self.extent.x_max,
                    self.extent.y_min,
                    self.extent.y_max,
                ),
            )

    def _view(self, label: str, run: Run, grid: tuple[int, int] | None, area: Extent) -> RunView:
        net = run.network
        h = run.history
        # One pass over the training inputs serves neuron status, outputs and the initial loss.
        *hidden, outputs = net.predict_all(run.trainer.x)
        norms = gradient_norms(net)
        layers = []
        for i, layer in enumerate(net.layers):
            status: tuple[str, ...] = ("ok",) * layer.n_out
            if i < len(hidden):
                status = neuron_status(layer.activation.name, hidden[i])
            layers.append(
                LayerView(
                    n_in=layer.n_in,
                    n_out=layer.n_out,
                    activation=layer.activation.name,
                    weight=layer.weight.astype(np.float64),
                    bias=None if layer.bias is None else layer.bias.astype(np.float64),
                    status=status,
                    grad_norm=norms[i],
                )
            )
        nan = float("nan")
        return RunView(
            label=label,
            dtype=str(net.dtype),
            epoch=run.epoch,
            train_loss=h.train_loss[-1]
            if h.train_loss
            else net.loss.value(outputs, run.trainer.targets),
            train_accuracy=h.train_accuracy[-1] if h.train_accuracy else nan,
            test_loss=h.test_loss[-1] if h.test_loss else nan,
            test_accuracy=h.test_accuracy[-1] if h.test_accuracy else nan,
            loss_history=tuple(h.train_loss),
            test_loss_history=tuple(h.test_loss),
            noop_share=h.noop_share[-1] if h.noop_share else 0.0,
            underflow=run.last.underflow if run.last else None,
            nonfinite=h.nonfinite[-1] if h.nonfinite else 0,
            blowup=run.blowup,
            layers=tuple(layers),
            grid=evaluate_grid(net, area, *grid) if grid else None,
            train_outputs=outputs.astype(np.float64),
        )

    def architecture(self) -> list[dict[str, object]]:
        return self.baseline.network.architecture()

    def save_weights(self, path: str | Path) -> str:
        """Save the baseline's weights atomically; returns the file's sha256."""
        with self._lock:
            return io.save_weights(
                path,
                self.baseline.weights(),
                self.architecture(),
                {"scenario": self.scenario.name, "epoch": str(self.epoch)},
            )

    def load_weights(self, path: str | Path) -> None:
        """Restart from saved weights (epoch 0); twins are derived from them as at the start.

        Raises:
            io.WeightFileError: If the file does not match this scenario's network.
        """
        with self._lock:
            weights = io.load_weights(path, self.architecture())
            self._initial_weights = [(w, b) for w, b in weights]
            self._build()


def neuron_status(activation: str, outputs: Array) -> tuple[str, ...]:
    """'dead', 'saturated' or 'ok' for each hidden unit, from its outputs on the training set.

    Args:
        activation: The layer's activation name.
        outputs: (n, units) activations on the training inputs.
    """
    a = outputs.astype(np.float64)
    if activation == "relu":
        dead = ~np.any(a > 0, axis=0)
        return tuple("dead" if d else "ok" for d in dead)
    if activation in ("sigmoid", "tanh"):
        low, high = (0.02, 0.98) if activation == "sigmoid" else (-0.96, 0.96)
        share = np.mean((a < low) | (a > high), axis=0)
        return tuple("saturated" if s >= 0.9 else "ok" for s in share)
    return ("ok",) * a.shape[1]
