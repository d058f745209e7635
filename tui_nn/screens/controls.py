"""Every control of the run in one dialog: its value, and whether changing it starts again."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from engine import controls

if TYPE_CHECKING:
    from tui_nn.screens.lab import LabScreen


class ControlsScreen(ModalScreen[None]):
    """Up and down pick a control, left and right change it; the trainer applies it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="controls.close"),
        Binding("C", "close", "Close", show=False, id="controls.close_c"),
        Binding("up,k", "move(-1)", "Up", id="controls.up", priority=True),
        Binding("down,j", "move(1)", "Down", id="controls.down", priority=True),
        Binding("left,h", "change(-1)", "Less", id="controls.less", priority=True),
        Binding("right,l,enter", "change(1)", "More", id="controls.more", priority=True),
    ]

    def __init__(self, lab: LabScreen) -> None:
        super().__init__(classes="dialog-screen")
        self.lab = lab
        """The trainer the changes go to."""
        self.row = 0
        """The control picked."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog controls-dialog") as box:
            box.border_title = "Controls"
            box.border_subtitle = "↑↓ pick · ←→ change · Esc closes"
            yield Static(id="controls-table")
            yield Static(
                "Live: applies at the next epoch, training goes on. New run: the network "
                "starts again at epoch 0. Twins follow every change, or the screen says why "
                "they cannot.",
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        self.refresh_table()
        self.set_interval(0.25, self.refresh_table)

    def rows(self) -> list[controls.Control]:
        session = self.lab.session
        return controls.describe_controls(session.scenario, session.train_config())

    def refresh_table(self) -> None:
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(no_wrap=True)
        for i, control in enumerate(self.rows()):
            style = Style(reverse=True) if i == self.row else Style()
            table.add_row(
                control.label,
                control.value,
                "new run" if control.resets else "live",
                style=style,
            )
        self.query_one("#controls-table", Static).update(table)

    def action_move(self, step: int) -> None:
        self.row = (self.row + step) % len(self.rows())
        self.refresh_table()

    async def action_change(self, step: int) -> None:
        name = self.rows()[self.row].name
        await self.lab.action_control(name, step)
        self.refresh_table()

    def action_close(self) -> None:
        self.dismiss(None)
