"""Loss over the epochs, every run at once, as a compact panel.

The panel and the `c` chart (``tui_nn.screens.loss_chart``) draw the same curves in the same
colours (``loss_curves``): each run's training loss in its run colour, and the baseline's test
loss in a muted version of its colour.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from engine.snapshot import Snapshot
from tui_nn.story import clean
from tui_nn.widgets.curve_plot import Curve, CurvePlot, legend_segments
from tui_nn.widgets.palette import run_colours
from tui_nn.widgets.panel import Panel

CHART_POINTS = 500
"""Most points per series the chart draws; longer histories are thinned evenly."""


def _muted(colour: Color) -> Color:
    r, g, b = colour.get_truecolor()
    return Color.from_rgb((r + 128) // 2.2, (g + 128) // 2.2, (b + 128) // 2.2)


def loss_curves(snapshot: Snapshot, variables: Mapping[str, str]) -> list[Curve]:
    """Every run's training loss and the baseline's test loss, baseline's train curve last
    (drawn on top)."""
    colours = run_colours(variables, len(snapshot.runs))
    curves = []
    base = snapshot.baseline
    single = len(snapshot.runs) == 1
    if len(snapshot.x_test) and len(base.history.test_loss):
        curves.append(
            Curve(
                "test" if single else f"{base.label} test",
                base.history.epochs.astype(np.float64),
                base.history.test_loss,
                _muted(colours[0]),
            )
        )
    for run, colour in reversed(list(zip(snapshot.runs, colours, strict=True))):
        label = "train" if single else run.label
        curves.append(
            Curve(label, run.history.epochs.astype(np.float64), run.history.train_loss, colour)
        )
    return curves


def thin(x: np.ndarray, y: np.ndarray, n: int) -> tuple[list[float], list[float]]:
    """At most ``n`` evenly spaced points, first and last kept, non-finite ones dropped."""
    if len(x) > n:
        keep = np.unique(np.linspace(0, len(x) - 1, max(2, n)).round().astype(np.int64))
        x, y = x[keep], y[keep]
    finite = np.isfinite(y)
    return x[finite].tolist(), y[finite].tolist()


def log_ticks(low: float, high: float, count: int = 5) -> tuple[list[float], list[str]]:
    """Tick positions (log10 values) and their labels (the values) for a log-scaled axis."""
    if not high > low:
        return [low], [f"{10**low:.3g}"]
    positions = np.linspace(low, high, count).tolist()
    return positions, [f"{10**p:.2g}" for p in positions]


def epoch_ticks(last: float, count: int = 5) -> list[int]:
    """Whole-number epoch ticks from 0 to about ``last``."""
    if last <= 0:
        return [0]
    raw = last / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return list(range(0, int(last) + 1, int(max(1, step))))


class LossPanel(Panel):
    """Training loss of every run and test loss of the baseline, log-scaled, as curves."""

    DEFAULT_CSS = """
    LossPanel {
        height: 1fr;
        min-height: 3;
        layout: vertical;
    }
    LossPanel > #loss-legend {
        height: auto;
        max-height: 2;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="loss-legend")
        yield CurvePlot(id="loss-plot")

    def view_key(self) -> Hashable:
        return (self.glyphs, self.app.theme)

    def draw(self, snapshot: Snapshot) -> None:
        if not self.is_mounted:
            return
        curves = loss_curves(snapshot, self.app.theme_variables)
        plot = self.query_one(CurvePlot)
        marker = float(snapshot.epoch) if snapshot.in_past else None
        plot.plot(
            curves,
            log=True,
            glyphs=self.glyphs,
            key=(snapshot.revision, self.view_key()),
            marker=marker,
        )
        legend = Text(no_wrap=False)
        for text, style in legend_segments(list(reversed(curves)), self.glyphs, Style()):
            legend.append(clean(text), style)
        if snapshot.in_past:
            legend.append(f"│ epoch {snapshot.epoch:,} of {snapshot.newest:,}", Style(bold=True))
        self.query_one("#loss-legend", Static).update(legend)

    def on_mount(self) -> None:
        self.redraw()
