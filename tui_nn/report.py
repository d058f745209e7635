"""What a headless run reports: a JSON document for scripts, and a summary for people.

Both are drawn from one ``Snapshot`` and nothing else. The summary tells the scenario's story
the way the trainer does: its description, each experiment's figures in the panel's words,
the moments reached, the map the scenario opens on (the poisoned run, say, or where two runs
disagree) drawn in characters, and every run's loss curve with axes. It fits a terminal 80
columns wide.
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

from engine.experiments.expectations import Outcome
from engine.files import write_atomic
from engine.snapshot import RunView, Snapshot
from engine.twins import DIFFERENCE
from tui_nn.plane import (
    ASCII_ARROW_HEADS,
    ASCII_SHAFTS,
    experiment_marks,
    own_marks,
    panes,
    panes_legend,
    rasterise,
)
from tui_nn.story import clean, experiment_text

BOUNDARY_SIZE = (60, 20)
"""Characters across and down of the text decision boundary."""
BOUNDARY_GRID = (BOUNDARY_SIZE[0], 2 * BOUNDARY_SIZE[1])
"""The grid a snapshot for the summary should carry (one pixel per half character)."""
CHART_SIZE = (76, 16)
"""Columns and rows of the loss chart."""
CHART_POINTS = 400
"""Most points per curve handed to the chart (longer histories are sampled evenly)."""
TEXT_WIDTH = 78
"""Width the summary's paragraphs are wrapped to."""


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


def _figures(run: RunView) -> dict[str, dict[str, float]]:
    return {
        "train": {"loss": run.train_loss, "accuracy": run.train_accuracy},
        "test": {"loss": run.test_loss, "accuracy": run.test_accuracy},
    }


def build(
    snapshot: Snapshot, outcomes: Iterable[Outcome], weights_sha256: str | None = None
) -> dict[str, Any]:
    """The JSON report of a trained session.

    Args:
        snapshot: The session after training.
        outcomes: The checked expectations.
        weights_sha256: Hash of the saved weights file, when one was saved.

    Returns:
        Plain data, NaN still in place (``write_json`` turns it into null).
    """
    base = snapshot.baseline
    return {
        "scenario": snapshot.scenario,
        "title": snapshot.title,
        "epochs": snapshot.epoch,
        "seed": snapshot.seed,
        "dtype": base.dtype,
        "learning_rate": snapshot.learning_rate,
        **_figures(base),
        "predictions": [_outputs(row) for row in base.train_outputs.tolist()],
        "labels": snapshot.y_train.tolist(),
        "probes": [
            {"label": p.label, "point": list(p.point), "output": _outputs(p.outputs.tolist())}
            for p in snapshot.probes
        ],
        "runs": [
            {"key": r.key, "label": r.label, "dtype": r.dtype, **_figures(r), "blowup": r.blowup}
            for r in snapshot.runs
        ],
        "twins": [
            {
                "key": d.key,
                "label": d.label,
                "max_abs_dw": float(d.max_abs_dw[-1]) if len(d.max_abs_dw) else 0.0,
                "loss_difference": float(d.loss_difference[-1]) if len(d.loss_difference) else 0.0,
                "first_divergence_epoch": d.first_divergence,
                "per_epoch": {
                    "max_abs_dw": d.max_abs_dw.tolist(),
                    "loss_difference": d.loss_difference.tolist(),
                },
                "disagreement": {
                    "epochs": d.disagreement_epochs.tolist(),
                    "values": d.disagreement.tolist(),
                },
            }
            for d in snapshot.drifts
        ],
        "experiments": {
            view.name: {
                "title": view.title,
                "headline": view.headline,
                "figures": {
                    f.key: {"value": f.value, "text": f.text, "meaning": f.meaning}
                    for f in view.figures
                },
                **(
                    {"histogram": {str(c): list(h) for c, h in view.histogram.items()}}
                    if view.histogram
                    else {}
                ),
            }
            for view in snapshot.experiments
        },
        "moments": [
            {"epoch": m.epoch, "when": m.trigger, "caption": m.caption} for m in snapshot.moments
        ],
        "history": {
            "epochs": base.history.epochs.tolist(),
            "train_loss": base.history.train_loss.tolist(),
            "test_loss": base.history.test_loss.tolist() if len(snapshot.x_test) else [],
        },
        "metrics": dict(snapshot.metrics),
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
        "blowup": snapshot.blowup,
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


def blowup_warning(snapshot: Snapshot) -> str:
    """One line saying where training produced NaN/inf and what to try."""
    rate = snapshot.learning_rate
    return (
        f"warning: training blew up (NaN or inf in {snapshot.blowup}); "
        f"try a lower training.learning_rate than {rate:g}, e.g. {rate / 10:g}"
    )


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 1e-3 and value else f"{value:.{digits}f}"


def runs_table(snapshot: Snapshot) -> Table:
    """Loss and accuracy of the baseline and each twin, with their dtypes."""
    table = Table(title="Runs", title_justify="left", box=None, pad_edge=False)
    for name in ("run", "dtype", "train loss", "train acc", "test loss", "test acc"):
        table.add_column(name, justify="left" if name in ("run", "dtype") else "right")
    for run in snapshot.runs:
        table.add_row(
            run.label,
            run.dtype,
            _number(run.train_loss),
            _number(run.train_accuracy, 3),
            _number(run.test_loss),
            _number(run.test_accuracy, 3),
        )
    return table


def probes_table(snapshot: Snapshot) -> Table:
    """The baseline's output at each probe point."""
    table = Table(title="Probes", title_justify="left", box=None, pad_edge=False)
    for name in ("probe", "point", "output"):
        table.add_column(name, justify="right" if name == "output" else "left")
    for p in snapshot.probes:
        shown = " ".join(f"{v:.6g}" for v in p.outputs.tolist())
        table.add_row(clean(p.label), f"({p.point[0]:g}, {p.point[1]:g})", shown)
    return table


def view_title(snapshot: Snapshot) -> str:
    """What the summary's map shows: the scenario's opening view."""
    if snapshot.view == DIFFERENCE and len(snapshot.runs) > 1:
        a, b = (snapshot.runs[i].label for i in snapshot.compare)
        return f"Where {a} and {b} disagree"
    index = snapshot.run_index(snapshot.view) if snapshot.view else 0
    run = snapshot.runs[index or 0]
    return f"Decision boundary ({run.label})"


def boundary_text(snapshot: Snapshot, size: tuple[int, int] = BOUNDARY_SIZE) -> str:
    """The scenario's opening view of the plane in plain characters, framed, with a legend.

    Several panes (a trigger's two slices, a copy beside its victim) are framed side by side.
    The snapshot must carry a grid for the runs shown (``BOUNDARY_GRID``).
    """
    width, height = size
    difference = snapshot.view == DIFFERENCE and len(snapshot.runs) > 1
    first = snapshot.compare[0] if difference else (snapshot.run_index(snapshot.view) or 0)
    runs = snapshot.compare if difference else (first,)
    shown = panes(snapshot, runs, test=False)
    if not shown:
        return "(no grid in this snapshot)"
    marks = experiment_marks(snapshot, snapshot.runs[first].key)
    k = len(shown)
    pane_width = (width - 3 * (k - 1)) // k
    ext = shown[0].grid.extent
    top, bottom = f"{ext.y_max:g}", f"{ext.y_min:g}"
    margin = max(len(top), len(bottom))
    blocks = []
    rasters = []
    for i, pane in enumerate(shown):
        raster = rasterise(
            pane.grid,
            pane_width,
            height,
            n_outputs=snapshot.baseline.layers[-1].n_out,
            points=pane.points,
            other=pane.other,
            marks=marks if i == 0 else own_marks(marks),
        )
        rasters.append(raster)
        rows = [[raster.glyph(r, c) for c in range(pane_width)] for r in range(height)]
        for (r, c), (kind, label) in raster.points.items():
            rows[r][c] = _ascii_point(kind, label)
        frame = "+" + "-" * pane_width + "+"
        blocks.append([pane.label.center(pane_width + 2), frame])
        blocks[-1] += ["|" + "".join(cells) + "|" for cells in rows]
        blocks[-1].append(frame)
    labelled = any(p.label for p in shown)
    lines = []
    for i in range(0 if labelled else 1, height + 3):
        edge = top if i == 1 else bottom if i == height + 2 else ""
        lines.append(f"{edge:>{margin}} " + " ".join(block[i] for block in blocks))
    left, right = f"{ext.x_min:g}", f"{ext.x_max:g}"
    axis = f"{left}{right:>{pane_width - len(left)}}"
    lines.append(f"{'':>{margin}}  " + "   ".join(axis for _ in shown).rstrip())
    items = panes_legend(snapshot, rasters, difference=difference)
    words = []
    for item in items:
        if item.key == "class":
            words.append(f"{item.text}: {'.' + item.ascii} (unsure to sure)")
        elif item.key == "train":
            words.append("0-9: training points, as their class")
        elif item.key not in ("shade", "probe"):
            words.append(f"{item.ascii}: {item.text}")
    line = ""
    for word in words:
        if line and len(line) + 2 + len(word) > TEXT_WIDTH:
            lines.append(line)
            line = ""
        line = f"{line}  {word}" if line else word
    lines.append(line)
    return "\n".join(lines)


def _ascii_point(kind: str, label: int) -> str:
    """A point of the text map: its class digit, or the glyph of its kind."""
    if kind == "head":
        return ASCII_ARROW_HEADS[label % 8]
    if kind == "shaft":
        return ASCII_SHAFTS[label % 4]
    return {"flipped": "!", "mark": "*", "cross": "&", "target": "$"}.get(kind, str(label % 10))


def _sampled(x: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
    if len(y) > CHART_POINTS:
        keep = np.unique(np.linspace(0, len(y) - 1, CHART_POINTS).round().astype(int))
        x, y = x[keep], y[keep]
    finite = np.isfinite(y)
    return x[finite].tolist(), y[finite].tolist()


def _nice_step(raw: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is at least ``raw``."""
    magnitude = 1
    while True:
        for mantissa in (1, 2, 5):
            if mantissa * magnitude >= raw:
                return mantissa * magnitude
        magnitude *= 10


def loss_chart(snapshot: Snapshot, size: tuple[int, int] = CHART_SIZE) -> str | None:
    """Every run's training loss and the baseline's test loss with axes, or None.

    The y axis is logarithmic when the losses span more than two decades.
    """
    import plotext as plt

    base = snapshot.baseline.history
    curves = [(f"{snapshot.runs[0].label} train", base.epochs, base.train_loss)]
    if len(snapshot.x_test):
        curves.append((f"{snapshot.runs[0].label} test", base.epochs, base.test_loss))
    curves += [
        (f"{r.label} train", r.history.epochs, r.history.train_loss) for r in snapshot.runs[1:]
    ]
    series = [(label, *_sampled(x, y)) for label, x, y in curves if len(y)]
    series = [s for s in series if s[1]]
    if not series:
        return None
    ys = [v for _, _, y in series for v in y]
    log = min(ys) > 0 and max(ys) / min(ys) > 100
    plt.clear_figure()
    markers = ("braille", "dot", "+", "x", "o", "*")
    for (label, x, y), marker in zip(series, markers, strict=False):
        plt.plot(x, y, label=clean(label), marker=marker)
    plt.plotsize(*size)
    plt.theme("clear")
    plt.xlabel("epoch")
    last = int(max(x[-1] for _, x, _ in series))
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


def _paragraph(text: str, width: int = TEXT_WIDTH) -> str:
    """Join a TOML multi-line string's lines and wrap it to ``width``."""
    words = clean(text).split()
    lines, line = [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line] if line else lines)


def summary(
    snapshot: Snapshot, outcomes: Sequence[Outcome], *, elapsed: float | None = None
) -> RenderableType:
    """Everything a person reads after `tui-nn run`, as one Rich renderable."""
    took = f" in {elapsed:.1f} s" if elapsed is not None else ""
    about = snapshot.title if snapshot.title != snapshot.scenario else ""
    header = Text(
        clean(f"{snapshot.scenario}: {about}".rstrip(": "))
        + f"\ntrained {snapshot.epoch} epochs (seed {snapshot.seed}){took}",
        style="bold",
    )
    parts: list[RenderableType] = [header]
    if snapshot.description:
        parts += [Text(""), Text(_paragraph(snapshot.description))]
    parts += [Text(""), runs_table(snapshot)]
    if snapshot.probes:
        parts += [Text(""), probes_table(snapshot)]
    for view in snapshot.experiments:
        parts += [Text(""), experiment_text(view, TEXT_WIDTH, glyphs=True, wrap=True)]
    if snapshot.moments:
        parts += [Text(""), Text("Moments", style="bold")]
        for m in snapshot.moments:
            why = "" if m.trigger == f"epoch {m.epoch}" else f" ({m.trigger})"
            parts.append(Text(_paragraph(f"epoch {m.epoch}{why}: {m.caption}")))
    parts += [Text(""), Text(clean(view_title(snapshot)), style="bold")]
    parts.append(Text(boundary_text(snapshot), no_wrap=True, overflow="crop"))
    chart = loss_chart(snapshot)
    if chart is not None:
        parts += [Text(""), Text(chart, no_wrap=True, overflow="crop")]
    if outcomes:
        parts += [Text(""), Text("Expectations", style="bold")]
        parts += [Text(outcome_line(o), style="green" if o.passed else "red") for o in outcomes]
    return Group(*parts)
