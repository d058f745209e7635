"""A session's past: checkpoints to replay from, and the edits made by hand along the way.

Training is deterministic, so any past epoch can be rebuilt by restoring the newest checkpoint
at or before it and training forward, applying the edits logged on the way. Checkpoints are
taken every ``RECENT_EVERY`` epochs; the newest ``recent`` of them are all kept, and of the
older ones only those at multiples of a stride that doubles whenever more than ``older`` would
remain (epoch 0 always stays). How many are kept follows from ``CHECKPOINT_BYTES``, so memory
stays bounded however long a session trains.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

RECENT_EVERY = 16
"""Epochs between two checkpoints (so a step back replays at most this many epochs)."""
CHECKPOINT_BYTES = 32 * 1024 * 1024
"""Most bytes the checkpoints of one session take (at least MIN_CHECKPOINTS are kept)."""
MAX_CHECKPOINTS = 1024
"""Most checkpoints kept, however small."""
MIN_CHECKPOINTS = 4
"""Fewest checkpoints kept, however large (epoch 0, the newest, and two between)."""

S = TypeVar("S")
E = TypeVar("E")


@dataclass(frozen=True)
class Checkpoint(Generic[S]):
    """The state of every run at one epoch, after that epoch's edits."""

    epoch: int
    state: S
    nbytes: int


class Timeline(Generic[S, E]):
    """Checkpoints and the log of edits of one session.

    Args:
        budget: Most bytes the checkpoints may take.
    """

    def __init__(self, budget: int = CHECKPOINT_BYTES) -> None:
        self.budget = budget
        self._epochs: list[int] = []
        self._points: dict[int, Checkpoint[S]] = {}
        self.edits: list[tuple[int, E]] = []
        """(epoch, edit) in the order they were made; an edit at epoch e applies after it."""
        self.stride = RECENT_EVERY
        """Older checkpoints are kept at multiples of this."""
        self._largest = 0

    def __len__(self) -> int:
        return len(self._epochs)

    @property
    def epochs(self) -> list[int]:
        """The epochs that have a checkpoint, oldest first."""
        return list(self._epochs)

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self._points.values())

    def limit(self) -> int:
        """How many checkpoints the budget allows at their present size."""
        if not self._points:
            return MAX_CHECKPOINTS
        return max(MIN_CHECKPOINTS, min(MAX_CHECKPOINTS, self.budget // max(1, self._largest)))

    def due(self, epoch: int) -> bool:
        """Whether the schedule takes a checkpoint at this epoch."""
        return epoch % RECENT_EVERY == 0

    def put(self, epoch: int, state: S, nbytes: int) -> None:
        """Keep the state at ``epoch`` (replacing one already kept there), then thin."""
        if epoch not in self._points:
            bisect.insort(self._epochs, epoch)
        self._points[epoch] = Checkpoint(epoch, state, nbytes)
        self._largest = max(self._largest, nbytes)
        self._thin()

    def _thin(self) -> None:
        limit = self.limit()
        if len(self._epochs) <= limit:
            return
        # Thin to three quarters of the limit, so the work is done once in many puts.
        target = max(MIN_CHECKPOINTS, limit - limit // 4)
        recent = max(2, limit // 2)
        while len(self._epochs) > target:
            older = self._epochs[:-recent]
            drop = {e for e in older if e and e % self.stride}
            if drop:
                for e in drop:
                    del self._points[e]
                self._epochs = [e for e in self._epochs if e not in drop]
            if len(self._epochs) > target:
                if len(older) <= 1:
                    break  # only epoch 0 is older: the recent ones are all that is left
                self.stride *= 2

    def at_or_before(self, epoch: int) -> Checkpoint[S]:
        """The newest checkpoint not after ``epoch``."""
        i = bisect.bisect_right(self._epochs, epoch)
        if i == 0:
            raise LookupError(f"no checkpoint at or before epoch {epoch}")
        return self._points[self._epochs[i - 1]]

    def edits_at(self, epoch: int) -> Iterator[E]:
        """The edits made at ``epoch``, in order."""
        if not self.edits or epoch > self.edits[-1][0]:
            return iter(())
        i = bisect.bisect_left(self.edits, epoch, key=lambda pair: pair[0])
        return (edit for at, edit in self.edits[i:] if at == epoch)

    def log(self, epoch: int, edit: E) -> None:
        """Record an edit made after ``epoch`` epochs (edits come in epoch order)."""
        assert not self.edits or self.edits[-1][0] <= epoch
        self.edits.append((epoch, edit))

    def truncate(self, epoch: int) -> None:
        """Forget everything after ``epoch``: checkpoints and edits of a future now gone."""
        for e in [e for e in self._epochs if e > epoch]:
            del self._points[e]
        self._epochs = [e for e in self._epochs if e <= epoch]
        self.edits = [(at, edit) for at, edit in self.edits if at <= epoch]

    def clear(self) -> None:
        """Forget everything (a reset)."""
        self._epochs, self._points, self.edits = [], {}, []
        self.stride = RECENT_EVERY
        self._largest = 0
