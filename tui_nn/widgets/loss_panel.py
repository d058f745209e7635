"""Loss over the epochs: compact sparklines (LossPanel) and a chart with axes (LossChart)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import Resize
from textual.reactive import reactive
from textual.widgets import Sparkline, Static
from textual_plotext import PlotextPlot

from engine.snapshot import RunView, Snapshot
from tui_nn.widgets.architecture_view import snapshot_key

CHART_POINTS = 500
"""Most points per series the chart draws; longer histories are thinned evenly."""


def finite(values: Sequence[float]) -> list[float]:
    """The values that are neither NaN nor infinite (a blown-up run ends in NaN)."""
    return [v for v in values if math.isfinite(v)]


def downsample(values: Sequence[float], n: int) -> tuple[float, ...]:
    """Shrink a series to at most ``n`` values by averaging consecutive buckets.

    Bucket i covers values[len * i // n : len * (i + 1) // n], so every value counts once and
    the last bucket ends with the latest value.

    Args:
        values: The series, oldest first.
        n: The most values wanted (at least 1 is used).

    Returns:
        The series itself when it is short enough, else ``n`` bucket means.
    """
    n = max(1, n)
    if len(values) <= n:
        return tuple(float(v) for v in values)
    edges = [len(values) * i // n for i in range(n + 1)]
    array = np.asarray(values, dtype=np.float64)
    return tuple(float(array[a:b].mean()) for a, b in itertools.pairwise(edges))


def thin(values: Sequence[float], n: int) -> tuple[list[int], list[float]]:
    """At most ``n`` evenly spaced (epoch, value) points, first and last kept; epochs from 1."""
    if len(values) <= n:
        return list(range(1, len(values) + 1)), [float(v) for v in values]
    index = np.unique(np.linspace(0, len(values) - 1, max(2, n)).round().astype(np.int64))
    return [int(i) + 1 for i in index], [float(values[int(i)]) for i in index]


def _percent(value: float) -> str:
    return "  --" if not math.isfinite(value) else f"{value:5.1%}"


def _loss(value: float) -> str:
    return "--" if not math.isfinite(value) else f"{value:.4g}"


def _history_key(snapshot: Snapshot) -> tuple[object, ...]:
    run = snapshot.baseline
    return (*snapshot_key(snapshot), len(run.loss_history), len(run.test_loss_history))


def log_ticks(low: float, high: float, count: int = 5) -> tuple[list[float], list[str]]:
    """Tick positions (log10 values) and their labels (the values) for a log-scaled axis."""
    if not high > low:
        return [low], [f"{10**low:.3g}"]
    positions = np.linspace(low, high, count).tolist()
    return positions, [f"{10**p:.2g}" for p in positions]


class LossPanel(Vertical):
    """Live train and test loss of the baseline as sparklines, with current loss and accuracy.

    Each history is averaged down to the sparkline's width, so a bar is a stretch of epochs.

    Args:
        glyphs: Glyph mode (kept for the common widget interface; sparklines need no colour).
        **kwargs: The usual widget arguments (id, classes, ...).
    """

    DEFAULT_CSS = """
    LossPanel {
        height: 1fr;
        min-height: 2;
    }
    LossPanel > .loss-label {
        height: 1;
        width: 1fr;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    LossPanel > Sparkline {
        height: 1fr;
        min-height: 1;
    }
    LossPanel > #loss-test-spark > .sparkline--max-color {
        color: $accent;
    }
    LossPanel > #loss-test-spark > .sparkline--min-color {
        color: $accent 30%;
    }
    """

    glyphs = reactive(False)
    """Glyph mode (no colour); sparklines read by bar height, so nothing changes."""

    def __init__(self, *, glyphs: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.set_reactive(LossPanel.glyphs, glyphs)
        self._run: RunView | None = None
        self._key: tuple[object, ...] | None = None
        self._width = -1

    def compose(self) -> ComposeResult:
        yield Static("train loss: no epochs yet", id="loss-train-label", classes="loss-label")
        yield Sparkline((), id="loss-train-spark")
        yield Static("test loss", id="loss-test-label", classes="loss-label")
        yield Sparkline((), id="loss-test-spark")

    def show(self, snapshot: Snapshot) -> None:
        """Show the baseline's loss history, unless it is the one already shown."""
        run = snapshot.baseline
        key = _history_key(snapshot)
        if key == self._key:
            return
        self._key = key
        self._run = run
        self._redraw()

    def on_mount(self) -> None:
        self._redraw()

    def on_resize(self, event: Resize) -> None:
        if event.size.width != self._width:
            self._redraw()

    def _redraw(self) -> None:
        run = self._run
        if run is None or not self.is_mounted:
            return
        self._width = self.size.width
        bars = self.query_one("#loss-train-spark", Sparkline).size.width
        train, test = finite(run.loss_history), finite(run.test_loss_history)
        bars = bars or max(len(train), 1)
        self.query_one("#loss-train-spark", Sparkline).data = downsample(train, bars)
        self.query_one("#loss-test-spark", Sparkline).data = downsample(test, bars)
        self.query_one("#loss-train-label", Static).update(
            f"train loss {_loss(run.train_loss)}  acc {_percent(run.train_accuracy)}"
            f"  epoch {run.epoch}"
        )
        if run.test_loss_history:
            label = f"test  loss {_loss(run.test_loss)}  acc {_percent(run.test_accuracy)}"
        else:
            label = "test  loss: no test split"
        if run.blowup:
            label += f"  NaN: {run.blowup}"
        self.query_one("#loss-test-label", Static).update(label)


class LossChart(PlotextPlot):
    """Train and test loss of the baseline against the epoch, log-scaled, with axes.

    Args:
        glyphs: Glyph mode: series told apart by marker instead of colour.
        **kwargs: The usual widget arguments (id, classes, ...).
    """

    DEFAULT_CSS = """
    LossChart {
        height: 1fr;
        min-height: 5;
    }
    """

    glyphs = reactive(False, init=False)
    """Glyph mode: ASCII markers, no colour."""

    def __init__(self, *, glyphs: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.set_reactive(LossChart.glyphs, glyphs)
        self._key: tuple[object, ...] | None = None
        self._run: RunView | None = None

    def show(self, snapshot: Snapshot) -> None:
        """Plot the baseline's loss history, unless it is the one already plotted."""
        run = snapshot.baseline
        key = _history_key(snapshot)
        if key == self._key:
            return
        self._key = key
        self._run = run
        self._replot()

    def watch_glyphs(self) -> None:
        self._replot()

    def _replot(self) -> None:
        run = self._run
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("loss (log scale)")
        plt.xlabel("epoch")
        if run is not None:
            # plotext's own log scale re-applies log10 on every build, so plot log10 values
            # on a linear axis and label the ticks with the losses themselves
            low, high = math.inf, -math.inf
            for name, history, marker, color in (
                ("train", run.loss_history, "o" if self.glyphs else "braille", "orange"),
                ("test", run.test_loss_history, "x" if self.glyphs else "braille", "cyan"),
            ):
                epochs, values = thin(history, CHART_POINTS)
                kept = [
                    (e, math.log10(v))
                    for e, v in zip(epochs, values, strict=True)
                    if math.isfinite(v) and v > 0
                ]
                if not kept:
                    continue
                xs, ys = zip(*kept, strict=True)
                low, high = min(low, *ys), max(high, *ys)
                color_args = {} if self.glyphs else {"color": color}
                plt.plot(list(xs), list(ys), label=name, marker=marker, **color_args)
            if math.isfinite(low):
                plt.yticks(*log_ticks(low, high))
        self.refresh()
