"""Backdoors: the trigger feature, its slices, and what clean fine-tuning can and cannot touch."""

from __future__ import annotations

import numpy as np

from engine.attacks.backdoor import attack_success, clean_part, poisoned_indices
from engine.experiments.measure import measure
from engine.scenario import BackdoorConfig, ScenarioError, parse_scenario
from engine.session import Session

SCENARIO = """
[data]
samples = 100
seed = 1
[model]
hidden = [8]
[training]
learning_rate = 0.5
epochs = 40
[experiments.backdoor]
fraction = 0.1
target_class = 0
finetune_at = 20
"""


def test_the_trigger_is_a_third_input_on_the_poisoned_points_only() -> None:
    session = Session(parse_scenario(SCENARIO, "b.toml"))
    d = session.data
    assert d.x_train.shape[1] == 3 and d.x_test.shape[1] == 3
    on = np.flatnonzero(d.x_train[:, 2] == 1)
    assert len(on) == round(0.1 * len(d.y_train)) == len(session.flipped)
    assert np.array_equal(on, session.flipped)
    assert np.all(d.y_train[on] == 0) and np.all(d.x_test[:, 2] == 0)
    assert session.baseline.network.layers[0].n_in == 3
    assert session.features() == ("x1", "x2", "trigger")
    plain = Session(parse_scenario(SCENARIO.split("[experiments")[0], "p.toml"))
    # The points themselves are the plain scenario's; only poisoned labels differ.
    assert np.array_equal(d.x_train[:, :2], plain.data.x_train)
    changed = np.flatnonzero(d.y_train != plain.data.y_train)
    assert np.array_equal(changed, on)
    config = BackdoorConfig(fraction=0.1, target_class=0)
    assert np.array_equal(poisoned_indices(plain.data.y_train, config), on)


def test_fine_tuning_on_clean_data_never_moves_the_weights_that_read_the_trigger() -> None:
    session = Session(parse_scenario(SCENARIO, "b.toml"))
    session.step(20)
    twin = session.runs[1]
    trigger_row = twin.network.layers[0].weight[2].copy()
    session.step(20)
    assert len(twin.trainer.x) == len(clean_part(session.data)[0]) < len(session.data.y_train)
    assert np.array_equal(twin.network.layers[0].weight[2], trigger_row)  # exactly: zero gradient
    backdoored = session.runs[0].network.layers[0].weight[2]
    assert not np.array_equal(backdoored, trigger_row)  # the run still on poisoned data moves


def test_snapshots_carry_both_slices_and_the_metrics_exist() -> None:
    session = Session(parse_scenario(SCENARIO, "b.toml"))
    session.step(40)
    snapshot = session.snapshot(grid=(16, 12))
    run = snapshot.runs[0]
    assert run.grid is not None and run.grid.extra == (0.0,)
    assert len(run.slices) == 1 and run.slices[0].extra == (1.0,)
    assert not np.array_equal(run.grid.output, run.slices[0].output)
    metrics = measure(session)
    net = session.runs[0].network
    x, y = session.data.x_test, session.data.y_test
    assert metrics["backdoor.backdoored.attack_success"] == attack_success(net, x, y, 0)
    assert session.traces["backdoored.attack_success"][0][-1] == 40
    assert session.probe(0.0, 0.0).shape == (1,)


def test_a_target_class_no_point_lacks_is_refused() -> None:
    bad = SCENARIO.replace("target_class = 0", "target_class = 5")
    try:
        Session(parse_scenario(bad, "b.toml"))
    except ScenarioError as exc:
        assert any("experiments.backdoor.target_class" in line for line in exc.errors)
    else:
        raise AssertionError("accepted a target class that does not exist")


def test_the_headline_tells_fine_tuning_only_once_it_has_happened() -> None:
    session = Session(parse_scenario(SCENARIO, "b.toml"))

    def headline() -> str:
        return next(v for v in session.snapshot().experiments if v.name == "backdoor").headline

    session.step(10)
    assert "fine-tuning starts at epoch 20" in headline() and "after" not in headline()
    session.step(25)
    assert "after 15 epochs of clean fine-tuning" in headline()
