"""What a headless run reports: a JSON document for scripts, and a summary for people.

The summary is plain text a terminal 80 columns wide shows whole: a table of figures, the
decision boundary drawn in characters, and the loss curves with axes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from engine.experiments.common import run_figures
from engine.experiments.expectations import Outcome
from engine.io import write_atomic
from engine.session import Session
from tui_nn.widgets.palette import ASCII_CLASS_GLYPHS, ascii_glyph

BOUNDARY_SIZE = (60, 20)
"""Characters across and down of the text decision boundary."""
CHART_SIZE = (76, 16)
"""Columns and rows of the loss chart."""
CHART_POINTS = 400
"""Most points per curve handed to the chart (longer histories are sampled evenly)."""
PLAIN_METRICS = ("epoch", "train.", "test.", "probe.")
"""Metric name prefixes the summary already shows in its own tables."""


def json_safe(value: Any) -> Any:
    """``value`` with NumPy types turned into Python ones and NaN/inf into None."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _outputs(row: Sequence[float]) -> float | list[float]:
    return float(row[0]) if len(row) == 1 else [float(v) for v in row]


def _figures(figures: Mapping[str, float]) -> dict[str, dict[str, float]]:
    return {
        part: {"loss": figures[f"{part}.loss"], "accuracy": figures[f"{part}.accuracy"]}
        for part in ("train", "test")
    }


def build(
    session: Session,
    metrics: Mapping[str, float],
    outcomes: Iterable[Outcome],
    weights_sha256: str | None = None,
) -> dict[str, Any]:
    """The JSON report of a trained session.

    Args:
        session: The session after training.
        metrics: Its final measurements (``engine.experiments.measure.measure``).
        outcomes: The checked expectations.
        weights_sha256: Hash of the saved weights file, when one was saved.

    Returns:
        Plain data, NaN still in place (``write_json`` turns it into null).
    """
    scenario = session.scenario
    snap = session.snapshot()
    base = snap.baseline
    runs = []
    for label, run in zip(session.labels(), session.runs, strict=True):
        runs.append(
            {
                "label": label,
                "dtype": str(run.network.dtype),
                **_figures(run_figures(run)),
                "blowup": run.blowup,
            }
        )
    active_units = {}
    for cls, histogram in snap.active_units.items():
        count = sum(histogram)
        mean = sum(k * n for k, n in enumerate(histogram)) / count if count else math.nan
        active_units[str(cls)] = {"mean": mean, "histogram": list(histogram)}
    twins = [
        {
            "label": diff.label,
            "max_abs_dw": diff.max_abs_dw[-1] if diff.max_abs_dw else 0.0,
            "loss_difference": diff.loss_difference[-1] if diff.loss_difference else 0.0,
            "disagreement": diff.disagreement[-1] if diff.disagreement else 0.0,
            "per_epoch": {
                "max_abs_dw": list(diff.max_abs_dw),
                "loss_difference": list(diff.loss_difference),
                "disagreement": list(diff.disagreement),
            },
        }
        for diff in snap.twin_diffs
    ]
    return {
        "scenario": scenario.name,
        "title": scenario.title,
        "epochs": session.epoch,
        "seed": scenario.training.seed,
        "dtype": base.dtype,
        "learning_rate": scenario.training.learning_rate,
        **_figures(metrics),
        "predictions": [_outputs(row) for row in base.train_outputs.tolist()],
        "labels": snap.y_train.tolist(),
        "probes": [
            {
                "label": p.name,
                "point": list(p.point),
                "output": _outputs(session.probe(*p.point).tolist()),
            }
            for p in scenario.probes
        ],
        "active_units": active_units,
        "runs": runs,
        "twins": twins,
        "history": {
            "train_loss": list(base.loss_history),
            "test_loss": list(base.test_loss_history),
        },
        "metrics": dict(metrics),
        "expectations": [
            {
                "check": o.expectation.describe(),
                "value": o.value,
                "passed": o.passed,
                "detail": o.detail,
            }
            for o in outcomes
        ],
        "weights_sha256": weights_sha256,
        "blowup": session.blowup,
    }


def write_json(path: Path, report: Mapping[str, Any]) -> None:
    """Write the report atomically (a reader never sees half a file); NaN becomes null.

    Raises:
        OSError: If the file cannot be written.
    """
    text = json.dumps(json_safe(report), allow_nan=False, indent=2)
    write_atomic(path, (text + "\n").encode())


def outcome_line(outcome: Outcome) -> str:
    """``PASS test.accuracy >= 0.95: 0.98 >= 0.95`` (or FAIL ...)."""
    verdict = "PASS" if outcome.passed else "FAIL"
    return f"{verdict} {outcome.expectation.describe()}: {outcome.detail}"


def blowup_warning(session: Session) -> str:
    """One line saying where training produced NaN/inf and what to try."""
    rate = session.scenario.training.learning_rate
    return (
        f"warning: training blew up (NaN or inf in {session.blowup}); "
        f"try a lower training.learning_rate than {rate:g}, e.g. {rate / 10:g}"
    )


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 1e-3 and value else f"{value:.{digits}f}"


def runs_table(session: Session) -> Table:
    """Loss and accuracy of the baseline and each twin, with their dtypes."""
    table = Table(title="Runs", title_justify="left", box=None, pad_edge=False)
    for name in ("run", "dtype", "train loss", "train acc", "test loss", "test acc"):
        table.add_column(name, justify="left" if name in ("run", "dtype") else "right")
    for label, run in zip(session.labels(), session.runs, strict=True):
        f = run_figures(run)
        table.add_row(
            label,
            str(run.network.dtype),
            _number(f["train.loss"]),
            _number(f["train.accuracy"], 3),
            _number(f["test.loss"]),
            _number(f["test.accuracy"], 3),
        )
    return table


def probes_table(session: Session) -> Table:
    """The baseline's output at each probe point."""
    table = Table(title="Probes", title_justify="left", box=None, pad_edge=False)
    for name in ("probe", "point", "output"):
        table.add_column(name, justify="right" if name == "output" else "left")
    for p in session.scenario.probes:
        out = session.probe(*p.point)
        shown = " ".join(f"{v:.6g}" for v in out.tolist())
        table.add_row(p.name, f"({p.point[0]:g}, {p.point[1]:g})", shown)
    return table


def twins_table(session: Session) -> Table:
    """How far each twin ended from the baseline."""
    table = Table(title="Twins vs. baseline", title_justify="left", box=None, pad_edge=False)
    for name in ("twin", "max |dw|", "loss difference", "boundary disagreement"):
        table.add_column(name, justify="left" if name == "twin" else "right")
    for t in session.twins:
        table.add_row(
            t.label,
            f"{t.max_abs_dw[-1]:.3g}" if t.max_abs_dw else "-",
            f"{t.loss_difference[-1]:.3g}" if t.loss_difference else "-",
            f"{t.disagreement[-1]:.1%}" if t.disagreement else "-",
        )
    return table


def metrics_table(metrics: Mapping[str, float]) -> Table | None:
    """The experiment metrics (those the other tables do not already show), or None."""
    shown = {k: v for k, v in metrics.items() if not k.startswith(PLAIN_METRICS)}
    if not shown:
        return None
    table = Table(title="Experiment metrics", title_justify="left", box=None, pad_edge=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in shown.items():
        table.add_row(key, "-" if math.isnan(value) else f"{value:.6g}")
    return table


def boundary_text(session: Session, size: tuple[int, int] = BOUNDARY_SIZE) -> str:
    """The baseline's decision boundary over the display range, in plain characters.

    Each cell shows the predicted class's glyph at its confidence; training points are drawn
    as their class digit ('!' for a label the poisoned twin sees flipped).
    """
    width, height = size
    snap = session.snapshot(grid=size)
    grid = snap.baseline.grid
    assert grid is not None
    ext = session.extent
    single = snap.baseline.train_outputs.shape[1] == 1
    rows = []
    for r in range(height):
        cells = []
        for c in range(width):
            value = float(grid.output[r, c])
            conf = max(value, 1 - value) if single else value
            cells.append(ascii_glyph(int(grid.classes[r, c]), conf))
        rows.append(cells)
    flipped = set(snap.poisoned.tolist())
    for i, ((x, y), label) in enumerate(
        zip(snap.x_train.tolist(), snap.y_train.tolist(), strict=True)
    ):
        c = math.floor((x - ext.x_min) / (ext.x_max - ext.x_min) * width)
        r = math.floor((ext.y_max - y) / (ext.y_max - ext.y_min) * height)
        if 0 <= c < width and 0 <= r < height:
            rows[r][c] = "!" if i in flipped else str(label % 10)
    top, bottom = f"{ext.y_max:g}", f"{ext.y_min:g}"
    margin = max(len(top), len(bottom))
    lines = [f"{top:>{margin}} +{'-' * width}+"]
    lines += [f"{'':>{margin}} |{''.join(cells)}|" for cells in rows]
    lines.append(f"{bottom:>{margin}} +{'-' * width}+")
    left, right = f"{ext.x_min:g}", f"{ext.x_max:g}"
    lines.append(f"{'':>{margin}}  {left}{right:>{width - len(left)}}")
    n_classes = session.data.n_classes
    keys = "  ".join(f"class {k}: {ASCII_CLASS_GLYPHS[k % 4]}" for k in range(min(n_classes, 4)))
    lines.append(f"{keys}  (glyphs from unsure to sure)")
    lines.append("0-9: training points, drawn as their class")
    if flipped:
        lines.append("!: a training point whose label the poisoned twin sees flipped")
    return "\n".join(lines)


def _sampled(values: Sequence[float]) -> tuple[list[int], list[float]]:
    epochs = np.arange(1, len(values) + 1)
    y = np.asarray(values, dtype=np.float64)
    if len(y) > CHART_POINTS:
        keep = np.unique(np.linspace(0, len(y) - 1, CHART_POINTS).round().astype(int))
        epochs, y = epochs[keep], y[keep]
    finite = np.isfinite(y)
    return epochs[finite].tolist(), y[finite].tolist()


def _nice_step(raw: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is at least ``raw``."""
    magnitude = 1
    while True:
        for mantissa in (1, 2, 5):
            if mantissa * magnitude >= raw:
                return mantissa * magnitude
        magnitude *= 10


def loss_chart(session: Session, size: tuple[int, int] = CHART_SIZE) -> str | None:
    """The loss curves (baseline train and test, each twin's train) with axes, or None.

    The y axis is logarithmic when the losses span more than two decades.
    """
    import plotext as plt

    base = session.baseline.history
    curves = [("train", base.train_loss), ("test", base.test_loss)]
    curves += [(f"{t.label} train", t.run.history.train_loss) for t in session.twins[:3]]
    series = [(label, *_sampled(values)) for label, values in curves if values]
    series = [s for s in series if s[1]]
    if not series:
        return None
    ys = [v for _, _, y in series for v in y]
    log = min(ys) > 0 and max(ys) / min(ys) > 100
    plt.clear_figure()
    for (label, x, y), marker in zip(series, ("braille", "dot", "+", "x", "o"), strict=False):
        plt.plot(x, y, label=label, marker=marker)
    plt.plotsize(*size)
    plt.theme("clear")
    plt.xlabel("epoch")
    last = max(x[-1] for _, x, _ in series)
    step = _nice_step(last / 4)
    xticks = list(range(0, last + 1, step)) if last >= 4 else list(range(last + 1))
    plt.xticks(xticks, [str(t) for t in xticks])
    if log:
        plt.yscale("log")
        low, high = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
        ticks = [10.0**k for k in range(low, high + 1) if min(ys) <= 10.0**k <= max(ys)]
        plt.yticks(ticks, [f"{t:g}" for t in ticks])
    plt.title("loss" + (" (log scale)" if log else ""))
    return str(plt.uncolorize(plt.build()))


def summary(
    session: Session,
    metrics: Mapping[str, float],
    outcomes: Sequence[Outcome],
    *,
    elapsed: float | None = None,
) -> RenderableType:
    """Everything a person reads after `tui-nn run`, as one Rich renderable."""
    scenario = session.scenario
    took = f" in {elapsed:.1f} s" if elapsed is not None else ""
    about = scenario.title or scenario.description.strip().split("\n")[0][:70]
    header = Text(
        f"{scenario.name}: {about}".rstrip(": ")
        + f"\ntrained {session.epoch} epochs (seed {scenario.training.seed}){took}",
        style="bold",
    )
    parts: list[RenderableType] = [header, Text(""), runs_table(session)]
    if scenario.probes:
        parts += [Text(""), probes_table(session)]
    if session.twins:
        parts += [Text(""), twins_table(session)]
    table = metrics_table(metrics)
    if table is not None:
        parts += [Text(""), table]
    parts += [Text(""), Text("Decision boundary (baseline)", style="bold")]
    parts.append(Text(boundary_text(session), no_wrap=True, overflow="crop"))
    chart = loss_chart(session)
    if chart is not None:
        parts += [Text(""), Text(chart, no_wrap=True, overflow="crop")]
    if outcomes:
        parts += [Text(""), Text("Expectations", style="bold")]
        parts += [Text(outcome_line(o), style="green" if o.passed else "red") for o in outcomes]
    return Group(*parts)
