"""Per-epoch measurements in arrays: the recent epochs every one, older epochs thinned.

A ``Trace`` keeps the last ``DENSE`` epochs of its columns in a ring of arrays and, of the
epochs before them, those at multiples of a stride, at most ``THINNED`` of them: when that
part is full every other entry is dropped and the stride doubles. So a trace of any length
holds at most ``DENSE + THINNED`` rows, and a view of it is a downsampled copy of at most as
many points as the caller asks for, never the whole history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

DENSE = 4096
"""The most recent epochs a trace keeps, every one of them."""
THINNED = 4096
"""Most older epochs a trace keeps, evenly spaced."""

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TraceView:
    """A downsampled copy of a trace: ``values[name][i]`` belongs to epoch ``epochs[i]``."""

    epochs: Ints
    values: dict[str, Floats]


class Trace:
    """Columns of float64 values, one row per epoch, in bounded memory.

    Args:
        columns: The names of the columns.
        dense: How many recent epochs are kept every one (default ``DENSE``).
        thinned: Most older epochs kept (default ``THINNED``).
    """

    def __init__(
        self, columns: Sequence[str], dense: int | None = None, thinned: int | None = None
    ) -> None:
        dense = DENSE if dense is None else dense
        thinned = THINNED if thinned is None else thinned
        self.columns = tuple(columns)
        width = len(self.columns)
        self._ring = np.zeros((dense, width))
        self._ring_epochs = np.zeros(dense, dtype=np.int64)
        self._start = 0
        self._count = 0
        self._body = np.zeros((thinned, width))
        self._body_epochs = np.zeros(thinned, dtype=np.int64)
        self._body_count = 0
        self.stride = 1
        """Older epochs are kept at multiples of this (it doubles as the trace grows)."""

    def __len__(self) -> int:
        return self._count + self._body_count

    @property
    def capacity(self) -> int:
        """Most rows this trace ever holds."""
        return len(self._ring) + len(self._body)

    @property
    def last_epoch(self) -> int:
        """The newest epoch recorded, or 0."""
        if self._count:
            return int(self._ring_epochs[(self._start + self._count - 1) % len(self._ring)])
        return int(self._body_epochs[self._body_count - 1]) if self._body_count else 0

    def append(self, epoch: int, values: Sequence[float]) -> None:
        """Record one epoch (epochs must increase)."""
        size = len(self._ring)
        if self._count == size:
            old = self._start
            self._keep_old(int(self._ring_epochs[old]), self._ring[old])
            self._start = (self._start + 1) % size
            self._count -= 1
        slot = (self._start + self._count) % size
        self._ring[slot] = values
        self._ring_epochs[slot] = epoch
        self._count += 1

    def _keep_old(self, epoch: int, row: Floats) -> None:
        if epoch % self.stride or not len(self._body):
            return
        # A trace sampled every k epochs may have every kept epoch at a multiple of twice the
        # stride: then the stride doubles again, until the thinning drops something.
        while self._body_count == len(self._body):
            keep = self._body_epochs[: self._body_count] % (2 * self.stride) == 0
            n = int(keep.sum())
            self._body[:n] = self._body[: self._body_count][keep]
            self._body_epochs[:n] = self._body_epochs[: self._body_count][keep]
            self._body_count = n
            self.stride *= 2
            if epoch % self.stride:
                return
        self._body[self._body_count] = row
        self._body_epochs[self._body_count] = epoch
        self._body_count += 1

    def truncate(self, epoch: int) -> None:
        """Forget every epoch after ``epoch`` (a fork: that future is gone)."""
        size = len(self._ring)
        while self._count:
            newest = (self._start + self._count - 1) % size
            if self._ring_epochs[newest] <= epoch:
                break
            self._count -= 1
        if self._count == 0:
            self._start = 0
        self._body_count = int(
            np.searchsorted(self._body_epochs[: self._body_count], epoch, "right")
        )

    def _slots(self, logical: Ints) -> tuple[Ints, Ints]:
        """Where rows ``logical`` (0 = the oldest kept, increasing) are stored: indices into
        the thinned part and into the ring."""
        split = int(np.searchsorted(logical, self._body_count))
        ring = (self._start + logical[split:] - self._body_count) % len(self._ring)
        return logical[:split], ring

    def _epochs(self) -> Ints:
        """The epochs kept, oldest first."""
        body, ring = self._slots(np.arange(len(self)))
        return np.concatenate([self._body_epochs[body], self._ring_epochs[ring]])

    def view(self, points: int | None = None, since: int = 0) -> TraceView:
        """A copy of at most ``points`` rows (evenly spread, the newest kept), from ``since``.

        Only the rows returned are copied, whatever the trace holds.

        Args:
            points: Most rows returned; None for every row kept.
            since: Only epochs after this one.
        """
        first = int(np.searchsorted(self._epochs(), since, "right")) if since else 0
        count = len(self) - first
        if points is not None and count > points:
            spread = np.linspace(0, count - 1, max(2, points)).round().astype(np.int64)
            distinct = np.empty(len(spread), dtype=bool)  # sorted already: drop repeats
            distinct[0] = True
            np.not_equal(spread[1:], spread[:-1], out=distinct[1:])
            logical = first + spread[distinct]
        else:
            logical = np.arange(first, first + count)
        body, ring = self._slots(logical)
        epochs = np.concatenate([self._body_epochs[body], self._ring_epochs[ring]])
        rows = np.concatenate([self._body[body], self._ring[ring]])
        return TraceView(epochs, {c: rows[:, i].copy() for i, c in enumerate(self.columns)})

    def value_at(self, epoch: int, column: str) -> float | None:
        """The value recorded at exactly this epoch, if it is still kept."""
        epochs = self._epochs()
        i = int(np.searchsorted(epochs, epoch))
        if i < len(epochs) and epochs[i] == epoch:
            body, ring = self._slots(np.array([i]))
            row = self._body[body[0]] if len(body) else self._ring[ring[0]]
            return float(row[self.columns.index(column)])
        return None

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays (fixed at construction)."""
        arrays = (self._ring, self._ring_epochs, self._body, self._body_epochs)
        return sum(a.nbytes for a in arrays)
