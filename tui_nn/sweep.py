"""`tui-nn sweep SCENARIO --set KEY=V1,V2,... [--set ...]`: a scenario over a grid of settings.

Every combination (cell) trains headless, in local worker processes or on a Dask cluster
(``engine.sweep``); the command prints a table of each cell's figures and expectations, writes
every cell's metrics to CSV and JSON, and can plot one metric against one setting.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from engine.files import FileRefused, parse_toml, write_atomic
from engine.scenario import Scenario, read_scenario_text
from engine.sweep import (
    Cell,
    CellResult,
    Setting,
    SweepError,
    parse_setting,
    plan,
    run_dask,
    run_local,
    show,
    sweep,
)
from tui_nn.commands import (
    EXIT_FAILED,
    EXIT_OK,
    CliError,
    add_scenario_argument,
    check_target,
    load,
)
from tui_nn.report import json_safe

PLOT_SIZE = (72, 16)
"""Columns and rows of the plot."""


def sweep_parser() -> argparse.ArgumentParser:
    """The parser of `tui-nn sweep`."""
    parser = argparse.ArgumentParser(
        prog="tui-nn sweep",
        description="Train a scenario headless for every combination of some of its settings.",
        epilog=(
            "examples:\n"
            "  tui-nn sweep moons-ood --set training.seed=0..15\n"
            "  tui-nn sweep moons --set training.learning_rate=0.1,0.5,1 "
            "--set model.hidden=[4],[10],[32] --plot test.accuracy@training.learning_rate\n"
            "  tui-nn sweep moons --set training.seed=0..63 --dask tcp://scheduler:8786"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_argument(parser)
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        required=True,
        metavar="KEY=V1,V2,...",
        help="a scenario key and its values; A..B[:STEP] is a range of whole numbers "
        "(repeat for a grid: every combination trains)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: one per core; BLAS gets one thread in each)",
    )
    parser.add_argument(
        "--dask", metavar="tcp://HOST:PORT", help="train on this Dask cluster instead"
    )
    parser.add_argument(
        "--metrics", metavar="M1,M2", help="table columns (default: what the expectations test)"
    )
    parser.add_argument(
        "--plot",
        metavar="METRIC[@KEY]",
        help="plot a metric against a setting (default: the first)",
    )
    parser.add_argument(
        "--out",
        metavar="PREFIX",
        help="write PREFIX.csv and PREFIX.json (default: sweep-SCENARIO in this folder)",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a cell fails an expectation"
    )
    parser.add_argument("--quiet", action="store_true", help="print no table")
    return parser


def _settings(texts: Sequence[str]) -> list[Setting]:
    settings, problems = [], []
    for text in texts:
        try:
            settings.append(parse_setting(text))
        except SweepError as exc:
            problems += exc.lines
    keys = [s.key for s in settings]
    problems += [f"--set {k}: given twice" for k in sorted({k for k in keys if keys.count(k) > 1})]
    if problems:
        raise CliError([f"tui-nn sweep: {line}" for line in problems])
    return settings


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "--"
    return f"{value:.4g}"


def columns(scenario: Scenario, results: Sequence[CellResult], chosen: str | None) -> list[str]:
    """The metrics the table shows: those chosen, or those the final expectations test."""
    if chosen:
        return [m.strip() for m in chosen.split(",") if m.strip()]
    named = [e.metric for e in scenario.expect if e.epoch is None]
    known = set(results[0].metrics) if results else set()
    return [m for m in dict.fromkeys(named) if m in known] or ["test.accuracy"]


def table(
    settings: Sequence[Setting], shown: Sequence[str], results: Sequence[CellResult]
) -> Table:
    """One row per cell: its values, the chosen metrics and its expectations met."""
    out = Table(box=None, header_style="bold", pad_edge=False)
    for s in settings:
        out.add_column(s.key)
    for m in shown:
        out.add_column(m, justify="right")
    out.add_column("expect", justify="right")
    for r in results:
        total = len(r.outcomes)
        style = "green" if r.passed == total else "red"
        expect = f"[{style}]{r.passed}/{total}[/]" if total else "-"
        if r.blowup:
            expect += " [red]NaN[/]"
        out.add_row(
            *(show(v) for _, v in r.params), *(_number(r.metrics.get(m)) for m in shown), expect
        )
    return out


def failures(results: Sequence[CellResult]) -> list[str]:
    """'test.accuracy >= 0.95: failed in 3 of 64 cells', one line per expectation that failed."""
    failed = Counter(o.expectation for r in results for o in r.outcomes if not o.passed)
    order = [o.expectation for o in results[0].outcomes] if results else []
    return [f"{e}: failed in {failed[e]} of {len(results)} cells" for e in order if failed.get(e)]


def to_csv(settings: Sequence[Setting], results: Sequence[CellResult]) -> str:
    """Every cell as a row: its values, expectations met, every metric (the epoch first)."""
    metrics = list(dict.fromkeys(m for r in results for m in r.metrics))
    expectations = list(dict.fromkeys(o.expectation for r in results for o in r.outcomes))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [*(s.key for s in settings), "blowup", "passed", *metrics,
         *(f"expect: {e}" for e in expectations)]
    )  # fmt: skip
    for r in results:
        met = {o.expectation: o.passed for o in r.outcomes}
        writer.writerow(
            [*(show(v) for _, v in r.params), r.blowup or "", r.passed,
             *(repr(r.metrics[m]) if m in r.metrics else "" for m in metrics),
             *(("pass" if met[e] else "fail") if e in met else "" for e in expectations)]
        )  # fmt: skip
    return buffer.getvalue()


def to_json(
    scenario: Scenario, settings: Sequence[Setting], results: Sequence[CellResult]
) -> dict[str, Any]:
    """The sweep as plain data: its settings and every cell's metrics and expectations."""
    return {
        "scenario": scenario.name,
        "settings": [{"key": s.key, "values": list(s.values)} for s in settings],
        "cells": [
            {
                "params": dict(r.params),
                "epoch": r.epoch,
                "blowup": r.blowup,
                "seconds": round(r.seconds, 4),
                "metrics": r.metrics,
                "expectations": [
                    {"expectation": o.expectation, "value": o.value, "passed": o.passed}
                    for o in r.outcomes
                ],
            }
            for r in results
        ],
    }


def plot(spec: str, settings: Sequence[Setting], results: Sequence[CellResult]) -> str:
    """``METRIC[@KEY]`` against that setting (default the first): every cell a dot, the mean
    over the other settings a line.

    Raises:
        CliError: For a metric no cell has, or a key that is not swept.
    """
    import plotext as plt

    metric, _, key = spec.partition("@")
    key = key or settings[0].key
    keys = [s.key for s in settings]
    if key not in keys:
        raise CliError([f"tui-nn sweep: --plot {spec}: {key!r} is not swept ({', '.join(keys)})"])
    if not any(metric in r.metrics for r in results):
        raise CliError([f"tui-nn sweep: --plot {spec}: no cell measures {metric!r}"])
    setting = settings[keys.index(key)]
    values = list(dict.fromkeys(show(v) for v in setting.values))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in setting.values)
    xs, ys = [], []
    for r in results:
        value, y = dict(r.params)[key], r.metrics.get(metric, math.nan)
        if math.isfinite(y):
            xs.append(float(value) if numeric else float(values.index(show(value))))
            ys.append(y)
    plt.clear_figure()
    plt.plotsize(*PLOT_SIZE)
    plt.theme("clear")
    if xs:
        plt.scatter(xs, ys, marker="dot", label="cells")
        means: dict[float, list[float]] = {}
        for x, y in zip(xs, ys, strict=True):
            means.setdefault(x, []).append(y)
        centre = sorted(means)
        if len(centre) > 1 and len(results) > len(centre):
            plt.plot(centre, [sum(means[x]) / len(means[x]) for x in centre], label="mean")
    if not numeric:
        plt.xticks(list(range(len(values))), values)
    else:  # at most about eight ticks, on the swept values themselves
        every = -(-len(values) // 8)
        ticks = list(dict.fromkeys(setting.values))[::every]
        plt.xticks([float(v) for v in ticks], [show(v) for v in ticks])
    plt.xlabel(key)
    plt.title(f"{metric} against {key}")
    return str(plt.uncolorize(plt.build()))


def _write(
    prefix: Path, scenario: Scenario, settings: list[Setting], results: list[CellResult]
) -> list[Path]:
    import json

    paths = [prefix.with_name(prefix.name + ".csv"), prefix.with_name(prefix.name + ".json")]
    texts = [
        to_csv(settings, results),
        json.dumps(json_safe(to_json(scenario, settings, results)), allow_nan=False, indent=2),
    ]
    for path, text in zip(paths, texts, strict=True):
        try:
            write_atomic(path, (text.rstrip("\n") + "\n").encode())
        except FileRefused as exc:
            raise CliError([f"{path}: cannot write ({exc.reason})"]) from None
        except OSError as exc:
            raise CliError([f"{path}: cannot write ({exc.strerror or exc})"]) from None
    return paths


def main(argv: list[str]) -> int:
    """`tui-nn sweep`: plan, train every cell, then print, write and plot the results."""
    args = sweep_parser().parse_args(argv)
    if args.jobs < 1:
        raise CliError([f"tui-nn sweep: --jobs: expected 1 or more (got {args.jobs})"])
    settings = _settings(args.settings)
    path, scenario = load(args.scenario)
    prefix = Path(args.out or f"sweep-{scenario.name}")
    for suffix in (".csv", ".json"):
        check_target("results", prefix.with_name(prefix.name + suffix))
    raw = parse_toml(read_scenario_text(path))  # validated just now: it reads
    if args.plot and "@" in args.plot:
        key = args.plot.partition("@")[2]
        if key not in [s.key for s in settings]:
            raise CliError([f"tui-nn sweep: --plot {args.plot}: {key!r} is not swept"])
    try:
        cells = plan(raw, settings, str(path), path.parent)
    except SweepError as exc:
        raise CliError(exc.lines) from None
    where = f"the Dask cluster at {args.dask}" if args.dask else _local(args.jobs, len(cells))
    err = Console(stderr=True, highlight=False)
    if not args.quiet:
        err.print(f"{scenario.name}: {len(cells)} cells on {where}")
    started = time.perf_counter()
    results = _train(cells, args, enabled=not args.quiet and sys.stderr.isatty())
    elapsed = time.perf_counter() - started
    paths = _write(prefix, scenario, settings, results)
    shown = columns(scenario, results, args.metrics)
    rows = table(settings, shown, results)
    out = Console(highlight=False)
    if not out.is_terminal:  # a file or a pipe: as wide as the table, never cut
        out = Console(highlight=False, width=max(out.width, _width(rows)))
    if not args.quiet:
        out.print(rows)
        passed = sum(r.passed == len(r.outcomes) for r in results)
        out.print(
            f"\n{len(results)} cells in {elapsed:.1f} s; {passed} meet every expectation"
            + (f" ({len(results[0].outcomes)})" if results and results[0].outcomes else "")
        )
        for line in failures(results):
            out.print(f"  {line}")
        out.print(f"wrote {paths[0]} and {paths[1]}")
    if args.plot:
        print(plot(args.plot, settings, results))
    if args.check and any(r.passed < len(r.outcomes) or r.blowup for r in results):
        return EXIT_FAILED
    return EXIT_OK


def _width(rows: Table) -> int:
    """Columns the table needs so that no header or cell is cut."""
    widths = [
        max(len(str(c.header)), *(len(str(cell)) for cell in c.cells), 1) for c in rows.columns
    ]
    return sum(widths) + 2 * len(widths)


def _local(jobs: int, cells: int) -> str:
    workers = min(jobs, cells)
    return "this machine, 1 process" if workers <= 1 else f"this machine, {workers} processes"


def _train(cells: list[Cell], args: argparse.Namespace, *, enabled: bool) -> list[CellResult]:
    if args.dask:

        def source(c: Sequence[Cell]) -> Any:
            return run_dask(c, args.dask)
    else:

        def source(c: Sequence[Cell]) -> Any:
            return run_local(c, args.jobs)

    if not enabled:
        return sweep(cells, source)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("cells", total=len(cells))
        return sweep(cells, source, lambda _: bar.advance(task))
