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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine import controls, io
from engine.config import TrainConfig
from engine.data_checks import load_data
from engine.edits import (
    AddPoint,
    CleanTwin,
    Edit,
    FlipLabel,
    Marks,
    RemovePoint,
    SetTraining,
    SetWeight,
    add_point,
    drop_index,
    flip_label,
    nearest_point,
    remove_point,
)
from engine.experiments import measure
from engine.experiments.butterfly import DIVERGED
from engine.explain import Explanation, explain_step
from engine.history import Trace
from engine.metrics import Extent, evaluate_grid, gradient_norms, grid_points, predicted_classes
from engine.network import build_network
from engine.run import MEASURES, Array, Data, Run, RunState
from engine.scenario import MomentConfig, Scenario, ScenarioError, load_scenario
from engine.snapshot import (
    Drift,
    EditView,
    History,
    LayerView,
    MomentView,
    ProbeView,
    RunView,
    Snapshot,
)
from engine.timeline import Timeline
from engine.twins import DIFFERENCE, Slot, build_runs, poison

DIFF_GRID = 32
"""Cells per side of the grid on which twin boundaries are compared."""
DISAGREEMENT_SAMPLES = 500
"""About how many times over training.epochs a twin's disagreement is sampled."""
HISTORY_POINTS = 2000
"""Most points of each history a snapshot carries (views draw at most a few hundred)."""
CLEAN_KEY = "unedited"
"""The key of the clean twin a session starts by hand."""

Weights = list[tuple[Array, Array | None]]


@dataclass(frozen=True)
class _DriftState:
    """Where one twin stands against the baseline after the latest epoch."""

    max_abs_dw: float = 0.0
    loss_difference: float = 0.0
    first_divergence: int = -1


@dataclass(frozen=True)
class _SlotState:
    key: str
    label: str
    clean: bool
    run: RunState


@dataclass(frozen=True)
class _State:
    """The whole session at one epoch: what a checkpoint holds."""

    slots: tuple[_SlotState, ...]
    data: Data
    marks: Marks
    flipped: npt.NDArray[np.int64]
    moments: tuple[tuple[int, MomentConfig], ...]
    waiting: tuple[MomentConfig, ...]
    drifts: tuple[tuple[str, _DriftState], ...]

    @property
    def nbytes(self) -> int:
        return sum(slot.run.nbytes for slot in self.slots) + 2048


@dataclass(frozen=True)
class Fork:
    """Training went on from a past epoch: the epochs after it were dropped."""

    epoch: int
    dropped_to: int
    """The newest epoch there was before the fork."""


class Session:
    """A scenario's runs, trained together, with their past and the edits made by hand.

    Args:
        scenario: The validated scenario.
        initial_weights: Start the baseline (and the twins derived from it) from these
            weights instead of the scenario's seeded initialisation (or its model.weights).
        data: The scenario's points, when already built and checked (``load_data``).

    Raises:
        ScenarioError: If the data cannot be built, breaks a rule that needs it, or the
            scenario's weight file does not fit its network.
    """

    def __init__(
        self,
        scenario: Scenario,
        initial_weights: Weights | None = None,
        *,
        data: Data | None = None,
    ) -> None:
        self.scenario = scenario
        self.original = load_data(scenario) if data is None else data
        """The scenario's data as built, before any edit by hand."""
        if initial_weights is None and scenario.model.weights:
            initial_weights = scenario_weights(scenario, self.original)
        self._initial_weights = initial_weights
        self._lock = threading.RLock()
        self.revision = 0
        """Grows with every change; a snapshot carries it so views can skip redraws."""
        self.timeline: Timeline[_State, Edit] = Timeline()
        """Checkpoints to replay the past from, and the log of edits."""
        self.last_fork: Fork | None = None
        """The latest time training went on from a past epoch (the screen says so)."""
        self._build()

    @classmethod
    def from_file(cls, path: str | Path) -> Session:
        """Load, validate and build a scenario file (raises ScenarioError)."""
        return cls(load_scenario(path))

    def _build(self) -> None:
        sc = self.scenario
        x_min, x_max = sc.display.x_range
        y_min, y_max = sc.display.y_range
        self.extent = Extent(x_min, x_max, y_min, y_max)
        self._diff_points = grid_points(self.extent, DIFF_GRID, DIFF_GRID)
        self._disagree_every = max(1, sc.training.epochs // DISAGREEMENT_SAMPLES)
        self.data = self.original
        """The data the runs train on now (the original with the edits made by hand)."""
        self.marks = Marks.none()
        """Training points added or relabelled by hand."""
        self.slots: list[Slot]
        self.slots, self.flipped = build_runs(sc, self.data, self._initial_weights)
        self._clean: set[str] = set()
        self._drifts: dict[str, _DriftState] = {s.key: _DriftState() for s in self.twins}
        self._traces: dict[str, Trace] = {}
        self._drift_traces: dict[str, Trace] = {}
        self._disagreements: dict[str, Trace] = {}
        self.moments: list[tuple[int, MomentConfig]] = []
        """Moments reached so far, with the epoch each was reached at."""
        self._waiting = list(sc.moments)
        self.head = 0
        """The newest epoch trained; ``epoch`` is less while looking at the past."""
        self.timeline.clear()
        self.last_fork = None
        self._checkpoint()
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
        """The epoch the runs are at: the head, or a past epoch being looked at."""
        return self.baseline.epoch

    @property
    def in_past(self) -> bool:
        """Whether the runs show a past epoch (training from here forks)."""
        return self.epoch < self.head

    @property
    def edited(self) -> bool:
        """Whether the data was edited by hand."""
        return self.data is not self.original

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
        """Back to the scenario's initial state (same seeds, same weights, no edits)."""
        with self._lock:
            self._build()

    def step(self, epochs: int = 1) -> int:
        """Train every run ``epochs`` epochs in lock-step.

        From a past epoch this forks: the epochs after it are dropped (``last_fork``). Stops
        early after the epoch in which any run first produced NaN or inf, or in which a
        scenario moment was reached (``moments`` then ends with it).

        Returns:
            The number of epochs trained.
        """
        with self._lock, np.errstate(all="ignore"):
            done = 0
            try:
                while done < epochs and not self.blowup:
                    if done == 0:
                        self.fork()
                    moments = len(self.moments)
                    self._advance(record=True)
                    self.head = self.epoch
                    done += 1
                    if self.timeline.due(self.epoch):
                        self._checkpoint()
                    if len(self.moments) > moments:
                        break
            finally:
                if done:
                    self.revision += 1
            return done

    def _advance(self, *, record: bool) -> None:
        """One lock-step epoch of every run; ``record`` adds it to the histories."""
        poisoning = self.scenario.experiments.poison
        if poisoning is not None and poisoning.at_epoch == self.epoch > 0:
            poison(self.slots[1].run, self.data, self.flipped)
        for slot in self.slots:
            slot.run.step()
        epoch = self.epoch
        if record:
            for slot in self.slots:
                trace = self._traces.get(slot.key)
                if trace is None:
                    trace = self._traces[slot.key] = Trace(MEASURES)
                assert slot.run.latest is not None
                trace.append(epoch, slot.run.latest.row())
        if self.twins:
            self._record_drift(record)
        if self._waiting:
            self._reach_moments()

    def _record_drift(self, record: bool) -> None:
        base = self.baseline
        params = base.network.flat_params.astype(np.float64)
        assert base.latest is not None
        loss = base.latest.train_loss
        sample = record and self.epoch % self._disagree_every == 0
        classes = self._diff_classes(base) if sample else None
        for slot in self.twins:
            twin = slot.run
            assert twin.latest is not None
            dw = float(np.abs(twin.network.flat_params.astype(np.float64) - params).max())
            dloss = abs(twin.latest.train_loss - loss)
            old = self._drifts.get(slot.key, _DriftState())
            first = old.first_divergence
            if first < 0 and dw > DIVERGED:
                first = self.epoch
            self._drifts[slot.key] = _DriftState(dw, dloss, first)
            if record:
                trace = self._drift_traces.setdefault(
                    slot.key, Trace(("max_abs_dw", "loss_difference"))
                )
                trace.append(self.epoch, (dw, dloss))
            if classes is not None:
                share = float(np.mean(self._diff_classes(twin) != classes))
                trace = self._disagreements.setdefault(slot.key, Trace(("disagreement",)))
                trace.append(self.epoch, (share,))

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
            return any(d.max_abs_dw > DIVERGED for d in self._drifts.values())
        latest = self.baseline.latest
        if latest is None:
            return False
        accuracy = latest.test_accuracy
        if not np.isfinite(accuracy):
            accuracy = latest.train_accuracy
        return accuracy >= (moment.value or 1.0)

    # -- the past ------------------------------------------------------------------------

    def _state(self) -> _State:
        return _State(
            slots=tuple(
                _SlotState(s.key, s.label, s.key in self._clean, s.run.state()) for s in self.slots
            ),
            data=self.data,
            marks=self.marks,
            flipped=self.flipped,
            moments=tuple(self.moments),
            waiting=tuple(self._waiting),
            drifts=tuple(self._drifts.items()),
        )

    def _checkpoint(self) -> None:
        state = self._state()
        self.timeline.put(self.epoch, state, state.nbytes)

    def _restore(self, state: _State) -> None:
        live = {slot.key: slot for slot in self.slots}
        slots = []
        for saved in state.slots:
            slot = live.get(saved.key)
            if slot is None:
                run = Run(saved.run.data, self.scenario.model, saved.run.train)
                slot = Slot(saved.key, saved.label, run)
            slot.label = saved.label
            slot.run.set_state(saved.run)
            slots.append(slot)
        self.slots = slots
        self._clean = {s.key for s in state.slots if s.clean}
        self.data, self.marks, self.flipped = state.data, state.marks, state.flipped
        self.moments, self._waiting = list(state.moments), list(state.waiting)
        self._drifts = dict(state.drifts)

    def seek(self, epoch: int) -> int:
        """Show the runs as they were after ``epoch`` epochs (0..head); the future is kept.

        The newest checkpoint at or before the epoch is restored and training replays from
        it, applying the edits made on the way, so what is shown is exactly what was trained.

        Returns:
            The epoch now shown.
        """
        with self._lock, np.errstate(all="ignore"):
            target = min(max(epoch, 0), self.head)
            if target == self.epoch:
                return target
            point = self.timeline.at_or_before(target)
            if not point.epoch <= self.epoch <= target:
                self._restore(point.state)
            while self.epoch < target:
                self._advance(record=False)
                for edit in self.timeline.edits_at(self.epoch):
                    self._apply(edit)
            self.revision += 1
            return target

    def fork(self) -> Fork | None:
        """From a past epoch: drop the epochs after it, so training and edits go on from here.

        Returns:
            What was dropped, or None when the runs are at the head already.
        """
        with self._lock:
            if not self.in_past:
                return None
            epoch = self.epoch
            self.last_fork = Fork(epoch, self.head)
            self.timeline.truncate(epoch)
            for traces in (self._traces, self._drift_traces, self._disagreements):
                for trace in traces.values():
                    trace.truncate(epoch)
            self.head = epoch
            self.revision += 1
            return self.last_fork

    # -- edits ---------------------------------------------------------------------------

    def _edit(self, edit: Edit) -> None:
        """Apply an edit now, log it at this epoch and checkpoint the result."""
        with self._lock:
            self.fork()
            self._apply(edit)
            self.timeline.log(self.epoch, edit)
            self._checkpoint()
            self.revision += 1

    def _apply(self, edit: Edit) -> None:
        if isinstance(edit, AddPoint | FlipLabel | RemovePoint):
            self._apply_data(edit)
        elif isinstance(edit, SetTraining):
            changes = dict(edit.changes)
            for slot in self.slots:
                who = slot.label if self.twins else ""
                train = controls.changed_training(slot.run.train_config, changes, who)
                slot.run.set_train_config(train)
        elif isinstance(edit, SetWeight):
            run = self.run_named(edit.run)
            assert run is not None
            layer = run.network.layers[edit.layer]
            array = layer.bias if edit.row < 0 else layer.weight
            assert array is not None
            index = (edit.col,) if edit.row < 0 else (edit.row, edit.col)
            kind = array.dtype.type
            if edit.value is not None:
                array[index] = kind(edit.value)
            else:
                array[index] = array[index] + kind(edit.delta)
            if run.optimizer.master is not None:  # master weights follow an edit by hand
                run.optimizer.master[...] = run.network.flat_params
        elif isinstance(edit, CleanTwin):
            base = self.baseline
            twin = Run(self.original, self.scenario.model, base.train_config, base.weights())
            saved = base.state()
            twin.set_state(replace(saved, data=self.original, latest=None, last=None))
            self.slots.append(Slot(CLEAN_KEY, "unedited data", twin))
            self.slots[0].label = "edited data"
            self._clean.add(CLEAN_KEY)
            self._drifts[CLEAN_KEY] = _DriftState()

    def _apply_data(self, edit: AddPoint | FlipLabel | RemovePoint) -> None:
        if isinstance(edit, AddPoint):
            self.data, self.marks = add_point(self.data, self.marks, edit)
        elif isinstance(edit, FlipLabel):
            self.data, self.marks = flip_label(self.data, self.marks, edit)
        else:
            self.data, self.marks = remove_point(self.data, self.marks, edit)
            self.flipped = drop_index(self.flipped, edit.index)
        poisoning = self.scenario.experiments.poison
        for i, slot in enumerate(self.slots):
            if slot.key in self._clean:
                continue
            slot.run.set_data(self.data)
            if (
                i == 1
                and poisoning is not None
                and (poisoning.at_epoch == 0 or self.epoch > poisoning.at_epoch)
            ):
                poison(slot.run, self.data, self.flipped)

    def add_point(self, x: float, y: float, label: int) -> AddPoint:
        """Add a training point of class ``label`` at (x, y); the model is kept."""
        if not 0 <= label < self.data.n_classes:
            raise ValueError(f"class {label} does not exist (0..{self.data.n_classes - 1})")
        if not (np.isfinite(x) and np.isfinite(y)):
            raise ValueError("a point needs finite coordinates")
        edit = AddPoint(float(x), float(y), int(label))
        self._edit(edit)
        return edit

    def flip_nearest(self, x: float, y: float) -> FlipLabel | None:
        """Move the label of the training point nearest (x, y) to the next class."""
        with self._lock:
            index = nearest_point(self.data, x, y)
            if index < 0:
                return None
            label = (int(self.data.y_train[index]) + 1) % self.data.n_classes
            edit = FlipLabel(index, label)
            self._edit(edit)
            return edit

    def remove_nearest(self, x: float, y: float) -> RemovePoint | None:
        """Take out the training point nearest (x, y) (never the last of a class)."""
        with self._lock:
            index = nearest_point(self.data, x, y)
            if index < 0:
                return None
            label = self.data.y_train[index]
            if np.count_nonzero(self.data.y_train == label) <= 1:
                raise ValueError(f"that is the last training point of class {label}")
            edit = RemovePoint(index)
            self._edit(edit)
            return edit

    def add_clean_twin(self) -> None:
        """Train a twin beside the baseline: its weights now, on the unedited data.

        Raises:
            ValueError: If the session compares runs already (an experiment's twins).
        """
        with self._lock:
            if self.twins:
                names = " and ".join(slot.label for slot in self.slots)
                raise ValueError(f"this session compares runs already ({names})")
            self._edit(CleanTwin())

    def edit_weight(
        self,
        run: int,
        layer: int,
        row: int,
        col: int,
        *,
        delta: float | None = None,
        value: float | None = None,
    ) -> SetWeight:
        """Nudge one weight (row -1: the bias) of one run by ``delta``, or set it to ``value``.

        Raises:
            ValueError: If there is no such parameter or the amount is not finite.
        """
        with self._lock:
            if not 0 <= run < len(self.slots):
                raise ValueError(f"no run {run}")
            net = self.slots[run].run.network
            if not 0 <= layer < len(net.layers):
                raise ValueError(f"no layer {layer}")
            target = net.layers[layer]
            if not (-1 <= row < target.n_in and 0 <= col < target.n_out):
                raise ValueError(f"no weight ({row}, {col}) in layer {layer}")
            if row < 0 and target.bias is None:
                raise ValueError("this layer has no bias")
            amount = value if value is not None else delta
            if amount is None or not np.isfinite(amount):
                raise ValueError("expected a finite amount")
            edit = SetWeight(self.slots[run].key, layer, row, col, delta, value)
            self._edit(edit)
            return edit

    def set_training(self, **changes: Any) -> SetTraining:
        """Change live training settings of every run; they apply at the next epoch.

        Raises:
            ScenarioError: If a run's settings would not validate (nothing changes then).
        """
        with self._lock:
            for slot in self.slots:
                controls.changed_training(slot.run.train_config, changes, slot.label)
            edit = SetTraining(tuple(changes.items()))
            self._edit(edit)
            return edit

    def reconfigure(self, changes: dict[str, dict[str, Any]]) -> None:
        """Change what makes a run (network, loss, data, initialiser) and start again.

        ``changes`` maps a section ('data', 'model', 'init', 'training') to new values. The
        live training settings carry over. The new scenario and its data are validated as a
        file would be; when they fail, nothing changes.

        Raises:
            ScenarioError: One line per problem.
        """
        with self._lock:
            live = self.train_config().model_dump(include=set(controls.LIVE_KEYS))
            changes = {**changes, "training": {**live, **changes.get("training", {})}}
            scenario = controls.changed_scenario(self.scenario, changes)
            data = load_data(scenario)
            old = self.architecture()
            self.scenario, self.original = scenario, data
            if set(changes) - {"data", "training"}:
                self._initial_weights = None
            self._build()
            if self._initial_weights is not None and self.architecture() != old:
                self._initial_weights = None
                self._build()

    def train_config(self) -> TrainConfig:
        """The baseline's training settings now (live changes included)."""
        return self.baseline.train_config

    def edits(self) -> list[tuple[int, str]]:
        """(epoch, what) of every edit made by hand on the way to the head."""
        return [(epoch, edit.describe()) for epoch, edit in self.timeline.edits]

    def explain(
        self,
        point: tuple[float, float],
        *,
        run: int = 0,
        label: int | None = None,
        training_point: int | None = None,
        focus: tuple[int, int] | None = None,
    ) -> Explanation:
        """One optimiser step of a run on one example, explained stage by stage.

        Args:
            point: The input (ignored when ``training_point`` is given).
            run: Index of the run.
            label: The target class; default the label of the nearest training point.
            training_point: Explain this training point with its own label instead.
            focus: (layer, neuron) always listed.
        """
        with self._lock:
            data = self.slots[run].run.data
            if training_point is not None:
                x, y = data.x_train[training_point].tolist()
                source = f"training point {training_point}"
                label = int(data.y_train[training_point]) if label is None else label
            else:
                x, y = point
                nearest = nearest_point(data, x, y)
                source = "the probe point"
                if label is None:
                    label = int(data.y_train[nearest]) if nearest >= 0 else 0
            return explain_step(self.slots[run].run, (x, y), label, source=source, focus=focus)

    # -- reading -------------------------------------------------------------------------

    def probe(self, x: float, y: float, run: int = 0) -> npt.NDArray[np.float64]:
        """The exact outputs of one run at the point (x, y)."""
        with self._lock, np.errstate(all="ignore"):
            net = self.runs[run].network
            return net.predict(np.array([[x, y]], dtype=net.dtype))[0].astype(np.float64)

    def drift(self, twin: int, points: int | None = HISTORY_POINTS) -> Drift:
        """How far twin ``twin`` (0 = runs[1]) has drifted from the baseline so far."""
        with self._lock:
            slot = self.slots[twin + 1]
            trace = self._drift_traces.get(slot.key)
            sampled = self._disagreements.get(slot.key)
            view = trace.view(points) if trace else None
            sample = sampled.view(points) if sampled else None
            state = self._drifts.get(slot.key, _DriftState())
            none = np.zeros(0)
            return Drift(
                key=slot.key,
                label=slot.label,
                epochs=view.epochs if view else np.zeros(0, dtype=np.int64),
                max_abs_dw=view.values["max_abs_dw"] if view else none,
                loss_difference=view.values["loss_difference"] if view else none,
                disagreement_epochs=sample.epochs if sample else np.zeros(0, dtype=np.int64),
                disagreement=sample.values["disagreement"] if sample else none,
                first_divergence=state.first_divergence,
                last_max_abs_dw=state.max_abs_dw,
                last_loss_difference=state.loss_difference,
            )

    def snapshot(
        self,
        grid: tuple[int, int] | None = None,
        extent: Extent | None = None,
        *,
        grid_runs: Sequence[int] | None = None,
        experiments: bool = True,
        history_points: int = HISTORY_POINTS,
    ) -> Snapshot:
        """A plain-data copy of the session now.

        Args:
            grid: (width, height) cells over which to evaluate output and hidden activations,
                or None for no grid.
            extent: The rectangle the grid covers; defaults to the scenario's display range.
            grid_runs: Indices of the runs to evaluate the grid for (those on screen);
                default all.
            experiments: Whether to measure the experiments (their views and metrics).
            history_points: Most points of each history (a downsampled copy).
        """
        with self._lock, np.errstate(all="ignore"):
            area = extent or self.extent
            wanted = set(range(len(self.slots)) if grid_runs is None else grid_runs)
            runs = tuple(
                self._view(slot, grid if i in wanted else None, area, history_points)
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
                drifts=tuple(self.drift(i, history_points) for i in range(len(self.twins))),
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
                head=self.head,
                edits=tuple(EditView(epoch, text) for epoch, text in self.edits()),
                added=self.marks.added.copy(),
                relabelled=self.marks.relabelled.copy(),
                training=self.baseline.train_config.model_dump(),
            )

    def _view(self, slot: Slot, grid: tuple[int, int] | None, area: Extent, points: int) -> RunView:
        run = slot.run
        net = run.network
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
                    grad_weight=layer.grad_weight.astype(np.float64),
                    grad_bias=None if layer.grad_bias is None else layer.grad_bias.astype(float),
                )
            )
        trace = self._traces.get(slot.key)
        history = History.empty()
        if trace is not None:
            v = trace.view(points)
            history = History(
                epochs=v.epochs,
                train_loss=v.values["train_loss"],
                test_loss=v.values["test_loss"],
                train_accuracy=v.values["train_accuracy"],
                test_accuracy=v.values["test_accuracy"],
                noop_share=v.values["noop_share"],
            )
        latest = run.latest
        return RunView(
            key=slot.key,
            label=slot.label,
            dtype=str(net.dtype),
            epoch=run.epoch,
            train_loss=figures["train.loss"],
            train_accuracy=figures["train.accuracy"],
            test_loss=figures["test.loss"],
            test_accuracy=figures["test.accuracy"],
            noop_share=latest.noop_share if latest else 0.0,
            underflow=run.last.underflow if run.last else None,
            nonfinite=latest.nonfinite if latest else 0,
            blowup=run.blowup,
            layers=tuple(layers),
            history=history,
            train_outputs=outputs.astype(np.float64),
            grid=evaluate_grid(net, area, *grid) if grid else None,
        )

    # -- weights -------------------------------------------------------------------------

    def architecture(self) -> list[dict[str, object]]:
        return self.baseline.network.architecture()

    def save_weights(self, path: str | Path, run: int = 0) -> str:
        """Save one run's weights (the baseline's by default) atomically; returns the sha256."""
        with self._lock:
            return io.save_weights(
                path,
                self.slots[run].run.weights(),
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


def scenario_weights(scenario: Scenario, data: Data) -> Weights:
    """The weights a scenario's ``model.weights`` names, checked against its network.

    Raises:
        ScenarioError: One line naming the file and key when the file does not fit.
    """
    assert scenario.model.weights is not None
    path = Path(scenario.model.weights)
    if scenario.base_dir and not path.is_absolute():
        path = Path(scenario.base_dir) / path
    sc = scenario
    net = build_network(sc.model, sc.training.loss, data.n_classes, sc.training.seed, "float64")
    try:
        return io.load_weights(path, net.architecture(), None)
    except io.WeightFileError as exc:
        raise ScenarioError([f"{sc.source or sc.name}: model.weights: {exc}"]) from None


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
