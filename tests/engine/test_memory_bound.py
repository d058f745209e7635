"""A session's memory is bounded: what it keeps of its past stops growing, however long it
trains. Checked by counting what is kept (rows, checkpoints, bytes allocated and still held),
with the bounds made small so the steady state comes within a few thousand epochs."""

from __future__ import annotations

import tracemalloc

import pytest

from engine import history, timeline
from engine.scenario import parse_scenario
from engine.session import Session

SCENARIO = """
[data]
kind = "moons"
samples = 60
seed = 1
[training]
seed = 2
epochs = 1000
[experiments.butterfly]
epsilon = 1e-9
"""
"""A baseline and a twin: run histories, drift, sampled disagreement and figures."""


@pytest.fixture
def small_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Histories of 16 + 16 rows and at most 8 checkpoints."""
    monkeypatch.setattr(history, "DENSE", 16)
    monkeypatch.setattr(history, "THINNED", 16)
    monkeypatch.setattr(timeline, "MAX_CHECKPOINTS", 8)


def train(session: Session, epochs: int) -> None:
    goal = session.epoch + epochs
    while session.epoch < goal:
        assert session.step(goal - session.epoch)


@pytest.mark.usefixtures("small_bounds")
def test_what_a_session_keeps_stops_growing() -> None:
    s = Session(parse_scenario(SCENARIO, "bound.toml"))
    train(s, 600)
    early = s.retained()
    train(s, 2000)
    late = s.retained()
    assert late.traces == early.traces == 4  # two runs, the twin's drift, its disagreement
    assert late.row_capacity == early.row_capacity == 32 * late.traces
    assert 16 * late.traces <= late.rows <= late.row_capacity
    assert late.trace_bytes == early.trace_bytes
    assert 4 <= late.checkpoints <= late.checkpoint_limit == 8
    per_checkpoint = early.checkpoint_bytes / early.checkpoints
    assert late.checkpoint_bytes <= late.checkpoint_limit * per_checkpoint
    # What a view is handed is a downsampled copy, however long the history.
    snap = s.snapshot(history_points=20)
    assert len(snap.baseline.history.epochs) == 20
    assert snap.baseline.history.epochs[-1] == s.epoch


@pytest.mark.usefixtures("small_bounds")
def test_memory_held_does_not_grow_with_the_epochs() -> None:
    s = Session(parse_scenario(SCENARIO, "bound.toml"))
    train(s, 600)  # every bound reached
    tracemalloc.start()
    try:
        train(s, 500)
        held_after_500 = tracemalloc.get_traced_memory()[0]
        train(s, 1500)
        held_after_2000 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # Four times as many epochs, the same memory held: nothing is kept per epoch (a list of
    # one small tuple per epoch would hold 1,500 x ~100 bytes more).
    assert held_after_500 > 0
    assert held_after_2000 - held_after_500 < 30_000
