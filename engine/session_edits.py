"""The edits a session takes by hand: points and labels, weights, a clean twin, settings.

``Session`` inherits these methods. Each edit is applied now, logged in the timeline at the
epoch it was made at (so replaying the past applies it again), and checkpointed; made while
looking at the past, it forks first.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from engine import controls
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
from engine.explain import Explanation, explain_step
from engine.run import Array, Data, Run
from engine.scenario import Scenario
from engine.timeline import Timeline
from engine.twins import Slot, poison

if TYPE_CHECKING:
    from engine.session import Fork

CLEAN_KEY = "unedited"
"""The key of the clean twin a session starts by hand."""


class SessionEdits:
    """Edits by hand; mixed into ``Session``, whose state these attributes are."""

    scenario: Scenario
    original: Data
    data: Data
    marks: Marks
    flipped: np.ndarray
    slots: list[Slot]
    timeline: Timeline[Any, Edit]
    _lock: threading.RLock
    _clean: set[str]
    _drifts: dict[str, Any]
    _initial_weights: list[tuple[Array, Array | None]] | None

    @property
    def epoch(self) -> int:
        raise NotImplementedError

    @property
    def twins(self) -> list[Slot]:
        raise NotImplementedError

    @property
    def baseline(self) -> Run:
        raise NotImplementedError

    def fork(self) -> Fork | None:
        raise NotImplementedError

    def run_named(self, key: str) -> Run | None:
        raise NotImplementedError

    def architecture(self) -> list[dict[str, object]]:
        raise NotImplementedError

    def _checkpoint(self) -> None:
        raise NotImplementedError

    def _build(self) -> None:
        raise NotImplementedError

    revision: int

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
            self._drifts.pop(CLEAN_KEY, None)  # it starts level with the baseline

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
