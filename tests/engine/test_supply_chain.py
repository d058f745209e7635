"""Weight files: pinned by hash, pickles listed and never run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.attacks.weight_files import describe_pickle, file_kind, inspect, sha256
from engine.experiments.measure import measure
from engine.scenario import ScenarioError, load_scenario
from engine.session import Session

SHIPPED = Path(__file__).resolve().parents[2] / "scenarios"


def tripwire_pickle(target: Path) -> bytes:
    """A pickle that, if it were ever loaded, would create ``target`` (written opcode by opcode)."""
    path = str(target).encode()
    return (
        b"\x80\x02"  # PROTO 2
        + b"cbuiltins\nopen\n"  # GLOBAL builtins.open
        + b"X" + len(path).to_bytes(4, "little") + path  # BINUNICODE the path
        + b"X\x01\x00\x00\x00w"  # BINUNICODE 'w'
        + b"\x86"  # TUPLE2
        + b"R"  # REDUCE: open(path, 'w')
        + b"."
    )  # fmt: skip


def test_a_pickles_calls_are_listed_and_never_made(tmp_path: Path) -> None:
    target = tmp_path / "ran.txt"
    data = tripwire_pickle(target)
    report = describe_pickle(data)
    assert report.imports == ("builtins.open",)
    assert [c.callable for c in report.calls] == ["builtins.open"]
    assert report.calls[0].arguments == (repr(str(target)), "'w'")
    assert any("REDUCE" in line for line in report.listing)
    assert file_kind(data) == "pickle"
    weights = tmp_path / "model.pkl"
    weights.write_bytes(data)
    found = inspect(
        weights, "model.pkl", None, [{"n_in": 2, "n_out": 1, "activation": "sigmoid", "bias": True}]
    )
    assert found.refused and found.pickle is not None
    assert not target.exists(), "the pickle ran"


def test_stack_global_pickles_are_named_too() -> None:
    # Protocol 4: the module and name are pushed as strings and STACK_GLOBAL joins them.
    data = b"\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94\x8c\x031+1\x94\x85\x94R\x94."
    report = describe_pickle(data)
    assert report.imports == ("builtins.eval",)
    assert str(report.calls[0]) == "builtins.eval('1+1')"


def copy_scenario(tmp_path: Path) -> Path:
    shutil.copytree(SHIPPED / "supply-chain", tmp_path / "supply-chain")
    target = tmp_path / "supply-chain.toml"
    shutil.copy(SHIPPED / "supply-chain.toml", target)
    return target


def test_a_pin_mismatch_refuses_and_names_the_file_and_both_hashes(tmp_path: Path) -> None:
    path = copy_scenario(tmp_path)
    weights = tmp_path / "supply-chain" / "model.safetensors"
    pinned = sha256(weights.read_bytes())
    Session(load_scenario(path))  # the shipped pin matches
    tampered = (tmp_path / "supply-chain" / "model-tampered.safetensors").read_bytes()
    weights.write_bytes(tampered)
    with pytest.raises(ScenarioError) as caught:
        Session(load_scenario(path))
    (line,) = caught.value.errors
    assert str(weights) in line and pinned in line and sha256(tampered) in line
    assert line.startswith(f"{path}: weights:")


def test_the_pinned_weights_are_the_ones_training_starts_from(tmp_path: Path) -> None:
    session = Session(load_scenario(copy_scenario(tmp_path)))
    assert session.epoch == 0
    metrics = measure(session)
    assert metrics["test.accuracy"] >= 0.95  # trained weights, not a fresh initialisation
    assert metrics["supply_chain.refused"] == 2 and metrics["supply_chain.loads"] == 1
