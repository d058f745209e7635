"""Expensive measurements made again in the background, on a frozen copy of the session."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from engine.experiments.cache import Background, cached
from engine.experiments.measure import measure
from engine.session import Session
from tui_nn.catalog import shipped_dir


def evasion(session: Session) -> dict[str, float]:
    return {k: v for k, v in measure(session).items() if k.startswith("evasion.")}


def session_at(epoch: int) -> Session:
    session = Session.from_file(shipped_dir() / "moons-evasion.toml")
    session.step(epoch)
    return session


def test_an_out_of_date_measurement_is_shown_until_its_remeasurement_lands() -> None:
    session = session_at(20)
    landed = threading.Event()
    session.background = Background(landed.set)
    first = evasion(session)  # nothing measured yet: measured at once
    assert first == evasion(session_at(20))
    assert not landed.is_set()

    session.step(20)
    assert evasion(session) == first  # the last figures, at once; epoch 40 on its way
    session.step(10)  # training goes on while the attack runs on a copy
    session.background.join()
    assert landed.is_set() and session.background.landed == 1
    # What landed is epoch 40, measured from the copy made when it was asked for; it is
    # shown now and epoch 50 is asked for.
    assert evasion(session) == evasion(session_at(40)) != first
    session.background.join()
    assert evasion(session) == evasion(session_at(50))
    assert session.background.landed == 2


def test_a_frozen_copy_does_not_move_with_training() -> None:
    session = session_at(10)
    frozen = session.frozen()
    before = frozen.baseline.network.flat_params.copy()
    session.step(5)
    assert np.array_equal(frozen.baseline.network.flat_params, before)
    assert not np.array_equal(session.baseline.network.flat_params, before)
    assert frozen.epoch == 10 and session.epoch == 15
    # The copy's layers read its own parameters (views of its flat buffer).
    frozen.baseline.network.flat_params[...] = 0.0
    assert not np.any(frozen.baseline.network.layers[0].weight)
    assert np.any(session.baseline.network.layers[0].weight)


def test_a_measurement_that_lands_after_a_reset_is_dropped() -> None:
    session = session_at(10)
    started, go = threading.Event(), threading.Event()

    def slow(s: Session) -> int:
        started.set()
        go.wait()
        return s.epoch

    session.background = Background()
    assert cached(session, "slow", lambda s: s.epoch) == 10
    session.step(1)
    assert cached(session, "slow", slow) == 10  # the old value; the new one is under way
    started.wait()
    assert session.background.busy
    session.reset()
    go.set()
    session.background.join()
    assert "slow" not in session.measurements
    assert not session.background.busy


def test_a_measurement_that_fails_in_the_background_raises_in_the_caller() -> None:
    session = session_at(10)
    session.background = Background()
    cached(session, "failing", lambda s: 1)
    session.step(1)

    def failing(s: Session) -> int:
        raise ValueError("measured nothing")

    assert cached(session, "failing", failing) == 1
    session.background.join()
    with pytest.raises(ValueError, match="measured nothing"):
        cached(session, "failing", failing)


def test_while_training_an_expensive_measurement_takes_at_most_a_tenth_of_the_time() -> None:
    session = session_at(10)
    session.pace_measurements(0.001)  # training runs: measurements may be a millisecond old
    took_an_hour = (session.revision, time.monotonic(), "old", 3600.0)
    session.measurements["costly"] = took_an_hour
    session.step(1)
    assert cached(session, "costly", lambda s: "new") == "old"  # not again for ten hours
    session.measurements["cheap"] = (session.revision - 1, time.monotonic() - 1.0, "old", 0.0)
    assert cached(session, "cheap", lambda s: "new") == "new"  # its pace is the session's
    session.pace_measurements(0)  # paused: every revision measured again, however costly
    assert cached(session, "costly", lambda s: "new") == "new"
