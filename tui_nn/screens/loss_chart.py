"""The loss chart with axes, over the trainer (which keeps training and feeding it)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen

from engine.snapshot import Snapshot
from tui_nn.widgets.loss_panel import LossChart


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

    def action_close(self) -> None:
        self.dismiss(None)
