"""Going back in time: replay is exact, forking drops the future, memory stays bounded."""

from __future__ import annotations

import numpy as np
import pytest

from engine.history import Trace
from engine.scenario import parse_scenario
from engine.session import Session
from engine.timeline import RECENT_EVERY, Timeline

BASE = """
[data]
kind = "moons"
samples = 60
seed = 1
[training]
seed = 2
"""

CONFIGS = {
    "sgd": "learning_rate = 0.3\n",
    "momentum": 'optimizer = "momentum"\n',
    "adam": 'optimizer = "adam"\nlearning_rate = 0.01\n',
    "mini-batches": 'optimizer = "momentum"\nbatch_size = 7\n',
    "butterfly-twins": "batch_size = 9\n[experiments.butterfly]\nepsilon = 1e-9\n",
    "poison-twins": "[experiments.poison]\nk = 3\nat_epoch = 30\n",
    "precision-twins": '[experiments.precision]\ndtypes = ["float64", "float16"]\n',
    "dp-sgd": "batch_size = 16\n[training.dp]\nclip = 0.5\nnoise_multiplier = 1.0\n",
    "adversarial-twin": '[experiments.evasion]\nattack = "pgd"\neps = 0.2\niterations = 3\n'
    "train_eps = 0.2\n",
    "backdoor-finetune": "[experiments.backdoor]\nfinetune_at = 40\n",
}


def session(extra: str = "") -> Session:
    return Session(parse_scenario(BASE + extra, "test.toml"))


def fingerprint(s: Session) -> list[tuple[str, str, list[object]]]:
    """Every run's weights, and its optimiser and batch-order state, as comparable values."""
    out = []
    for slot in s.slots:
        run = slot.run
        opt = run.optimizer.state()
        arrays = [opt[k].tobytes() for k in ("master", "velocity", "m", "v") if opt[k] is not None]
        out.append((slot.key, run.weights_sha256(), [*arrays, opt["t"], run.trainer.state()]))
    return out


@pytest.mark.parametrize("extra", CONFIGS.values(), ids=CONFIGS.keys())
def test_resuming_from_a_past_epoch_is_byte_identical(extra: str) -> None:
    straight = session(extra)
    straight.step(70)
    travelled = session(extra)
    travelled.step(100)
    assert travelled.seek(37) == 37 and travelled.in_past
    assert travelled.step(33) == 33
    assert travelled.epoch == travelled.head == 70
    assert fingerprint(travelled) == fingerprint(straight)
    a, b = straight.snapshot(), travelled.snapshot()
    for ra, rb in zip(a.runs, b.runs, strict=True):
        assert ra.history.epochs.tolist() == rb.history.epochs.tolist() == list(range(1, 71))
        assert ra.history.train_loss.tobytes() == rb.history.train_loss.tobytes()
    for da, db in zip(a.drifts, b.drifts, strict=True):
        assert da.max_abs_dw.tobytes() == db.max_abs_dw.tobytes()


def test_back_and_forward_show_exactly_what_was_trained() -> None:
    s = session(CONFIGS["adam"])
    seen = {}
    for epoch in range(0, 41):
        if epoch:
            s.step(1)
        seen[epoch] = s.baseline.weights_sha256()
    for target in (40, 13, 0, 29, 16, 17, 40, 1):
        s.seek(target)
        assert s.epoch == target and s.head == 40
        assert s.baseline.weights_sha256() == seen[target]
    assert s.seek(99) == 40 and not s.in_past  # the newest epoch is as far as it goes


def test_training_from_the_past_forks_and_says_what_was_dropped() -> None:
    s = session()
    s.step(50)
    s.seek(20)
    assert len(s.snapshot().baseline.history.epochs) == 50  # looking back keeps the future
    s.step(5)
    assert s.last_fork is not None
    assert (s.last_fork.epoch, s.last_fork.dropped_to) == (20, 50)
    assert s.head == 25
    assert s.snapshot().baseline.history.epochs.tolist() == list(range(1, 26))
    assert all(e <= 25 for e in s.timeline.epochs)


def test_edits_are_replayed_at_the_epoch_they_were_made() -> None:
    def edited(s: Session) -> None:
        s.step(20)
        s.set_training(learning_rate=1.0, optimizer="momentum")
        s.step(10)
        s.flip_nearest(0.0, 0.5)
        s.add_point(0.5, -0.5, 0)
        s.step(10)
        s.edit_weight(0, 0, 1, 3, delta=1e-3)
        s.remove_nearest(1.0, 0.0)
        s.step(10)
        s.add_clean_twin()
        s.step(10)

    straight, travelled = session(), session()
    edited(straight)
    edited(travelled)
    travelled.seek(15)
    assert travelled.train_config().learning_rate == 0.1
    travelled.seek(25)
    assert travelled.train_config().learning_rate == 1.0
    assert len(travelled.slots) == 1 and not travelled.edited
    travelled.seek(35)
    assert len(travelled.data.x_train) == len(travelled.original.x_train) + 1
    travelled.seek(60)
    assert [slot.key for slot in travelled.slots] == ["baseline", "unedited"]
    assert fingerprint(travelled) == fingerprint(straight)
    travelled.seek(45)
    travelled.step(15)  # a fork drops the edits of the old future too
    assert travelled.keys() == ["baseline"]
    travelled.seek(45)
    travelled.step(5)
    travelled.add_clean_twin()
    travelled.step(10)  # the same future again
    assert fingerprint(travelled) == fingerprint(straight)


def test_an_edit_in_the_past_forks() -> None:
    s = session()
    s.step(40)
    s.seek(10)
    s.add_point(0.0, 0.0, 1)
    assert s.head == s.epoch == 10
    assert s.last_fork is not None and s.last_fork.dropped_to == 40
    assert s.edits() == [(10, "added a class 1 point at (0, 0)")]


def test_a_trace_keeps_recent_epochs_dense_and_older_ones_thinned() -> None:
    trace = Trace(("value",), dense=64, thinned=32)
    for epoch in range(1, 100_001):
        trace.append(epoch, (float(epoch),))
    assert len(trace) <= trace.capacity == 96
    view = trace.view()
    epochs = view.epochs.tolist()
    assert epochs[-64:] == list(range(100_000 - 63, 100_001))  # every recent epoch
    older = np.diff(epochs[:-64])
    assert len(set(older.tolist())) == 1 and older[0] == trace.stride  # evenly spaced
    assert np.array_equal(view.values["value"], view.epochs.astype(float))
    assert len(trace.view(10).epochs) == 10 and trace.view(10).epochs[-1] == 100_000


@pytest.mark.parametrize("every", [2, 4, 6, 3])
def test_a_trace_sampled_every_few_epochs_stays_within_its_capacity(every: int) -> None:
    trace = Trace(("value",), dense=8, thinned=8)
    for epoch in range(every, 2000 * every + 1, every):
        trace.append(epoch, (float(epoch),))
    assert 8 < len(trace) <= trace.capacity == 16
    epochs = trace.view().epochs
    assert epochs[-1] == 2000 * every and np.all(np.diff(epochs) > 0)
    assert np.all(epochs[:-8] % trace.stride == 0)


def test_checkpoints_stay_within_their_budget_however_long_the_run() -> None:
    timeline: Timeline[int, str] = Timeline(budget=100 * 1000)
    for epoch in range(0, 2_000_000, RECENT_EVERY):
        timeline.put(epoch, epoch, 1000)
    assert len(timeline) <= 100 and timeline.nbytes <= 100 * 1000
    kept = timeline.epochs
    assert kept[0] == 0 and kept[-1] == 2_000_000 - RECENT_EVERY
    assert np.all(np.diff(kept[-50:]) == RECENT_EVERY)  # the newest half are dense


def test_a_long_session_keeps_a_bounded_number_of_rows() -> None:
    s = session("[experiments.butterfly]\n")
    s.step(5000)
    for trace in [*s._traces.values(), *s._drift_traces.values()]:
        assert len(trace) <= trace.capacity
    assert len(s.timeline) <= s.timeline.limit()
    snap = s.snapshot(history_points=300)
    assert len(snap.baseline.history.epochs) == 300
    assert len(snap.drifts[0].max_abs_dw) == 300


def test_a_point_added_to_data_with_a_trigger_carries_none() -> None:
    s = session(CONFIGS["backdoor-finetune"])
    s.step(3)
    s.add_point(0.5, 0.5, 1)
    assert s.data.x_train[-1].tolist() == [0.5, 0.5, 0.0]
    s.step(2)
    assert s.epoch == 5
