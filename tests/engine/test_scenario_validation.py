"""Scenario validation: one small bad file per kind of error, each reported on one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.config import MAX_EPOCHS, MAX_HIDDEN_LAYERS, MAX_SAMPLES, MAX_WIDTH
from engine.scenario import MAX_SCENARIO_BYTES, ScenarioError, load_scenario
from engine.session import Session

DATA = Path(__file__).resolve().parent.parent / "data"
BAD = DATA / "bad"
GOOD = DATA / "good"


def errors_of(path: Path) -> list[str]:
    """Every error of a file, from validation and from building its data."""
    with pytest.raises(ScenarioError) as caught:
        Session(load_scenario(path))
    errors = caught.value.errors
    assert errors, "a ScenarioError must carry at least one line"
    for line in errors:
        assert "\n" not in line and line.strip() == line
        assert "Traceback" not in line
    assert str(caught.value) == "\n".join(errors)
    return errors


def only_error(name: str) -> str:
    errors = errors_of(BAD / name)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{BAD / name}: ")
    return errors[0]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("unknown_key.toml", "training.learning_rat: unknown key (did you mean 'learning_rate'?)"),
        ("wrong_type.toml", "training.epochs: wrong type (got 'many', expected a valid integer"),
        ("out_of_range.toml", "training.learning_rate: out of range (got -0.5, expected greater"),
        ("bad_enum.toml", "model.activation: not an allowed value (got 'rellu', expected"),
        ("csv_without_path.toml", "data: kind 'csv' needs `path`"),
        ("bad_metric.toml", "expect[0].metric: metric names are dotted lowercase words"),
        ("poison_too_many.toml", "experiments.poison.k: more flips than training points (got 11"),
        ("two_twins.toml", "experiments: at most one of poison, butterfly, precision"),
        ("loss_mismatch.toml", "training.loss: binary_cross_entropy needs a sigmoid output"),
    ],
)
def test_each_kind_of_error_is_one_line_naming_file_and_key(name: str, expected: str) -> None:
    assert expected in only_error(name)


def test_bad_enum_suggests_the_nearest_allowed_value() -> None:
    error = only_error("bad_enum.toml")
    assert "'relu'" in error and error.endswith("did you mean 'relu'?")


def test_unknown_key_without_a_close_match_lists_the_allowed_keys(tmp_path: Path) -> None:
    path = tmp_path / "stranger.toml"
    path.write_text("[display]\nzzzzzz = 1\n")
    (error,) = errors_of(path)
    assert (
        "display.zzzzzz: unknown key (expected one of x_range, y_range, grid, view, compare, speed)"
        in error
    )


def test_toml_syntax_error_names_line_and_column() -> None:
    error = only_error("toml_syntax.toml")
    assert "line 4, column 10: invalid TOML" in error


def test_unterminated_toml_points_at_the_end_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "open.toml"
    path.write_text('title = "never closed\n')
    (error,) = errors_of(path)
    assert error.startswith(f"{path}: line 1, column") and "invalid TOML" in error


def test_file_too_large_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    path.write_text("# padding\n" * (MAX_SCENARIO_BYTES // 10 + 1))
    (error,) = errors_of(path)
    assert f"file too large ({path.stat().st_size} bytes" in error
    assert f"at most {MAX_SCENARIO_BYTES}" in error


def test_not_utf8_names_the_byte() -> None:
    error = only_error("not_utf8.toml")
    assert "not UTF-8 text (byte 12)" in error


def test_missing_file_and_directory(tmp_path: Path) -> None:
    (missing,) = errors_of(tmp_path / "absent.toml")
    assert missing == f"{tmp_path / 'absent.toml'}: no such file"
    (folder,) = errors_of(tmp_path)
    assert folder == f"{tmp_path}: is a directory, expected a regular file"


def test_several_errors_are_all_reported_in_one_pass() -> None:
    errors = errors_of(BAD / "several.toml")
    assert len(errors) == 4, errors
    assert all(line.startswith(f"{BAD / 'several.toml'}: ") for line in errors)
    text = "\n".join(errors)
    assert "data.samples: out of range (got 1, expected greater than or equal to 4)" in text
    assert "did you mean 'sigmoid'?" in text
    assert "training.learning_rate: wrong type (got 'fast'" in text
    assert "training.epochz: unknown key (did you mean 'epochs'?)" in text


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("too_wide.toml", ("model.hidden[1]: out of range (got 100000", f"equal to {MAX_WIDTH})")),
        (
            "too_many_layers.toml",
            (
                "model.hidden: wrong number of items (got 10,",
                f"expected at most {MAX_HIDDEN_LAYERS})",
            ),
        ),
        (
            "too_many_samples.toml",
            ("data.samples: out of range (got 10000000", f"equal to {MAX_SAMPLES})"),
        ),
        (
            "too_many_epochs.toml",
            ("training.epochs: out of range (got 1000000000", f"equal to {MAX_EPOCHS})"),
        ),
    ],
)
def test_limits_stop_hostile_files(name: str, parts: tuple[str, str]) -> None:
    error = only_error(name)
    assert all(part in error for part in parts), error


def test_butterfly_layer_outside_the_model() -> None:
    error = only_error("butterfly_layer.toml")
    assert "experiments.butterfly.layer: the model has 2 layers (got 5, expected 0..1)" in error


def test_butterfly_weight_outside_the_layer() -> None:
    error = only_error("butterfly_weight.toml")
    assert (
        "experiments.butterfly: no weight (2, 0) in layer 0 (expected row 0..1 and col 0..3)"
        in error
    )


def test_poison_indices_out_of_range() -> None:
    error = only_error("poison_indices.toml")
    assert "experiments.poison.indices: not a training point (got 20, expected 0..15)" in error


def test_missing_csv_names_the_csv_file_resolved_next_to_the_scenario() -> None:
    (error,) = errors_of(BAD / "missing_csv.toml")
    prefix = f"{BAD / 'missing_csv.toml'}: data.path: {BAD / 'no-such-points.csv'}: "
    assert error == prefix + "no such file"


def test_malformed_csv_row_names_file_line_and_column() -> None:
    (error,) = errors_of(BAD / "bad_csv_row.toml")
    assert error == (
        f"{BAD / 'bad_csv_row.toml'}: data.path: "
        f"{BAD / 'broken.csv'}: line 3: column x2: "
        "expected a finite number (got text, not a number)"
    )


def test_csv_path_is_relative_to_the_scenario_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "elsewhere"
    shutil.copytree(GOOD, copy)
    monkeypatch.chdir(tmp_path)  # neither the scenario's folder nor the repository
    session = Session(load_scenario(copy / "csv_relative.toml"))
    assert len(session.data.y_train) + len(session.data.y_test) == 8
    assert session.data.n_classes == 2

    (copy / "data" / "points.csv").unlink()
    (error,) = errors_of(copy / "csv_relative.toml")
    assert error.startswith(
        f"{copy / 'csv_relative.toml'}: data.path: {copy / 'data' / 'points.csv'}"
    )
    assert error.endswith(": no such file")


def test_every_good_fixture_validates() -> None:
    paths = sorted(GOOD.glob("*.toml"))
    assert [p.name for p in paths] == ["csv_relative.toml"]  # an empty folder must not pass
    for path in paths:
        assert Session(load_scenario(path)).data.n_classes == 2
