"""Expensive measurements, made once per session revision and at a bounded pace while training.

An attack over every test point or a surrogate fitted from scratch costs milliseconds to a
few tenths of a second, while the trainer asks for every experiment's view up to fifteen
times a second. ``cached`` measures again only when the session changed (its revision), and,
while the session is paced (training runs in the trainer), no more often than its pace or
than keeps the measurement to COST_SHARE of the time, whichever is longer; the headless
runner and every expectation checkpoint always get a measurement of the session as it is.

An interactive front end gives the session a ``Background``: a measurement that is out of
date is then made again in a thread of its own, on a frozen copy of the session, while the
screen goes on showing the last one (and says it is measuring). A key is answered without
waiting for an attack to finish; the new figures arrive a moment later.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    from engine.session import Session

T = TypeVar("T")

COST_SHARE = 0.1
"""While training runs, a measurement is made again no more than takes this share of the time:
one that took 70 ms is repeated at most every 0.7 s (or the session's pace, if longer)."""
HOLD_POLL = 0.005
"""Seconds between looks at whether a held measurement may start."""


def cached(session: Session, name: str, measure: Callable[[Session], T]) -> T:
    """``measure(session)``, or its last value if the session has not changed since (or is
    paced, or the session measures in the background and a newer value is on its way).

    Args:
        session: The session measured.
        name: The measurement's key in the session's cache.
        measure: Measures a session now (the session itself, or a frozen copy of it).
    """
    store = session.measurements
    entry = store.get(name)
    if entry is not None:
        revision, when, value, cost = entry
        pace = max(session.pace, cost / COST_SHARE) if session.pace else 0.0
        if revision == session.revision or time.monotonic() - when < pace:
            return cast(T, value)
        if session.background is not None:
            session.background.request(session, name, measure)
            return cast(T, value)
    return measure_now(session, name, measure)


def measure_now(session: Session, name: str, measure: Callable[[Session], T]) -> T:
    """``measure(session)`` in the caller's thread, stored as ``name``'s latest measurement."""
    start = time.monotonic()
    value = measure(session)
    _store(session.measurements, name, session.revision, start, value)
    return value


def _store(
    store: dict[str, tuple[int, float, object, float]],
    name: str,
    revision: int,
    start: float,
    value: object,
) -> None:
    """Keep a measurement of ``revision`` begun at ``start``: (revision, when, value, cost)."""
    now = time.monotonic()
    store[name] = (revision, now, value, now - start)


class Background:
    """Measures out-of-date measurements in threads of their own, one per name at a time.

    Each measures a frozen copy of the session (``Session.frozen``), taken under the session's
    lock when asked for, so it neither waits for the trainer nor makes the trainer wait. The
    result is stored with the revision it measured, unless the session was rebuilt meanwhile
    (a reset or a new scenario), and ``done`` is called from the measuring thread. A
    measurement that raises is dropped: the next ``cached`` then measures in the caller's
    thread and raises there.

    Args:
        done: Called (from the measuring thread) after each measurement, stored or not.
        hold: While it returns True a measurement waits to start (a key is being answered:
            the interface then has the interpreter to itself).
    """

    def __init__(
        self,
        done: Callable[[], object] = lambda: None,
        hold: Callable[[], bool] = lambda: False,
    ) -> None:
        self.done = done
        self.hold = hold
        self.landed = 0
        """Measurements stored so far: a view drawn from an older count may be out of date."""
        self._busy: dict[str, threading.Thread | None] = {}
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """Whether a measurement is under way."""
        with self._lock:
            return bool(self._busy)

    def request(self, session: Session, name: str, measure: Callable[[Session], object]) -> None:
        """Measure ``name`` again in a thread of its own, unless it is being measured."""
        with self._lock:
            if name in self._busy:
                return
            self._busy[name] = None
        with session.lock:
            frozen, revision, store = session.frozen(), session.revision, session.measurements
        thread = threading.Thread(
            target=self._measure,
            args=(session, name, measure, frozen, revision, store),
            name=f"measure {name}",
            daemon=True,
        )
        with self._lock:
            self._busy[name] = thread
            thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait until no measurement is under way (tests, and before the program exits)."""
        while True:
            with self._lock:
                threads = list(self._busy.values())
            if not threads:
                return
            for thread in threads:
                if thread is not None:
                    thread.join(timeout)
                else:  # being started
                    time.sleep(0.001)
            if timeout is not None:
                return

    def _measure(
        self,
        session: Session,
        name: str,
        measure: Callable[[Session], object],
        frozen: Session,
        revision: int,
        store: dict[str, tuple[int, float, object, float]],
    ) -> None:
        while self.hold():
            time.sleep(HOLD_POLL)
        start = time.monotonic()
        try:
            value = measure(frozen)
        except Exception:
            with session.lock:
                store.pop(name, None)
        else:
            with session.lock:
                if session.measurements is store:
                    _store(store, name, revision, start, value)
                    self.landed += 1
        finally:
            with self._lock:
                del self._busy[name]
        self.done()
