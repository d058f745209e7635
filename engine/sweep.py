"""Sweeps: one scenario trained headless over the cartesian product of some of its settings.

A setting is a dotted key of the scenario file and the values it takes, as the command line
writes it: ``training.seed=0..63`` or ``training.learning_rate=0.1,0.5``. Each value is checked
through the scenario's own validation before anything trains; each cell (one combination of
values) is then trained by ``engine.runner`` exactly as ``tui-nn run`` would, in worker
processes (joblib) or on a Dask cluster. A cell is plain data, so any worker with tui-nn
installed can train it, and its results (metrics and expectations) are the same wherever it
runs: training is deterministic.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.files import BadToml, TooDeep, parse_toml
from engine.scenario import ScenarioError, validate_scenario

MAX_CELLS = 10_000
"""Most cells one sweep may train."""
MAX_RANGE = 10_000
"""Most values one range may give."""
RANGE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*(?::\s*(\d+)\s*)?$")
"""``a..b`` or ``a..b:step``: whole numbers from a to b, both included."""

Value = Any
"""A setting's value as TOML reads it: a number, a string, a boolean or an array."""


class SweepError(Exception):
    """Settings that cannot be swept; ``lines`` holds one line per problem."""

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)


@dataclass(frozen=True)
class Setting:
    """One swept key and its values, in the order given."""

    key: str
    """Dotted path into the scenario file, e.g. 'training.seed' or 'model.hidden'."""
    values: tuple[Value, ...]
    text: str
    """As written, for messages."""


def split_values(text: str) -> list[str]:
    """Comma-separated values, keeping commas inside brackets and quotes: '[8, 8],[16]'."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def parse_value(text: str) -> Value:
    """A value as TOML reads it (``0.5``, ``true``, ``[8, 8]``, ``"adam"``), or a bare word
    as a string (``adam``)."""
    try:
        return parse_toml(f"v = {text}")["v"]
    except (BadToml, TooDeep):
        return text


def parse_setting(text: str) -> Setting:
    """``KEY=V1,V2,...`` (or a range ``KEY=A..B[:STEP]``) as a setting.

    Raises:
        SweepError: One line naming what is wrong.
    """
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not key or not values.strip():
        raise SweepError([f"--set {text}: expected KEY=VALUE[,VALUE...] (e.g. training.seed=0..9)"])
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|\d+))*", key):
        raise SweepError([f"--set {text}: {key!r} is not a dotted key (e.g. training.seed)"])
    out: list[Value] = []
    for part in split_values(values):
        if not part:
            raise SweepError([f"--set {text}: an empty value"])
        if m := RANGE.match(part):
            low, high, step = int(m[1]), int(m[2]), int(m[3] or 1)
            if step < 1 or high < low or (high - low) // step + 1 > MAX_RANGE:
                raise SweepError(
                    [f"--set {text}: {part}: expected low..high[:step] with low <= high, "
                     f"step >= 1 and at most {MAX_RANGE:,} values"]
                )  # fmt: skip
            out += range(low, high + 1, step)
        else:
            out.append(parse_value(part))
    return Setting(key, tuple(out), text)


def apply(raw: dict[str, Any], key: str, value: Value) -> dict[str, Any]:
    """A deep copy of the scenario's tables with ``key`` set to ``value`` (tables on the way
    are created; a number in the path indexes an array of tables, e.g. ``probes.0.point``).

    Raises:
        SweepError: When the path runs through something that is not a table.
    """
    out = copy.deepcopy(raw)
    node: Any = out
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise SweepError([f"{key}: {where} has no entry {part} (it has {len(node)})"])
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.setdefault(part, {})
        if not isinstance(node, dict | list):
            raise SweepError([f"{key}: {where} is a value, not a table"])
    if not isinstance(node, dict):
        raise SweepError([f"{key}: {'.'.join(parts[:-1])} is an array, not a table"])
    node[parts[-1]] = value
    return out


def show(value: Value) -> str:
    """A value as the command line writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Cell:
    """One combination of the swept values: what a worker needs to train it (plain data)."""

    index: int
    params: tuple[tuple[str, Value], ...]
    """(key, value) per setting, in the order of the settings."""
    raw: dict[str, Any]
    """The scenario's tables with the values applied."""
    source: str
    base_dir: str

    @property
    def label(self) -> str:
        """'training.seed=3 training.learning_rate=0.5'."""
        return " ".join(f"{k}={show(v)}" for k, v in self.params)


def plan(
    raw: dict[str, Any], settings: Sequence[Setting], source: str, base_dir: Path | None
) -> list[Cell]:
    """Every cell of the sweep, each checked by the scenario's validation and its data checks.

    Each value is checked alone first (so a bad one is named once, not once per cell), then
    every combination (rules between keys, and the data).

    Raises:
        SweepError: One line per bad key, value or combination.
    """
    problems: list[str] = []
    for setting in settings:
        for value in setting.values:
            try:
                validate_scenario(apply(raw, setting.key, value), source, base_dir)
            except SweepError as exc:
                problems += [f"--set {setting.key}={show(value)}: {line}" for line in exc.lines]
            except ScenarioError as exc:
                problems += [
                    f"--set {setting.key}={show(value)}: {line.removeprefix(source + ': ')}"
                    for line in exc.errors
                ]
    if problems:
        raise SweepError(list(dict.fromkeys(problems)))
    total = math.prod(len(s.values) for s in settings)
    if total > MAX_CELLS:
        raise SweepError([f"--set: {total:,} cells, expected at most {MAX_CELLS:,}"])
    cells = []
    for index, values in enumerate(itertools.product(*(s.values for s in settings))):
        table = raw
        for setting, value in zip(settings, values, strict=True):
            table = apply(table, setting.key, value)
        params = tuple((s.key, v) for s, v in zip(settings, values, strict=True))
        cell = Cell(index, params, table, source, str(base_dir or ""))
        problems += [f"{cell.label}: {line}" for line in check(cell)]
        cells.append(cell)
    if problems:
        raise SweepError(problems)
    return cells


def check(cell: Cell) -> list[str]:
    """What is wrong with a cell's scenario, its data included (empty when it can train)."""
    from engine.data_checks import load_data

    try:
        load_data(validate_scenario(cell.raw, cell.source, Path(cell.base_dir or ".")))
    except ScenarioError as exc:
        return [line.removeprefix(cell.source + ": ") for line in exc.errors]
    return []


@dataclass(frozen=True)
class Outcome:
    """One expectation of one cell."""

    expectation: str
    """e.g. 'test.accuracy >= 0.95'."""
    value: float | None
    passed: bool


@dataclass(frozen=True)
class CellResult:
    """What training one cell found."""

    index: int
    params: tuple[tuple[str, Value], ...]
    metrics: dict[str, float]
    outcomes: tuple[Outcome, ...]
    epoch: int
    blowup: str | None
    seconds: float
    """Wall time of the training (depends on the machine, unlike everything else here)."""

    @property
    def passed(self) -> int:
        """Expectations met."""
        return sum(o.passed for o in self.outcomes)


def train_cell(cell: Cell, blas_threads: int | None = 1) -> CellResult:
    """Train one cell headless to its scenario's epochs (in a worker).

    Args:
        cell: The cell.
        blas_threads: Threads BLAS may use while it trains (1: each worker one core, so that
            workers do not compete for cores; None: leave BLAS as it is).
    """
    from threadpoolctl import threadpool_limits

    from engine import runner
    from engine.session import Session

    scenario = validate_scenario(cell.raw, cell.source, Path(cell.base_dir or "."))
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        started = time.perf_counter()
        session = Session(scenario)
        result = runner.train(session)
        seconds = time.perf_counter() - started
    outcomes = tuple(Outcome(o.expectation.describe(), o.value, o.passed) for o in result.outcomes)
    metrics = {k: float(v) for k, v in result.metrics.items()}
    return CellResult(
        cell.index, cell.params, metrics, outcomes, session.epoch, session.blowup, seconds
    )


def run_local(cells: Sequence[Cell], jobs: int) -> Iterator[CellResult]:
    """Train the cells in ``jobs`` worker processes (joblib), yielding results as they finish.

    With one job the cells train here, one after another.
    """
    if jobs <= 1 or len(cells) <= 1:
        yield from (train_cell(cell) for cell in cells)
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=jobs, return_as="generator_unordered")
    yield from parallel(delayed(train_cell)(cell) for cell in cells)


def run_dask(cells: Sequence[Cell], address: str) -> Iterator[CellResult]:
    """Train the cells on the Dask cluster whose scheduler is at ``address`` (tcp://HOST:PORT),
    yielding results as they finish. Its workers need tui-nn installed (and the scenario's
    files, for a CSV or weights file, at the same path).
    """
    from distributed import Client, as_completed

    with Client(address, timeout="10s") as client:
        futures = client.map(train_cell, cells, pure=False)
        for future in as_completed(futures):
            yield future.result()


def sweep(
    cells: Sequence[Cell],
    results: Callable[[Sequence[Cell]], Iterable[CellResult]],
    progress: Callable[[CellResult], object] | None = None,
) -> list[CellResult]:
    """Every cell's result, in cell order, reporting each as it arrives."""
    out = []
    for result in results(cells):
        out.append(result)
        if progress is not None:
            progress(result)
    return sorted(out, key=lambda r: r.index)
