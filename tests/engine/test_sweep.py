"""Sweeps: settings parsed and validated, cells planned, trained locally and on a Dask cluster."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from engine.sweep import (
    SweepError,
    apply,
    parse_setting,
    plan,
    run_dask,
    run_local,
    split_values,
    sweep,
)

SMALL = """
[data]
samples = 60
noise = 0.2
seed = 1
[model]
hidden = [5]
[training]
learning_rate = 0.5
epochs = 60
seed = 0
[[probes]]
point = [3.0, 3.0]
[[expect]]
metric = "train.accuracy"
op = ">="
value = 0.8
"""
RAW = tomllib.loads(SMALL)


def cells(*texts: str) -> list:
    return plan(RAW, [parse_setting(t) for t in texts], "small.toml", Path("."))


def test_values_ranges_arrays_and_words() -> None:
    assert parse_setting("training.seed=0..3").values == (0, 1, 2, 3)
    assert parse_setting("training.seed=0..9:4").values == (0, 4, 8)
    assert parse_setting("training.learning_rate=0.1, 0.5,1").values == (0.1, 0.5, 1)
    assert parse_setting("model.hidden=[8, 8],[16]").values == ([8, 8], [16])
    assert parse_setting('training.optimizer=adam,"sgd"').values == ("adam", "sgd")
    assert parse_setting("model.bias=true,false").values == (True, False)
    assert split_values('a,"b,c",[1,2]') == ["a", '"b,c"', "[1,2]"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("training.seed", "expected KEY=VALUE"),
        ("training.seed=", "expected KEY=VALUE"),
        ("training..seed=1", "not a dotted key"),
        ("training.seed=1,,2", "an empty value"),
        ("training.seed=5..1", "low <= high"),
        ("training.seed=0..99999", "at most 10,000 values"),
    ],
)
def test_a_malformed_setting_is_one_line_naming_it(text: str, message: str) -> None:
    with pytest.raises(SweepError) as err:
        parse_setting(text)
    (line,) = err.value.lines
    assert line.startswith(f"--set {text}:") and message in line


def test_every_value_goes_through_the_scenarios_validation() -> None:
    with pytest.raises(SweepError) as err:
        cells("training.lerning_rate=0.1", "training.seed=1,-1", "model.hidden=[4],x")
    lines = err.value.lines
    assert any(
        line.startswith("--set training.lerning_rate=0.1: training.lerning_rate: unknown key")
        and "did you mean 'learning_rate'" in line
        for line in lines
    )
    assert any(
        line.startswith("--set training.seed=-1: training.seed: out of range") for line in lines
    )
    assert any(line.startswith("--set model.hidden=x: model.hidden:") for line in lines)
    assert not any("seed=1:" in line for line in lines)  # the good value is not named


def test_combinations_are_checked_too() -> None:
    # Each value is fine alone; 40 epochs with the flips at epoch 50 is not.
    raw = apply(RAW, "experiments.poison.k", 3)
    with pytest.raises(SweepError) as err:
        plan(
            raw,
            [
                parse_setting("training.epochs=100,40"),
                parse_setting("experiments.poison.at_epoch=0,50"),
            ],
            "small.toml",
            Path("."),
        )
    (line,) = err.value.lines
    assert line.startswith(
        "training.epochs=40 experiments.poison.at_epoch=50: experiments.poison.at_epoch: "
        "never reached"
    )


def test_a_path_through_a_value_is_refused() -> None:
    with pytest.raises(SweepError, match=r"training.seed is a value"):
        apply(RAW, "training.seed.low", 1)
    assert apply(RAW, "probes.0.point", [1.0, 2.0])["probes"][0]["point"] == [1.0, 2.0]
    assert RAW["probes"][0]["point"] == [3.0, 3.0]  # a copy


def test_cells_are_the_cartesian_product_in_order() -> None:
    planned = cells("training.seed=0..2", "training.learning_rate=0.1,0.5")
    assert [c.label for c in planned[:3]] == [
        "training.seed=0 training.learning_rate=0.1",
        "training.seed=0 training.learning_rate=0.5",
        "training.seed=1 training.learning_rate=0.1",
    ]
    assert len(planned) == 6 and planned[5].raw["training"]["seed"] == 2


def comparable(results: list) -> list:
    return [(r.index, r.params, r.metrics, r.outcomes, r.epoch, r.blowup) for r in results]


def test_a_dask_cluster_on_loopback_finds_what_local_workers_find() -> None:
    distributed = pytest.importorskip("distributed")
    planned = cells("training.seed=0..3", "training.learning_rate=0.2,0.8")
    alone = sweep(planned, lambda c: run_local(c, 1))
    processes = sweep(planned, lambda c: run_local(c, 2))
    assert comparable(processes) == comparable(alone)
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        seen: list[int] = []
        remote = sweep(planned, lambda c: run_dask(c, address), lambda r: seen.append(r.index))
    assert comparable(remote) == comparable(alone)
    assert sorted(seen) == list(range(8))
    # The cells differ from each other: the comparison compares something.
    assert len({r.metrics["train.loss"] for r in alone}) == 8
    assert all(r.outcomes and r.epoch == 60 for r in alone)
