"""The loss chart with axes, over the trainer (which keeps training and feeding it).

plotext draws it; it is imported with this module, which the trainer loads the first time
`c` is pressed, so starting the trainer does not pay for it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual_plotext import PlotextPlot

from engine.snapshot import Snapshot
from tui_nn.story import clean
from tui_nn.widgets.curve_plot import Curve
from tui_nn.widgets.loss_panel import CHART_POINTS, epoch_ticks, log_ticks, loss_curves, thin


class LossChart(PlotextPlot):
    """The same curves as the Loss panel, with axes (plotext), for the `c` chart."""

    DEFAULT_CSS = """
    LossChart {
        height: 1fr;
        min-height: 5;
    }
    """

    def __init__(self, *, glyphs: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.glyphs = glyphs
        """ASCII mode: series told apart by marker instead of colour."""
        self._key: Hashable = None
        self.curves: list[Curve] = []
        """The curves last plotted."""

    def show(self, snapshot: Snapshot) -> None:
        """Plot this snapshot's curves, unless they are the ones already plotted."""
        key = (snapshot.revision, self.glyphs, self.app.theme)
        if key == self._key:
            return
        self._key = key
        self.curves = loss_curves(snapshot, self.app.theme_variables)
        self._replot()

    def _replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("loss (log scale)")
        plt.xlabel("epoch")
        low, high, last = math.inf, -math.inf, 0.0
        markers = ("*", "+", "o", "x", "#", "%")
        for i, curve in enumerate(reversed(self.curves)):
            xs, ys = thin(curve.x, curve.y, CHART_POINTS)
            kept = [(x, math.log10(y)) for x, y in zip(xs, ys, strict=True) if y > 0]
            if not kept:
                continue
            x, y = zip(*kept, strict=True)
            low, high, last = min(low, *y), max(high, *y), max(last, x[-1])
            style = (
                {"marker": markers[i % len(markers)]}
                if self.glyphs
                else {"marker": "braille", "color": curve.colour.get_truecolor()}
            )
            plt.plot(list(x), list(y), label=clean(curve.label), **style)
        if math.isfinite(low):
            plt.yticks(*log_ticks(low, high))
            ticks = epoch_ticks(last)
            plt.xticks([float(t) for t in ticks], [f"{t:,}" for t in ticks])
        self.refresh()


class LossChartScreen(ModalScreen[None]):
    """A large loss chart; the main screen hands it every snapshot while it is open."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="chart.close"),
        Binding("c", "close", "Close", show=False, id="chart.close_c"),
        Binding("q", "close", "Close", show=False, id="chart.close_q"),
    ]

    def __init__(self, *, glyphs: bool = False) -> None:
        super().__init__(classes="dialog-screen")
        self.chart = LossChart(glyphs=glyphs, id="loss-chart")
        """The chart widget."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog chart-dialog") as box:
            box.border_title = "Loss"
            box.border_subtitle = "Esc closes"
            yield self.chart

    def show(self, snapshot: Snapshot) -> None:
        """Plot this snapshot's loss history."""
        self.chart.show(snapshot)

    show_snapshot = show
    """What the trainer calls with every new snapshot while the chart is open."""

    def action_close(self) -> None:
        self.dismiss(None)
