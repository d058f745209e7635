"""Toy 2-D classification data sets and a strict CSV loader.

Every generator returns ``(x, y)``: ``x`` is a float64 array of shape ``(n, 2)`` and ``y`` an
int64 array of shape ``(n,)`` holding classes ``0..k-1``. Randomness comes only from the
``rng`` argument, so the same seed always gives the same bytes.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from engine.files import FileRefused, read_limited

Points = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int64]

MAX_FILE_BYTES = 20 * 1024 * 1024
"""Files larger than this are refused before they are read."""

CSV_HEADER = ("x1", "x2", "label")
"""The optional first row of a data file, and the column names used in messages."""

# Universal newlines, as open(newline="") would see them; str.splitlines also splits on
# form feeds and Unicode separators, which would put line numbers out of step with editors.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_NEWLINE = re.compile(r"\r\n|\r|\n")


class DataError(ValueError):
    """Bad user data.

    ``str(err)`` is always one line naming the file, the line (when known) and what was
    expected, e.g. ``data/points.csv: line 7: column x2: expected a finite number (got 'abc')``.

    Attributes:
        path: The file the data came from, if any.
        line: The 1-based line number the problem was found on, if known.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"))
        self.path = path
        self.line = line


def make_xor() -> tuple[Points, Labels]:
    """Return the four points of the XOR truth table.

    Returns:
        ``(0,0), (0,1), (1,0), (1,1)`` in that order, labelled ``0, 1, 1, 0``.
    """
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return x, np.array([0, 1, 1, 0], dtype=np.int64)


def make_xor_cloud(n: int, noise: float, rng: np.random.Generator) -> tuple[Points, Labels]:
    """Sample a noisy XOR cloud.

    Args:
        n: Number of points, at least 1.
        noise: Standard deviation of the Gaussian noise added to the coordinates.
        rng: Source of randomness.

    Returns:
        Points uniform in ``[-1, 1]^2``, labelled 1 where ``x1 * x2 < 0``. The noise is added
        after labelling, so some points sit on the "wrong" side of an axis.

    Raises:
        ValueError: If ``n`` or ``noise`` is out of range.
    """
    _check_n(n, 1)
    _check_noise(noise)
    x = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = (x[:, 0] * x[:, 1] < 0).astype(np.int64)
    x += rng.normal(0.0, noise, size=x.shape)
    return x, y


def make_moons(n: int, noise: float, rng: np.random.Generator) -> tuple[Points, Labels]:
    """Sample two interleaving half circles, like ``sklearn.datasets.make_moons``.

    Args:
        n: Number of points, at least 2. ``n // 2`` are outer (class 0), the rest inner.
        noise: Standard deviation of the Gaussian noise added to the coordinates.
        rng: Source of randomness.

    Returns:
        Shuffled points. Before noise, class 0 is ``(cos t, sin t)`` and class 1
        ``(1 - cos t, 0.5 - sin t)`` with ``t`` evenly spaced over ``[0, pi]``.

    Raises:
        ValueError: If ``n`` or ``noise`` is out of range.
    """
    _check_n(n, 2)
    _check_noise(noise)
    n_outer = n // 2
    t_outer = np.linspace(0.0, np.pi, n_outer)
    t_inner = np.linspace(0.0, np.pi, n - n_outer)
    outer = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
    inner = np.column_stack([1.0 - np.cos(t_inner), 0.5 - np.sin(t_inner)])
    return _finish(np.vstack([outer, inner]), _two_class_labels(n), noise, rng)


def make_circles(
    n: int, noise: float, factor: float, rng: np.random.Generator
) -> tuple[Points, Labels]:
    """Sample two concentric circles.

    Args:
        n: Number of points, at least 2. ``n // 2`` are on the outer circle (class 0).
        noise: Standard deviation of the Gaussian noise added to the coordinates.
        factor: Radius of the inner circle (class 1), strictly between 0 and 1.
        rng: Source of randomness.

    Returns:
        Shuffled points at evenly spaced angles on each circle (no repeated endpoint).

    Raises:
        ValueError: If ``n``, ``noise`` or ``factor`` is out of range.
    """
    _check_n(n, 2)
    _check_noise(noise)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"factor must be strictly between 0 and 1 (got {factor!r})")
    n_outer = n // 2
    t_outer = np.linspace(0.0, 2.0 * np.pi, n_outer, endpoint=False)
    t_inner = np.linspace(0.0, 2.0 * np.pi, n - n_outer, endpoint=False)
    outer = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
    inner = factor * np.column_stack([np.cos(t_inner), np.sin(t_inner)])
    return _finish(np.vstack([outer, inner]), _two_class_labels(n), noise, rng)


def make_spiral(
    n: int, noise: float, rng: np.random.Generator, turns: float = 1.5
) -> tuple[Points, Labels]:
    """Sample two interleaved spiral arms.

    Args:
        n: Number of points, at least 2. ``n // 2`` are on arm 0 (class 0).
        noise: Standard deviation of the Gaussian noise added to the coordinates.
        rng: Source of randomness.
        turns: How many full turns each arm makes, greater than 0.

    Returns:
        Shuffled points. Along an arm of ``m`` points the radius grows evenly from ``1/m`` to 1
        while the angle grows by ``turns`` full circles; arm 1 is arm 0 rotated by pi.

    Raises:
        ValueError: If ``n``, ``noise`` or ``turns`` is out of range.
    """
    _check_n(n, 2)
    _check_noise(noise)
    if not (math.isfinite(turns) and turns > 0):
        raise ValueError(f"turns must be a finite number greater than 0 (got {turns!r})")
    arms = []
    for arm, m in enumerate((n // 2, n - n // 2)):
        # Starting at radius 1/m rather than 0 keeps the two arms from sharing the origin.
        radius = np.arange(1, m + 1, dtype=np.float64) / m
        angle = 2.0 * np.pi * turns * radius + np.pi * arm
        arms.append(radius[:, None] * np.column_stack([np.cos(angle), np.sin(angle)]))
    return _finish(np.vstack(arms), _two_class_labels(n), noise, rng)


def make_blobs(
    n: int, centers: Sequence[tuple[float, float]], std: float, rng: np.random.Generator
) -> tuple[Points, Labels]:
    """Sample isotropic Gaussian blobs.

    Args:
        n: Number of points, at least ``len(centers)`` so that every class is present.
        centers: One ``(x1, x2)`` centre per class; the label of a point is its centre's index.
        std: Standard deviation of each blob.
        rng: Source of randomness.

    Returns:
        Shuffled points, split over the centres as evenly as possible (the first
        ``n % len(centers)`` centres get one point more).

    Raises:
        ValueError: If ``n``, ``centers`` or ``std`` is out of range.
    """
    centre_array = np.asarray(centers, dtype=np.float64)
    if centre_array.ndim != 2 or centre_array.shape[0] == 0 or centre_array.shape[1] != 2:
        raise ValueError("centers must be a non-empty sequence of (x1, x2) pairs")
    if not np.all(np.isfinite(centre_array)):
        raise ValueError("centers must be finite numbers")
    k = centre_array.shape[0]
    _check_n(n, k)
    _check_noise(std, name="std")
    counts = np.full(k, n // k, dtype=np.int64)
    counts[: n % k] += 1
    y = np.repeat(np.arange(k, dtype=np.int64), counts)
    return _finish(centre_array[y], y, std, rng)


def train_test_split(
    x: Points, y: Labels, test_fraction: float, rng: np.random.Generator
) -> tuple[Points, Labels, Points, Labels]:
    """Split a data set into a training part and a test part at random.

    Args:
        x: Points, shape ``(n, d)``.
        y: Labels, shape ``(n,)``.
        test_fraction: Share of points held out for testing, in ``[0, 1]``;
            ``round(n * test_fraction)`` points go to the test part.
        rng: Source of randomness for the permutation.

    Returns:
        ``(x_train, y_train, x_test, y_test)``: new arrays holding every input row exactly
        once. Empty parts keep their shapes ``(0, d)`` and ``(0,)``.

    Raises:
        ValueError: If the shapes disagree or ``test_fraction`` is out of range.
    """
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"expected x (n, d) and y (n,) (got {x.shape}, {y.shape})")
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (got {test_fraction!r})")
    n = x.shape[0]
    n_test = round(n * test_fraction)
    order = rng.permutation(n)
    train, test = order[n_test:], order[:n_test]
    return x[train], y[train], x[test], y[test]


def load_csv(path: str | os.PathLike[str], max_rows: int = 100_000) -> tuple[Points, Labels]:
    """Load a labelled 2-D data set from a CSV file with columns ``x1,x2,label``.

    The first non-blank, non-comment row may be the header ``x1,x2,label``. Blank lines and
    lines starting with ``#`` are skipped. Labels must be non-negative integers (``1`` and
    ``1.0`` are both fine) forming the classes ``0..k-1`` with every class present and
    ``k >= 2``.

    Args:
        path: The CSV file, UTF-8 (a byte order mark is allowed), at most 20 MB.
        max_rows: Largest number of data rows accepted.

    Returns:
        ``(x, y)``: float64 points of shape ``(n, 2)`` and int64 labels of shape ``(n,)``.

    Raises:
        DataError: For any problem with the file or its contents; the message is one line
            naming the file and, when known, the line.
        ValueError: If ``max_rows`` is less than 1.
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1 (got {max_rows!r})")
    name = os.fspath(path)
    text = _read_text(name)
    reader = csv.reader(_LINE.findall(text), strict=True)
    points: list[tuple[float, float]] = []
    labels: list[int] = []
    header_allowed = True
    try:
        for row in reader:
            line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()) or row[0].lstrip()[:1] == "#":
                continue
            if header_allowed and tuple(field.strip() for field in row) == CSV_HEADER:
                header_allowed = False
                continue
            header_allowed = False
            if len(row) != 3:
                raise _error(name, line, f"expected 3 columns x1,x2,label (got {len(row)})")
            if len(points) == max_rows:
                raise _error(name, line, f"more than {max_rows} rows")
            points.append(
                (_parse_coordinate(name, line, 0, row[0]), _parse_coordinate(name, line, 1, row[1]))
            )
            labels.append(_parse_label(name, line, row[2], max_rows))
    except csv.Error as err:
        raise _error(name, reader.line_num, f"malformed CSV ({err})") from None
    if not points:
        raise _error(name, None, "no data rows (expected lines of x1,x2,label)")
    _check_classes(name, labels)
    return np.array(points, dtype=np.float64).reshape(-1, 2), np.array(labels, dtype=np.int64)


def _check_n(n: int, minimum: int) -> None:
    if n < minimum:
        raise ValueError(f"n must be at least {minimum} (got {n!r})")


def _check_noise(noise: float, name: str = "noise") -> None:
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"{name} must be a finite number >= 0 (got {noise!r})")


def _two_class_labels(n: int) -> Labels:
    return np.repeat(np.array([0, 1], dtype=np.int64), [n // 2, n - n // 2])


def _finish(x: Points, y: Labels, noise: float, rng: np.random.Generator) -> tuple[Points, Labels]:
    # The noise is drawn even when it is 0 so that the shuffle, and thus the order of the
    # points, is the same for every noise level under one seed.
    noisy = x + rng.normal(0.0, noise, size=x.shape)
    order = rng.permutation(x.shape[0])
    return noisy[order], y[order]


def _error(name: str, line: int | None, reason: str) -> DataError:
    where = f"{name}: line {line}: " if line is not None else f"{name}: "
    return DataError(where + reason, path=name, line=line)


def _read_text(name: str) -> str:
    try:
        data = read_limited(name, MAX_FILE_BYTES)
    except FileRefused as err:
        raise _error(name, None, err.reason) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = len(_NEWLINE.findall(data[: err.start].decode("utf-8-sig"))) + 1
        raise _error(
            name, line, f"expected UTF-8 text (got byte 0x{data[err.start]:02x})"
        ) from None


def _to_float(field: str) -> float | None:
    try:
        return float(field.strip())
    except ValueError:
        return None


def _found(field: str) -> str:
    """What a field that failed to parse holds, in words: never the field's own text.

    A data file may be anything on the disk; its contents are not repeated in messages (they
    end up in terminals and logs). A number is shown as the number it parses to.
    """
    if not field.strip():
        return "an empty field"
    value = _to_float(field)
    return "text, not a number" if value is None else f"{value:g}"


def _parse_coordinate(name: str, line: int, column: int, field: str) -> float:
    value = _to_float(field)
    if value is None or not math.isfinite(value):
        raise _error(
            name,
            line,
            f"column {CSV_HEADER[column]}: expected a finite number (got {_found(field)})",
        )
    return value


def _parse_label(name: str, line: int, field: str, max_rows: int) -> int:
    value = _to_float(field)
    if value is None or not (math.isfinite(value) and value.is_integer() and value >= 0):
        raise _error(
            name, line, f"column label: expected a non-negative integer (got {_found(field)})"
        )
    label = int(value)
    # Classes 0..label must all be present, so a label this large can never be valid; refusing
    # it here also keeps absurd values like 1e300 out of the int64 array.
    if label >= max_rows:
        raise _error(
            name, line, f"column label: expected a class below {max_rows} (got {_found(field)})"
        )
    return label


def _check_classes(name: str, labels: list[int]) -> None:
    present = sorted(set(labels))
    for expected, found in enumerate(present):
        if expected != found:
            reason = f"labels must be 0..{present[-1]} with every class present"
            raise _error(name, None, f"{reason} (no row has class {expected})")
    if len(present) < 2:
        raise _error(name, None, f"expected at least 2 classes (every row has label {present[0]})")
