"""Expensive measurements, made once per session revision and at a bounded pace while training.

An attack over every test point or a surrogate fitted from scratch costs milliseconds to a
few tenths of a second, while the trainer asks for every experiment's view up to fifteen
times a second. ``cached`` measures again only when the session changed (its revision), and,
while the session is paced (training runs in the trainer), no more often than its pace; a
paused session, the headless runner and every expectation checkpoint always get a
measurement of the session as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    from engine.session import Session

T = TypeVar("T")


def cached(session: Session, name: str, compute: Callable[[], T]) -> T:
    """``compute()``, or its last value if the session has not changed since (or is paced).

    Args:
        session: The session measured.
        name: The measurement's key in the session's cache.
        compute: Measures the session now.
    """
    store = session.measurements
    entry = store.get(name)
    now = time.monotonic()
    if entry is not None:
        revision, when, value = entry
        if revision == session.revision or now - when < session.pace:
            return cast(T, value)
    value = compute()
    store[name] = (session.revision, now, value)
    return value
