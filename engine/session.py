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

import copy
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine import io
from engine.data_checks import load_data
from engine.edits import Edit, Marks
from engine.experiments import measure
from engine.experiments.butterfly import DIVERGED
from engine.experiments.cache import Background
from engine.history import Trace, TraceView
from engine.metrics import Extent, grid_points, plane_inputs, predicted_classes
from engine.network import build_network
from engine.run import MEASURES, Array, Data, Run, RunState
from engine.scenario import MomentConfig, Scenario, ScenarioError, load_scenario
from engine.session_edits import CLEAN_KEY, SessionEdits
from engine.snapshot import Drift, History, Snapshot
from engine.timeline import Timeline
from engine.twins import Slot, build_runs, poison, step_runs
from engine.views import HISTORY_POINTS, take_snapshot

__all__ = ["CLEAN_KEY", "Fork", "Retained", "Session"]

DIFF_GRID = 32
"""Cells per side of the grid on which twin boundaries are compared."""
DISAGREEMENT_SAMPLES = 500
"""About how many times over training.epochs a twin's disagreement is sampled."""

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
class Retained:
    """What a session keeps of its past, counted. Every part has a fixed most, so however
    long a session trains these stop growing (the README's memory bound follows from them)."""

    traces: int
    """Histories kept (one per run, per twin's drift, per sampled figure)."""
    rows: int
    """Rows those histories hold."""
    row_capacity: int
    """Most rows they can ever hold."""
    trace_bytes: int
    """Bytes of the histories' arrays (allocated whole when a history starts)."""
    checkpoints: int
    """Checkpoints kept to replay the past from."""
    checkpoint_limit: int
    """Most checkpoints the budget allows at their size."""
    checkpoint_bytes: int
    """Bytes of the checkpoints' arrays (at most ``Timeline.budget``)."""

    @property
    def nbytes(self) -> int:
        """Bytes of the histories and checkpoints together."""
        return self.trace_bytes + self.checkpoint_bytes


@dataclass(frozen=True)
class Fork:
    """Training went on from a past epoch: the epochs after it were dropped."""

    epoch: int
    dropped_to: int
    """The newest epoch there was before the fork."""


class Session(SessionEdits):
    """A scenario's runs, trained together, with their past and the edits made by hand.

    Args:
        scenario: The validated scenario.
        initial_weights: Start the baseline (and the twins derived from it) from these
            weights instead of the scenario's seeded initialisation (or its `weights` file).
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
        self._initial_weights = initial_weights
        if initial_weights is None and scenario.weights is not None:
            self._initial_weights = self._pinned_weights()
        self._lock = threading.RLock()
        self.revision = 0
        """Grows with every change; a snapshot carries it so views can skip redraws."""
        self.pace = 0.0
        """Seconds an expensive measurement may be reused for while the session changes (0:
        measure every revision); see ``pace_measurements``."""
        self.aim: tuple[float, float] | None = None
        """The point attacks aim at (the trainer's probe, on a key), or None."""
        self.picture: tuple[Extent, tuple[int, int]] | None = None
        """While a snapshot with a grid measures the experiments: the rectangle and (width,
        height) of its grid, for an experiment that draws a plane beside the runs."""
        self.background: Background | None = None
        """Where out-of-date expensive measurements are made again while the last ones are
        shown (an interactive front end's); None: measured at once, in the caller's thread."""
        self.timeline: Timeline[_State, Edit] = Timeline()
        """Checkpoints to replay the past from, and the log of edits."""
        self.last_fork: Fork | None = None
        """The latest time training went on from a past epoch (the screen says so)."""
        self._build()

    def _pinned_weights(self) -> Weights:
        """The scenario's `weights` file, refused unless its sha256 is `weights_sha256`."""
        from engine.attacks import weight_files  # only for a scenario that pins its weights

        sc = self.scenario
        assert sc.weights is not None
        path = Path(sc.weights)
        if not path.is_absolute():
            path = Path(sc.base_dir or ".") / path
        network = build_network(
            sc.model, sc.training.loss, self.original.n_classes, 0, sc.training.dtype,
            self.original.x_train.shape[1],
        )  # fmt: skip
        try:
            return weight_files.load_pinned(path, sc.weights_sha256, network.architecture())
        except (weight_files.PinError, io.WeightFileError) as exc:
            raise ScenarioError([f"{sc.source or sc.name}: weights: {exc}"]) from None

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
        self._base_classes: tuple[tuple[object, ...], np.ndarray] = ((), np.zeros(0))
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
        self._sampled: dict[str, Trace] = {}
        self.traces = SampledFigures(self._sampled)
        """Experiment figures sampled during training: name -> (epochs, values)."""
        self.measurements: dict[str, tuple[int, float, object, float]] = {}
        """Expensive measurements by name: (revision, time, value, seconds it took)
        (``experiments.cache``)."""
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

    def features(self) -> tuple[str, ...]:
        """Names of the networks' inputs: x1, x2, then a backdoor's trigger."""
        extra = self.data.x_train.shape[1] - 2
        return ("x1", "x2", *(["trigger"] if extra == 1 else [f"x{3 + i}" for i in range(extra)]))

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
        self._switch_to_clean_data()
        step_runs(self.runs)
        epoch = self.epoch
        if record:
            for slot in self.slots:
                trace = self._traces.get(slot.key)
                if trace is None:
                    trace = self._traces[slot.key] = Trace(MEASURES)
                assert slot.run.latest is not None
                trace.append(epoch, slot.run.latest)
        if self.twins:
            self._record_drift(record)
        if record and epoch % self._disagree_every == 0:
            self._record_traces()
        if self._waiting:
            self._reach_moments()

    def _switch_to_clean_data(self) -> None:
        """A backdoor's fine-tuned twin trains on clean data from its epoch on."""
        b = self.scenario.experiments.backdoor
        if b is not None and b.finetune_at == self.epoch and len(self.slots) > 1:
            from engine.attacks import backdoor

            backdoor.finetune(self.slots[1].run, self.data)

    def _record_traces(self) -> None:
        """Cheap per-epoch figures of the experiments that record them (sampled like drift)."""
        for name, value in measure.traces(self).items():
            trace = self._sampled.get(name)
            if trace is None:
                trace = self._sampled[name] = Trace(("value",))
            trace.append(self.epoch, (value,))

    def _record_drift(self, record: bool) -> None:
        base = self.baseline
        params = base.network.flat_params.astype(np.float64)
        assert base.latest is not None
        loss = base.latest.train_loss
        sample = record and self.epoch % self._disagree_every == 0
        classes = self._baseline_classes() if sample else None
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
                trace = self._drift_traces.get(slot.key)
                if trace is None:
                    trace = self._drift_traces[slot.key] = Trace(("max_abs_dw", "loss_difference"))
                trace.append(self.epoch, (dw, dloss))
            if classes is not None:
                share = float(np.mean(self._diff_classes(twin) != classes))
                trace = self._disagreements.get(slot.key)
                if trace is None:
                    trace = self._disagreements[slot.key] = Trace(("disagreement",))
                trace.append(self.epoch, (share,))

    def _baseline_classes(self) -> np.ndarray:
        """The baseline's classes on the comparison grid, computed once for its weights
        however many twins are compared with it, and whenever they are compared."""
        params = self.baseline.network.flat_params
        key = (params.dtype.str, params.shape, params.tobytes())
        if self._base_classes[0] != key:
            self._base_classes = (key, self._diff_classes(self.baseline))
        return self._base_classes[1]

    def _diff_classes(self, run: Run) -> np.ndarray:
        net = run.network
        points = plane_inputs(self._diff_points, net.layers[0].n_in)
        return predicted_classes(net.predict(points.astype(net.dtype)))

    def disagreement(self, twin: int) -> float:
        """Share of the comparison grid where twin ``twin`` (0 = runs[1]) and the baseline
        predict different classes, now."""
        with self._lock, np.errstate(all="ignore"):
            ours = self._diff_classes(self.slots[twin + 1].run)
            return float(np.mean(ours != self._baseline_classes()))

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

    def seek(self, epoch: int, limit: int | None = None) -> int:
        """Show the runs as they were after ``epoch`` epochs (0..head); the future is kept.

        The newest checkpoint at or before the epoch is restored and training replays from
        it, applying the edits made on the way, so what is shown is exactly what was trained.

        Args:
            epoch: Where to go.
            limit: Replay at most this many epochs now (call again to go on); None for all.

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
            replayed = 0
            while self.epoch < target and (limit is None or replayed < limit):
                self._advance(record=False)
                for edit in self.timeline.edits_at(self.epoch):
                    self._apply(edit)
                replayed += 1
            self.revision += 1
            return self.epoch

    def replay_cost(self, epoch: int) -> int:
        """How many epochs ``seek(epoch)`` would replay."""
        with self._lock:
            target = min(max(epoch, 0), self.head)
            start = self.timeline.at_or_before(target).epoch
            if start <= self.epoch <= target:
                start = self.epoch
            return target - start

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
            for traces in (self._traces, self._drift_traces, self._disagreements, self._sampled):
                for trace in traces.values():
                    trace.truncate(epoch)
            self.head = epoch
            self.revision += 1
            return self.last_fork

    # -- reading -------------------------------------------------------------------------

    def frozen(self) -> Session:
        """A copy to measure from another thread while this session trains on: each run's
        network copied, everything else shared (data and settings are replaced, never
        changed in place). Not for training or editing."""
        with self._lock:
            twin = copy.copy(self)
            twin._lock = threading.RLock()
            twin.slots = [Slot(s.key, s.label, s.run.frozen()) for s in self.slots]
            twin.measurements = {}
            twin.background = None
            return twin

    def pace_measurements(self, seconds: float) -> None:
        """Let expensive measurements be reused for ``seconds`` while training runs; 0 ends it.

        Ending it bumps the revision, so the next snapshot measures the session as it is.
        """
        with self._lock:
            if self.pace and not seconds:
                self.revision += 1
            self.pace = seconds

    def aim_at(self, point: tuple[float, float] | None) -> None:
        """Point the attacks at ``point`` (None: at nothing)."""
        with self._lock:
            self.aim = point
            self.revision += 1

    def probe(self, x: float, y: float, run: int = 0) -> npt.NDArray[np.float64]:
        """The exact outputs of one run at the point (x, y)."""
        with self._lock, np.errstate(all="ignore"):
            net = self.runs[run].network
            point = plane_inputs(np.array([[x, y]]), net.layers[0].n_in)
            return net.predict(point.astype(net.dtype))[0].astype(np.float64)

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
        """A plain-data copy of the session now (see ``engine.views.take_snapshot``)."""
        return take_snapshot(
            self,
            grid,
            extent,
            grid_runs=grid_runs,
            experiments=experiments,
            history_points=history_points,
        )

    def retained(self) -> Retained:
        """How much of its past the session keeps now: histories and checkpoints, counted."""
        with self._lock:
            traces = [
                *self._traces.values(),
                *self._drift_traces.values(),
                *self._disagreements.values(),
                *self._sampled.values(),
            ]
            return Retained(
                traces=len(traces),
                rows=sum(len(t) for t in traces),
                row_capacity=sum(t.capacity for t in traces),
                trace_bytes=sum(t.nbytes for t in traces),
                checkpoints=len(self.timeline),
                checkpoint_limit=self.timeline.limit(),
                checkpoint_bytes=self.timeline.nbytes,
            )

    def history(self, key: str, points: int | None = HISTORY_POINTS) -> History:
        """A downsampled copy of the history of the run with this key."""
        with self._lock:
            trace = self._traces.get(key)
            if trace is None:
                return History.empty()
            v = trace.view(points)
            return History(
                epochs=v.epochs,
                train_loss=v.values["train_loss"],
                test_loss=v.values["test_loss"],
                train_accuracy=v.values["train_accuracy"],
                test_accuracy=v.values["test_accuracy"],
                noop_share=v.values["noop_share"],
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


class SampledFigures:
    """Experiment figures sampled while training, read as name -> (epochs, values).

    Each is kept in a bounded ``Trace``; reading gives a downsampled copy.
    """

    def __init__(self, traces: dict[str, Trace]) -> None:
        self._traces = traces

    def _pair(self, trace: Trace) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        view: TraceView = trace.view(HISTORY_POINTS)
        return view.epochs, view.values["value"]

    def __getitem__(self, name: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        return self._pair(self._traces[name])

    def __contains__(self, name: object) -> bool:
        return name in self._traces

    def get(self, name: str, default: tuple[Any, Any] = ((), ())) -> tuple[Any, Any]:
        """(epochs, values) of a figure, or ``default``."""
        trace = self._traces.get(name)
        return default if trace is None else self._pair(trace)

    def keys(self) -> list[str]:
        return list(self._traces)
