"""Edits made by hand while a session trains: points, labels, weights, a clean twin, settings.

Each edit is plain data, logged in the session's timeline with the epoch it was made at, so
replaying the past applies it again at the same moment. The functions here change data
without touching a run; ``engine.session`` applies edits to its runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.run import Data

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class AddPoint:
    """A training point of class ``label`` at (x, y)."""

    x: float
    y: float
    label: int

    def describe(self) -> str:
        return f"added a class {self.label} point at ({self.x:.3g}, {self.y:.3g})"


@dataclass(frozen=True)
class FlipLabel:
    """The training point at ``index`` moved to the next class."""

    index: int
    label: int
    """Its new label."""

    def describe(self) -> str:
        return f"flipped point {self.index} to class {self.label}"


@dataclass(frozen=True)
class RemovePoint:
    """The training point at ``index`` taken out."""

    index: int

    def describe(self) -> str:
        return f"removed point {self.index}"


@dataclass(frozen=True)
class SetWeight:
    """One parameter of one run set to ``value`` (or moved by ``delta``), in the run's dtype.

    ``row == -1`` names the neuron's bias.
    """

    run: str
    layer: int
    row: int
    col: int
    delta: float | None = None
    value: float | None = None

    def describe(self) -> str:
        what = f"bias of L{self.layer + 1}.{self.col + 1}"
        if self.row >= 0:
            what = f"weight x{self.row + 1}→L{self.layer + 1}.{self.col + 1}"
        if self.value is not None:
            return f"{self.run}: set {what} to {self.value:.6g}"
        return f"{self.run}: nudged {what} by {self.delta:+.3g}"


@dataclass(frozen=True)
class CleanTwin:
    """A twin started from the baseline as it is, training on the unedited data."""

    def describe(self) -> str:
        return "started a clean twin on the unedited data"


@dataclass(frozen=True)
class SetTraining:
    """New training settings (learning rate, optimiser, ...) for every run."""

    changes: tuple[tuple[str, object], ...]
    """(key of [training], new value) pairs."""

    def describe(self) -> str:
        return ", ".join(f"{key} {_show(value)}" for key, value in self.changes)


Edit = AddPoint | FlipLabel | RemovePoint | SetWeight | CleanTwin | SetTraining


def _show(value: object) -> str:
    if value is None:
        return "full batch"
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Marks:
    """Which training points were changed by hand: added, and relabelled (indices)."""

    added: Ints
    relabelled: Ints

    @staticmethod
    def none() -> Marks:
        empty = np.zeros(0, dtype=np.int64)
        return Marks(empty, empty)

    @property
    def count(self) -> int:
        return len(self.added) + len(self.relabelled)


def nearest_point(data: Data, x: float, y: float) -> int:
    """Index of the training point nearest (x, y) (ties: the lowest index), or -1."""
    if len(data.x_train) == 0:
        return -1
    distance = np.hypot(data.x_train[:, 0] - x, data.x_train[:, 1] - y)
    return int(np.argmin(distance))


def add_point(data: Data, marks: Marks, edit: AddPoint) -> tuple[Data, Marks]:
    """The data with a training point appended (any input beyond the plane's two at 0: a
    point added by hand carries no trigger)."""
    point = np.zeros((1, data.x_train.shape[1]))
    point[0, :2] = edit.x, edit.y
    x = np.vstack([data.x_train, point])
    y = np.append(data.y_train, np.int64(edit.label))
    added = np.append(marks.added, np.int64(len(x) - 1))
    return Data(x, y, data.x_test, data.y_test), Marks(added, marks.relabelled)


def flip_label(data: Data, marks: Marks, edit: FlipLabel) -> tuple[Data, Marks]:
    """The data with one training label changed; a second flip back clears the mark."""
    y = data.y_train.copy()
    y[edit.index] = edit.label
    relabelled = np.setxor1d(marks.relabelled, [edit.index]).astype(np.int64)
    if edit.index in marks.added:
        relabelled = marks.relabelled  # a point added by hand has no original label
    return Data(data.x_train, y, data.x_test, data.y_test), Marks(marks.added, relabelled)


def remove_point(data: Data, marks: Marks, edit: RemovePoint) -> tuple[Data, Marks]:
    """The data without one training point; later indices move down by one."""
    keep = np.ones(len(data.x_train), dtype=bool)
    keep[edit.index] = False
    data = Data(data.x_train[keep], data.y_train[keep], data.x_test, data.y_test)
    return data, Marks(
        drop_index(marks.added, edit.index), drop_index(marks.relabelled, edit.index)
    )


def drop_index(indices: Ints, index: int) -> Ints:
    """Indices into a list after its entry ``index`` was removed."""
    kept = indices[indices != index]
    return np.where(kept > index, kept - 1, kept).astype(np.int64)
