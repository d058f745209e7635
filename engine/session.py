"""The one API the app and the headless runner use: load a scenario, step, snapshot, reset.

A session trains a baseline run and, for experiments that compare, its twins in lock-step:
every run trains epoch e before any run trains epoch e + 1, on the same data order, so the
difference between them is the experiment's and nothing else's. Per epoch it records only
what is cheap (each twin's largest weight difference and loss difference); comparing
boundaries over a grid happens every few epochs and whenever a snapshot asks for it. All
public methods take a lock, so a worker thread may train while the interface thread takes
snapshots.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine import io
from engine.config import fit_grid
from engine.data_checks import load_data
from engine.experiments import measure
from engine.experiments.butterfly import DIVERGED, first_divergence
from engine.metrics import Extent, evaluate_grid, gradient_norms, grid_points, predicted_classes
from engine.run import Array, Data, Run
from engine.scenario import MomentConfig, Scenario, load_scenario
from engine.snapshot import (
    Drift,
    History,
    LayerView,
    MomentView,
    ProbeView,
    RunView,
    Snapshot,
)
from engine.twins import DIFFERENCE, Slot, build_runs, poison

DIFF_GRID = 32
"""Cells per side of the grid on which twin boundaries are compared."""
DISAGREEMENT_SAMPLES = 500
"""About how many times over training.epochs a twin's disagreement is sampled."""

Weights = list[tuple[Array, Array | None]]


@dataclass
class _Drift:
    """Per-epoch distance between one twin and the baseline (index 0 = epoch 1)."""

    max_abs_dw: list[float] = field(default_factory=list)
    loss_difference: list[float] = field(default_factory=list)
    disagreement_epochs: list[int] = field(default_factory=list)
    disagreement: list[float] = field(default_factory=list)


class Session:
    """A scenario's runs, trained together.

    Args:
        scenario: The validated scenario.
        initial_weights: Start the baseline (and the twins derived from it) from these
            weights instead of the scenario's seeded initialisation.
        data: The scenario's points, when already built and checked (``load_data``).

    Raises:
        ScenarioError: If the data cannot be built or breaks a rule that needs it.
    """

    def __init__(
        self,
        scenario: Scenario,
        initial_weights: Weights | None = None,
        *,
        data: Data | None = None,
    ) -> None:
        self.scenario = scenario
        self.data = load_data(scenario) if data is None else data
        self._initial_weights = initial_weights
        self._lock = threading.RLock()
        self.revision = 0
        """Grows with every change; a snapshot carries it so views can skip redraws."""
        x_min, x_max = scenario.display.x_range
        y_min, y_max = scenario.display.y_range
        self.extent = Extent(x_min, x_max, y_min, y_max)
        self._diff_points = grid_points(self.extent, DIFF_GRID, DIFF_GRID)
        self._disagree_every = max(1, scenario.training.epochs // DISAGREEMENT_SAMPLES)
        self._build()

    @classmethod
    def from_file(cls, path: str | Path) -> Session:
        """Load, validate and build a scenario file (raises ScenarioError)."""
        return cls(load_scenario(path))

    def _build(self) -> None:
        self.slots: list[Slot]
        self.slots, self.flipped = build_runs(self.scenario, self.data, self._initial_weights)
        self._drifts = [_Drift() for _ in self.slots[1:]]
        self.moments: list[tuple[int, MomentConfig]] = []
        """Moments reached so far, with the epoch each was reached at."""
        self._waiting = list(self.scenario.moments)
        self.revision += 1

    # -- what the session holds ----------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """The session's re-entrant lock: hold it to read several things consistently."""
        return self._lock

    @property
    def baseline(self) -> Run:
        return self.slots[0].run

    @property
    def twins(self) -> list[Slot]:
        """The runs trained beside the baseline."""
        return self.slots[1:]

    @property
    def runs(self) -> list[Run]:
        return [slot.run for slot in self.slots]

    @property
    def epoch(self) -> int:
        return self.baseline.epoch

    def labels(self) -> list[str]:
        return [slot.label for slot in self.slots]

    def keys(self) -> list[str]:
        return [slot.key for slot in self.slots]

    def run_named(self, key: str) -> Run | None:
        """The run with this key, or None."""
        return next((slot.run for slot in self.slots if slot.key == key), None)

    @property
    def blowup(self) -> str | None:
        """The first NaN/inf of any run, named with its run ('float16: layer 1 ...'), or None."""
        for slot in self.slots:
            if slot.run.blowup:
                return f"{slot.label}: {slot.run.blowup}" if self.twins else slot.run.blowup
        return None

    def compare_pair(self) -> tuple[int, int]:
        """Indices of the two runs the difference view compares (baseline and first twin)."""
        keys = self.keys()
        pair = self.scenario.display.compare
        if pair is not None and all(k in keys for k in pair):
            return keys.index(pair[0]), keys.index(pair[1])
        return 0, min(1, len(keys) - 1)

    # -- training ------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the scenario's initial state (same seeds, same weights)."""
        with self._lock:
            self._build()

    def step(self, epochs: int = 1) -> int:
        """Train every run ``epochs`` epochs in lock-step.

        Stops early after the epoch in which any run first produced NaN or inf, or in which a
        scenario moment was reached (``moments`` then ends with it).

        Returns:
            The number of epochs trained.
        """
        with self._lock, np.errstate(all="ignore"):
            poisoning = self.scenario.experiments.poison
            done = 0
            try:
                while done < epochs and not self.blowup:
                    if poisoning is not None and poisoning.at_epoch == self.epoch > 0:
                        poison(self.slots[1].run, self.data, self.flipped)
                    for slot in self.slots:
                        slot.run.step()
                    done += 1
                    if self._drifts:
                        self._record_drift()
                    if self._waiting and self._reach_moments():
                        break
            finally:
                if done:
                    self.revision += 1
            return done

    def _record_drift(self) -> None:
        base = self.baseline
        params = base.network.flat_params.astype(np.float64)
        loss = base.history.train_loss[-1]
        sample = self.epoch % self._disagree_every == 0
        classes = self._diff_classes(base) if sample else None
        for slot, drift in zip(self.slots[1:], self._drifts, strict=True):
            twin = slot.run
            dw = np.abs(twin.network.flat_params.astype(np.float64) - params)
            drift.max_abs_dw.append(float(dw.max()))
            drift.loss_difference.append(abs(twin.history.train_loss[-1] - loss))
            if classes is not None:
                drift.disagreement_epochs.append(self.epoch)
                drift.disagreement.append(float(np.mean(self._diff_classes(twin) != classes)))

    def _diff_classes(self, run: Run) -> np.ndarray:
        net = run.network
        return predicted_classes(net.predict(self._diff_points.astype(net.dtype)))

    def disagreement(self, twin: int) -> float:
        """Share of the comparison grid where twin ``twin`` (0 = runs[1]) and the baseline
        predict different classes, now."""
        with self._lock, np.errstate(all="ignore"):
            ours = self._diff_classes(self.slots[twin + 1].run)
            return float(np.mean(ours != self._diff_classes(self.baseline)))

    def _reach_moments(self) -> bool:
        reached = [m for m in self._waiting if self._moment_reached(m)]
        for m in reached:
            self._waiting.remove(m)
            self.moments.append((self.epoch, m))
        return bool(reached)

    def _moment_reached(self, moment: MomentConfig) -> bool:
        if moment.epoch is not None:
            return self.epoch >= moment.epoch
        if moment.event == "nonfinite":
            return self.blowup is not None
        if moment.event == "twin_diverged":
            return any(d.max_abs_dw and d.max_abs_dw[-1] > DIVERGED for d in self._drifts)
        h = self.baseline.history
        accuracy = h.test_accuracy if h.test_accuracy else h.train_accuracy
        return bool(accuracy) and accuracy[-1] >= (moment.value or 1.0)

    # -- reading -------------------------------------------------------------------------

    def probe(self, x: float, y: float, run: int = 0) -> npt.NDArray[np.float64]:
        """The exact outputs of one run at the point (x, y)."""
        with self._lock, np.errstate(all="ignore"):
            net = self.runs[run].network
            return net.predict(np.array([[x, y]], dtype=net.dtype))[0].astype(np.float64)

    def drift(self, twin: int) -> Drift:
        """How far twin ``twin`` (0 = runs[1]) has drifted from the baseline so far."""
        with self._lock:
            d = self._drifts[twin]
            slot = self.slots[twin + 1]
            return Drift(
                key=slot.key,
                label=slot.label,
                epochs=np.arange(1, len(d.max_abs_dw) + 1, dtype=np.int64),
                max_abs_dw=np.array(d.max_abs_dw, dtype=np.float64),
                loss_difference=np.array(d.loss_difference, dtype=np.float64),
                disagreement_epochs=np.array(d.disagreement_epochs, dtype=np.int64),
                disagreement=np.array(d.disagreement, dtype=np.float64),
                first_divergence=first_divergence(d.max_abs_dw),
            )

    def snapshot(
        self,
        grid: tuple[int, int] | None = None,
        extent: Extent | None = None,
        *,
        grid_runs: Sequence[int] | None = None,
        experiments: bool = True,
    ) -> Snapshot:
        """A plain-data copy of the session now.

        Args:
            grid: (width, height) cells over which to evaluate output and hidden activations,
                or None for no grid.
            extent: The rectangle the grid covers; defaults to the scenario's display range.
            grid_runs: Indices of the runs to evaluate the grid for (those on screen);
                default all.
            experiments: Whether to measure the experiments (their views and metrics).
        """
        with self._lock, np.errstate(all="ignore"):
            area = extent or self.extent
            wanted = set(range(len(self.slots)) if grid_runs is None else grid_runs)
            if grid is not None:  # a large picture of a large model: a coarser grid
                grid = fit_grid(grid, self.baseline.network.flat_params.size, len(wanted))
            runs = tuple(
                self._view(slot, grid if i in wanted else None, area)
                for i, slot in enumerate(self.slots)
            )
            sc = self.scenario
            views = measure.views(self) if experiments else ()
            metrics = measure.base_metrics(self, runs[0])
            for v in views:
                metrics.update(v.metrics())
            keys = self.keys()
            view = sc.display.view
            return Snapshot(
                revision=self.revision,
                scenario=sc.name,
                title=sc.title or sc.name,
                description=sc.description.strip(),
                epoch=self.epoch,
                target_epochs=sc.training.epochs,
                seed=sc.training.seed,
                learning_rate=self.baseline.train_config.learning_rate,
                runs=runs,
                drifts=tuple(self.drift(i) for i in range(len(self._drifts))),
                x_train=self.data.x_train,
                y_train=self.data.y_train,
                x_test=self.data.x_test,
                y_test=self.data.y_test,
                n_classes=self.data.n_classes,
                flipped=self.flipped.copy(),
                probes=tuple(ProbeView(p.name, p.point, self.probe(*p.point)) for p in sc.probes),
                extent=self.extent,
                view=view if view in keys or view == DIFFERENCE else "",
                compare=self.compare_pair(),
                experiments=views,
                metrics=metrics,
                moments=tuple(
                    MomentView(epoch, m.describe(), m.caption) for epoch, m in self.moments
                ),
                blowup=self.blowup,
            )

    def _view(self, slot: Slot, grid: tuple[int, int] | None, area: Extent) -> RunView:
        run = slot.run
        net = run.network
        h = run.history
        # One pass over the training inputs serves neuron status, outputs and the loss.
        *hidden, outputs = net.predict_all(run.trainer.x)
        figures = measure.run_figures(run, outputs)
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
        count = len(h.train_loss)
        nan = np.full(count, np.nan)
        history = History(
            epochs=np.arange(1, count + 1, dtype=np.int64),
            train_loss=np.array(h.train_loss, dtype=np.float64),
            test_loss=np.array(h.test_loss, dtype=np.float64) if h.test_loss else nan,
            train_accuracy=np.array(h.train_accuracy, dtype=np.float64),
            test_accuracy=np.array(h.test_accuracy, dtype=np.float64) if h.test_loss else nan,
            noop_share=np.array(h.noop_share, dtype=np.float64),
        )
        return RunView(
            key=slot.key,
            label=slot.label,
            dtype=str(net.dtype),
            epoch=run.epoch,
            train_loss=figures["train.loss"],
            train_accuracy=figures["train.accuracy"],
            test_loss=figures["test.loss"],
            test_accuracy=figures["test.accuracy"],
            noop_share=h.noop_share[-1] if h.noop_share else 0.0,
            underflow=run.last.underflow if run.last else None,
            nonfinite=h.nonfinite[-1] if h.nonfinite else 0,
            blowup=run.blowup,
            layers=tuple(layers),
            history=history,
            train_outputs=outputs.astype(np.float64),
            grid=evaluate_grid(net, area, *grid) if grid else None,
        )

    # -- weights -------------------------------------------------------------------------

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
