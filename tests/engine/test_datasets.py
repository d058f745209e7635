"""Tests for the toy data sets, the split and the CSV loader."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from engine.datasets import (
    MAX_FILE_BYTES,
    DataError,
    load_csv,
    make_blobs,
    make_circles,
    make_moons,
    make_spiral,
    make_xor,
    make_xor_cloud,
    train_test_split,
)

Data = tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]

BLOB_CENTERS = [(0.0, 0.0), (3.0, 0.0), (0.0, -3.0)]

GENERATORS: dict[str, Callable[[int, np.random.Generator], Data]] = {
    "xor_cloud": lambda n, rng: make_xor_cloud(n, 0.1, rng),
    "moons": lambda n, rng: make_moons(n, 0.1, rng),
    "circles": lambda n, rng: make_circles(n, 0.1, 0.5, rng),
    "spiral": lambda n, rng: make_spiral(n, 0.1, rng),
    "blobs": lambda n, rng: make_blobs(n, BLOB_CENTERS, 0.5, rng),
}


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- generators ----------------------------------------------------------------------------


def test_xor_is_the_truth_table() -> None:
    x, y = make_xor()
    assert x.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(x, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [0, 1, 1, 0])


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_shapes_and_dtypes(name: str) -> None:
    x, y = GENERATORS[name](101, rng())
    assert x.shape == (101, 2) and x.dtype == np.float64
    assert y.shape == (101,) and y.dtype == np.int64
    assert np.all(np.isfinite(x))


@pytest.mark.parametrize(
    ("name", "counts"),
    [("moons", [50, 51]), ("circles", [50, 51]), ("spiral", [50, 51]), ("blobs", [34, 34, 33])],
)
def test_generator_label_balance(name: str, counts: list[int]) -> None:
    _, y = GENERATORS[name](101, rng())
    np.testing.assert_array_equal(np.bincount(y), counts)


@pytest.mark.parametrize("name", ["moons", "circles", "spiral", "blobs"])
def test_generator_shuffles(name: str) -> None:
    _, y = GENERATORS[name](200, rng())
    assert not np.all(np.diff(y) >= 0), "labels still come in blocks"


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_is_deterministic_per_seed(name: str) -> None:
    x1, y1 = GENERATORS[name](64, rng(7))
    x2, y2 = GENERATORS[name](64, rng(7))
    x3, _ = GENERATORS[name](64, rng(8))
    assert x1.tobytes() == x2.tobytes() and y1.tobytes() == y2.tobytes()
    assert not np.array_equal(x1, x3)


def test_xor_cloud_labels_follow_the_quadrant_without_noise() -> None:
    x, y = make_xor_cloud(2000, 0.0, rng())
    assert np.all(np.abs(x) <= 1.0)
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] < 0).astype(np.int64))
    assert 0.45 < y.mean() < 0.55


def test_xor_cloud_noise_is_added_after_labelling() -> None:
    x, y = make_xor_cloud(2000, 0.3, rng())
    wrong_side = y != (x[:, 0] * x[:, 1] < 0)
    assert wrong_side.any()
    assert np.abs(x).max() > 1.0


def test_moons_without_noise_lie_on_the_two_arcs() -> None:
    x, y = make_moons(100, 0.0, rng())
    outer, inner = x[y == 0], x[y == 1]
    np.testing.assert_allclose(outer[:, 0] ** 2 + outer[:, 1] ** 2, 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        (inner[:, 0] - 1.0) ** 2 + (inner[:, 1] - 0.5) ** 2, 1.0, rtol=0, atol=1e-12
    )
    assert outer[:, 1].min() >= -1e-12, "outer moon is the upper half circle"
    assert inner[:, 1].max() <= 0.5 + 1e-12, "inner moon is the lower half circle"
    # linspace(0, pi) includes both ends of each arc.
    assert np.isclose(outer[:, 0].max(), 1.0) and np.isclose(outer[:, 0].min(), -1.0)
    assert np.isclose(inner[:, 0].min(), 0.0) and np.isclose(inner[:, 0].max(), 2.0)


def test_moons_noise_moves_points_off_the_arcs() -> None:
    x, y = make_moons(2000, 0.1, rng())
    outer = x[y == 0]
    off = np.hypot(outer[:, 0], outer[:, 1]) - 1.0
    assert 0.05 < off.std() < 0.15


def test_circles_without_noise_have_exact_radii_and_even_angles() -> None:
    x, y = make_circles(41, 0.0, 0.3, rng())
    radius = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(radius[y == 1], 0.3, rtol=0, atol=1e-12)
    for label, m in ((0, 20), (1, 21)):
        points = x[y == label]
        angles = np.sort(np.mod(np.arctan2(points[:, 1], points[:, 0]), 2 * np.pi))
        expected = np.linspace(0.0, 2 * np.pi, m, endpoint=False)
        np.testing.assert_allclose(angles, expected, rtol=0, atol=1e-9)


def test_spiral_arms_are_rotations_of_each_other() -> None:
    x, y = make_spiral(200, 0.0, rng())
    arm0, arm1 = x[y == 0], x[y == 1]
    np.testing.assert_allclose(np.sort(-arm0, axis=0), np.sort(arm1, axis=0), atol=1e-12)
    radius = np.hypot(x[:, 0], x[:, 1])
    assert radius.max() == pytest.approx(1.0)
    assert radius.min() < 0.05


def test_spiral_turns_changes_the_shape_and_noise_keeps_it_in_bounds() -> None:
    x_default, _ = make_spiral(200, 0.0, rng())
    x_more, _ = make_spiral(200, 0.0, rng(), turns=3.0)
    assert not np.allclose(x_default, x_more)
    x_noisy, _ = make_spiral(1000, 0.05, rng())
    assert np.abs(x_noisy).max() <= 1.2


def test_blobs_sit_around_their_centres() -> None:
    x, y = make_blobs(3000, BLOB_CENTERS, 0.2, rng())
    for label, centre in enumerate(BLOB_CENTERS):
        np.testing.assert_allclose(x[y == label].mean(axis=0), centre, atol=0.03)
        np.testing.assert_allclose(x[y == label].std(axis=0), 0.2, atol=0.02)
    x0, y0 = make_blobs(5, BLOB_CENTERS, 0.0, rng())
    np.testing.assert_array_equal(x0, np.array(BLOB_CENTERS)[y0])


@pytest.mark.parametrize(
    "call",
    [
        lambda: make_moons(1, 0.1, rng()),
        lambda: make_moons(10, -0.1, rng()),
        lambda: make_moons(10, float("nan"), rng()),
        lambda: make_xor_cloud(0, 0.1, rng()),
        lambda: make_circles(10, 0.1, 1.0, rng()),
        lambda: make_circles(10, 0.1, 0.0, rng()),
        lambda: make_spiral(10, 0.1, rng(), turns=0.0),
        lambda: make_blobs(10, [], 0.1, rng()),
        lambda: make_blobs(2, BLOB_CENTERS, 0.1, rng()),
        lambda: make_blobs(10, BLOB_CENTERS, -1.0, rng()),
    ],
)
def test_generators_reject_bad_arguments(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        call()


# --- train_test_split ----------------------------------------------------------------------


def _rows(x: npt.NDArray[np.float64], y: npt.NDArray[np.int64]) -> list[tuple[float, ...]]:
    return sorted((*map(float, point), int(label)) for point, label in zip(x, y, strict=True))


def test_split_sizes_and_partition() -> None:
    x, y = make_blobs(10, BLOB_CENTERS, 1.0, rng())
    x_before, y_before = x.copy(), y.copy()
    x_train, y_train, x_test, y_test = train_test_split(x, y, 0.3, rng(1))
    assert x_train.shape == (7, 2) and y_train.shape == (7,)
    assert x_test.shape == (3, 2) and y_test.shape == (3,)
    # Sorting whole (x1, x2, label) rows also checks that each label stayed with its point.
    assert _rows(np.vstack([x_train, x_test]), np.concatenate([y_train, y_test])) == _rows(x, y)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(y, y_before)


def test_split_is_seeded() -> None:
    x, y = make_moons(50, 0.1, rng())
    first = train_test_split(x, y, 0.2, rng(3))
    second = train_test_split(x, y, 0.2, rng(3))
    other = train_test_split(x, y, 0.2, rng(4))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not np.array_equal(first[2], other[2])


def test_split_with_no_test_fraction_gives_empty_test_arrays() -> None:
    x, y = make_moons(12, 0.1, rng())
    x_train, y_train, x_test, y_test = train_test_split(x, y, 0.0, rng())
    assert x_test.shape == (0, 2) and x_test.dtype == np.float64
    assert y_test.shape == (0,) and y_test.dtype == np.int64
    assert _rows(x_train, y_train) == _rows(x, y)


def test_split_rejects_bad_arguments() -> None:
    x, y = make_moons(12, 0.1, rng())
    with pytest.raises(ValueError):
        train_test_split(x, y, 1.5, rng())
    with pytest.raises(ValueError):
        train_test_split(x, y[:-1], 0.5, rng())


# --- load_csv ------------------------------------------------------------------------------


def write(tmp_path: Path, content: str | bytes, name: str = "points.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


GOOD_CSV = """\
# a comment before the header
x1 , x2, label

0.1,-2.5,0
# a comment between rows
  3e-3, 7 ,1.0

-0.0,1e10,2
"""


def test_load_csv_round_trips_exact_values(tmp_path: Path) -> None:
    x, y = load_csv(write(tmp_path, GOOD_CSV))
    assert x.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(x, [[0.1, -2.5], [0.003, 7.0], [-0.0, 1e10]])
    np.testing.assert_array_equal(y, [0, 1, 2])


def test_load_csv_without_header_with_crlf_and_bom(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbfx1,x2,label\r\n1,2,1\r\n3,4,0\r\n")
    x, y = load_csv(os.fspath(path))
    np.testing.assert_array_equal(x, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(y, [1, 0])
    x, y = load_csv(write(tmp_path, "1,2,1\n3,4,0\n", name="plain.csv"))
    np.testing.assert_array_equal(y, [1, 0])


def test_load_csv_accepts_exactly_max_rows(tmp_path: Path) -> None:
    x, _ = load_csv(write(tmp_path, "0,0,0\n1,1,1\n2,2,0\n"), max_rows=3)
    assert x.shape == (3, 2)


HEADER = "x1,x2,label\n"
BAD_FILES: dict[str, tuple[str | bytes, int, str]] = {
    "too many columns": (HEADER + "1,2,0\n1,2,0,5\n", 3, "expected 3 columns x1,x2,label (got 4)"),
    "too few columns": ("1,2\n", 1, "expected 3 columns x1,x2,label (got 2)"),
    "text coordinate": (
        HEADER + "1,2,0\n1,abc,1\n",
        3,
        "column x2: expected a finite number (got text, not a number)",
    ),
    "empty coordinate": (
        "# c\n,2,0\n1,2,1\n",
        2,
        "column x1: expected a finite number (got an empty field)",
    ),
    "nan coordinate": ("1,2,0\nnan,2,1\n", 2, "column x1: expected a finite number (got nan)"),
    "inf coordinate": ("1,2,0\n1,-inf,1\n", 2, "column x2: expected a finite number (got -inf)"),
    "fractional label": (
        "1,2,0\n1,2,1.5\n",
        2,
        "column label: expected a non-negative integer (got 1.5)",
    ),
    "negative label": (
        "1,2,0\n1,2,-1\n",
        2,
        "column label: expected a non-negative integer (got -1)",
    ),
    "word label": (
        "1,2,cat\n1,2,1\n",
        1,
        "column label: expected a non-negative integer (got text, not a number)",
    ),
    "absurd label": (
        "1,2,0\n1,2,1e300\n",
        2,
        "column label: expected a class below 100000 (got 1e+300)",
    ),
    "header not first": (
        "1,2,0\nx1,x2,label\n",
        2,
        "column x1: expected a finite number (got text, not a number)",
    ),
    "misnamed header": (
        "x,y,label\n1,2,0\n",
        1,
        "column x1: expected a finite number (got text, not a number)",
    ),
    "broken quoting": ('1,2,0\n"1,2,1\n', 2, "malformed CSV"),
    "not utf-8": (b"1,2,0\n\xff,2,1\n", 2, "expected UTF-8 text (got byte 0xff)"),
    "not utf-8 after cr lines": (
        b"1,2,0\r1,2,1\r3,\xe9,1\r",
        3,
        "expected UTF-8 text (got byte 0xe9)",
    ),
    "field over csv limit": ("1,2,0\n1,2," + "9" * 200_000 + "\n", 2, "malformed CSV"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_load_csv_bad_row_names_file_line_and_expectation(tmp_path: Path, case: str) -> None:
    content, line, expected = BAD_FILES[case]
    path = write(tmp_path, content)
    with pytest.raises(DataError) as info:
        load_csv(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line {line}: "), message
    assert expected in message
    assert "\n" not in message
    assert info.value.line == line


def test_load_csv_too_many_rows(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "0,0,0\n1,1,1\n\n# gap\n2,2,0\n3,3,1\n")
    with pytest.raises(DataError, match=r"points\.csv: line 7: more than 3 rows$"):
        load_csv(path, max_rows=3)


BAD_FILE_WIDE: dict[str, tuple[str, str]] = {
    "no data rows": (HEADER + "# only a comment\n\n", "no data rows"),
    "empty file": ("", "no data rows"),
    "one class": ("1,2,0\n3,4,0\n", "expected at least 2 classes"),
    "missing class": (
        "1,2,0\n3,4,2\n5,6,2\n",
        "labels must be 0..2 with every class present (no row has class 1)",
    ),
    "missing class zero": ("1,2,1\n3,4,2\n", "no row has class 0"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILE_WIDE))
def test_load_csv_bad_file_names_file_and_expectation(tmp_path: Path, case: str) -> None:
    content, expected = BAD_FILE_WIDE[case]
    path = write(tmp_path, content)
    with pytest.raises(DataError) as info:
        load_csv(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message
    assert ": line " not in message and "\n" not in message
    assert info.value.line is None


def test_load_csv_missing_file_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        load_csv(missing)
    with pytest.raises(DataError, match="is a directory"):
        load_csv(tmp_path)


def test_load_csv_refuses_large_file_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.write(b"not,even,csv\xff\n")
        # A sparse file: large on paper, cheap on disk.
        handle.truncate(MAX_FILE_BYTES + 1024 * 1024)
    with pytest.raises(DataError) as info:
        load_csv(path)
    message = str(info.value)
    size = MAX_FILE_BYTES + 2**20
    assert message == f"{path}: file too large ({size} bytes, expected at most {MAX_FILE_BYTES})"


def test_data_error_is_a_value_error_and_stays_on_one_line() -> None:
    err = DataError("a\nb\r\nc", path="p.csv", line=3)
    assert isinstance(err, ValueError)
    assert str(err) == "a\\nb\\r\\nc"
    assert (err.path, err.line) == ("p.csv", 3)


def test_a_bad_field_is_described_never_quoted(tmp_path: Path) -> None:
    # A data file may be any file on the disk: its text never reaches the message.
    secret = "hunter2-\x1b]0;title\x07"
    path = write(tmp_path, f'1,2,0\n"{secret}\n2",2,1\n3,4,{secret}\n')
    with pytest.raises(DataError) as info:
        load_csv(path)
    message = str(info.value)
    assert "\n" not in message and "hunter2" not in message and "\x1b" not in message
    expected = "line 3: column x1: expected a finite number (got text, not a number)"
    assert message == f"{path}: {expected}"
