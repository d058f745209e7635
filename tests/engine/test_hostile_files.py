"""Hostile files: each kind is refused with one line naming the file, quickly, never a hang.

The small files of each kind are in tests/data/hostile/; what cannot be a checked-in file (a
FIFO, a symlink to a device, a name too long) is made here.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

from engine import files
from engine.datasets import DataError, load_csv
from engine.files import FileRefused, check_nesting, read_limited, write_atomic
from engine.io import WeightFileError, load_weights, save_weights
from engine.scenario import MAX_NAME, ScenarioError, load_scenario
from engine.session import Session

HOSTILE = Path(__file__).resolve().parent.parent / "data" / "hostile"
ARCH = [{"n_in": 2, "n_out": 1, "activation": "sigmoid", "bias": True}]


def finishes(call: Callable[[], object], seconds: float = 10.0) -> object:
    """Run ``call`` in a thread; fail (instead of hanging the suite) if it does not return."""
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(_outcome(call)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still running after {seconds} s: it hangs"
    return result[0]


def _outcome(call: Callable[[], object]) -> object:
    try:
        return call()
    except Exception as exc:
        return exc


def scenario_errors(path: Path) -> list[str]:
    outcome = finishes(lambda: Session(load_scenario(path)))
    assert isinstance(outcome, ScenarioError), outcome
    for line in outcome.errors:
        assert line.startswith(f"{path}: ") and "\n" not in line
    return outcome.errors


# -- deep nesting --------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "column"), [("deep_arrays.toml", 21), ("deep_tables.toml", 85)])
def test_deeply_nested_toml_is_refused_before_parsing(name: str, column: int) -> None:
    (error,) = scenario_errors(HOSTILE / name)
    assert error == (
        f"{HOSTILE / name}: line 2, column {column}: nested too deeply "
        "(expected at most 16 levels of arrays and tables)"
    )


def test_brackets_in_strings_and_comments_do_not_count() -> None:
    text = "a = \"[[[[[[[[[[[[[[[[[[[[\" # [[[[[[[[[[[[[[[[[[[[[\nb = '{{{{{{{{{{{{{{{{{{{{{'\n"
    text += 'c = """\n[[[[[[[[[[[[[[[[[[[[\n"""\n' + "d = [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]\n"
    check_nesting(text)
    with pytest.raises(files.TooDeep, match="line 7, column 21"):
        check_nesting(text + "e = [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]\n")
    check_nesting('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[", "b": [[1]]}', syntax="json")


def test_weight_metadata_nested_100k_levels_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.safetensors"
    deep = "[" * 100_000 + "]" * 100_000
    metadata = {"format": "tui-nn-weights", "version": "1", "dtype": "float64"}
    tensors = {"layers.0.weight": np.zeros((2, 1)), "layers.0.bias": np.zeros(1)}
    path.write_bytes(safetensors.numpy.save(tensors, metadata={**metadata, "architecture": deep}))
    outcome = finishes(lambda: load_weights(path, ARCH))
    assert isinstance(outcome, WeightFileError)
    assert str(outcome) == (
        f"{path}: metadata architecture: line 1, column 17: nested too deeply "
        "(expected at most 16 levels of arrays and tables)"
    )


# -- not a regular file --------------------------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo.toml"
    os.mkfifo(path)
    return path


def test_a_fifo_is_never_opened(fifo: Path) -> None:
    (error,) = scenario_errors(fifo)
    assert error == f"{fifo}: is a named pipe (FIFO), expected a regular file"
    csv = fifo.with_name("fifo.csv")
    os.mkfifo(csv)
    outcome = finishes(lambda: load_csv(csv))
    assert isinstance(outcome, DataError) and "is a named pipe (FIFO)" in str(outcome)
    outcome = finishes(lambda: load_weights(fifo, ARCH))
    assert isinstance(outcome, WeightFileError) and "is a named pipe (FIFO)" in str(outcome)


def test_a_symlink_to_dev_zero_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "zero.toml"
    path.symlink_to("/dev/zero")
    (error,) = scenario_errors(path)
    assert error == f"{path}: is a device, expected a regular file"


def test_the_reader_reads_at_most_one_byte_past_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_limited(path, 100) == b"x" * 100
    with pytest.raises(FileRefused, match=r"file too large \(100 bytes, expected at most 99\)"):
        read_limited(path, 99)


def test_a_name_too_long_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / ("b" * 300 + ".toml")
    (error,) = scenario_errors(path)
    assert error == f"{path}: cannot read (File name too long)"


# -- writing over what is not ours -----------------------------------------------------


def test_the_writer_refuses_a_symlink_and_leaves_its_target_alone(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "report.json"
    link.symlink_to(victim)
    with pytest.raises(FileRefused, match="is a symbolic link, expected a regular file"):
        write_atomic(link, b"{}")
    assert link.is_symlink() and victim.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "victim.txt"]


def test_the_writer_refuses_a_fifo_and_a_folder(tmp_path: Path, fifo: Path) -> None:
    with pytest.raises(FileRefused, match="is a named pipe"):
        write_atomic(fifo, b"x")
    with pytest.raises(FileRefused, match="is a directory"):
        write_atomic(tmp_path, b"x")
    assert fifo.exists() and not fifo.is_file()


def test_saving_weights_over_a_symlink_is_a_weight_file_error(tmp_path: Path) -> None:
    link = tmp_path / "w.safetensors"
    link.symlink_to(tmp_path / "elsewhere")
    params = [(np.zeros((2, 1)), np.zeros(1))]
    with pytest.raises(WeightFileError, match="is a symbolic link"):
        save_weights(link, params, ARCH)
    assert not (tmp_path / "elsewhere").exists()


def test_an_interrupted_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "out.json", b"{}")
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    pid = 2**22 - 1
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        pid -= 1


def test_stale_temporaries_are_recognised_by_their_dead_process(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    stale = tmp_path / f".out.json.tui-nn-{_dead_pid()}-0123456789ab.tmp"
    alive = tmp_path / ".out.json.tui-nn-1-0123456789ab.tmp"  # pid 1 always runs
    other = tmp_path / f".other.json.tui-nn-{_dead_pid()}-0123456789ab.tmp"
    for path in (stale, alive, other):
        path.write_bytes(b"half")
    assert files.stale_temporaries(target) == [str(stale)]
    write_atomic(target, b"{}")
    assert not stale.exists() and alive.exists() and other.exists()
    assert target.read_bytes() == b"{}"


# -- escapes, loose types, empty training set, names ------------------------------------


def test_escape_sequences_in_strings_are_refused() -> None:
    (title,) = scenario_errors(HOSTILE / "escape_title.toml")
    assert title.endswith("title: control character U+001B at position 0 (expected printable text)")
    (bidi,) = scenario_errors(HOSTILE / "bidi_description.toml")
    assert bidi.endswith("description: control character U+202E at position 9 (expected "
                         "printable text)")  # fmt: skip


def test_escape_sequences_in_key_names_are_reported_as_unknown_keys() -> None:
    errors = scenario_errors(HOSTILE / "escape_key.toml")
    assert len(errors) == 2 and all("unknown key" in line for line in errors)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("loose_samples.toml", "data.samples: wrong type (got '250', expected a valid integer)"),
        ("loose_bias.toml", "model.bias: wrong type (got 1, expected a valid boolean)"),
        ("loose_epochs.toml", "training.epochs: wrong type (got 10.0, expected a valid integer)"),
    ],
)
def test_types_are_strict(name: str, expected: str) -> None:
    (error,) = scenario_errors(HOSTILE / name)
    assert error == f"{HOSTILE / name}: {expected}"


def test_an_empty_training_set_is_refused() -> None:
    (error,) = scenario_errors(HOSTILE / "empty_training.toml")
    assert "data.test_fraction: nothing left to train on" in error


@pytest.mark.parametrize(
    ("name", "key"),
    [("huge_measurement.toml", "experiments.ood"), ("huge_attack.toml", "experiments.extraction")],
)
def test_measurement_is_bounded_like_training(name: str, key: str) -> None:
    started = time.perf_counter()
    (error,) = scenario_errors(HOSTILE / name)
    assert time.perf_counter() - started < 5  # refused from the configuration, not measured
    assert f"{key}: measuring is too much work" in error


def test_the_grid_of_a_picture_is_bounded_by_the_model_size() -> None:
    from engine.config import MAX_GRID_WORK, fit_grid

    assert fit_grid((220, 120), 41, 2) == (220, 120)
    width, height = fit_grid((220, 120), 66_817, 2)
    assert width * height * 66_817 * 2 <= MAX_GRID_WORK
    assert abs(width / height - 220 / 120) < 0.2 and width >= 1


def test_a_long_file_name_gives_a_valid_default_name(tmp_path: Path) -> None:
    path = tmp_path / ("a" * 80 + ".toml")
    path.write_text("")
    assert load_scenario(path).name == "a" * MAX_NAME


def test_data_may_only_come_from_the_scenario_folder(tmp_path: Path) -> None:
    (absolute,) = scenario_errors(HOSTILE / "data_absolute.toml")
    assert absolute.endswith("data.path: must be relative to the scenario's folder (got "
                             "'/etc/passwd')")  # fmt: skip
    (climbing,) = scenario_errors(HOSTILE / "data_climbing.toml")
    assert climbing.endswith("data.path: may not leave the scenario's folder with '..' (got "
                             "'../good/data/points.csv')")  # fmt: skip
    (tmp_path / "points.csv").symlink_to(HOSTILE.parent / "good" / "data" / "points.csv")
    path = tmp_path / "linked.toml"
    path.write_text('[data]\nkind = "csv"\npath = "points.csv"\n')
    (linked,) = scenario_errors(path)
    assert "is a link to a file outside the scenario's folder" in linked
