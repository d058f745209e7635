"""The keys, generated from the live bindings and their tooltips (so remapped keys show)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

NOTES = (
    "Arrows and h j k l always move the probe on the map; n trains one epoch and Right does "
    "not, so exploring the plane never trains by accident. The probe reads the exact output of "
    "the run on the map at the marked point. Training runs in the background: keys answer "
    "while it runs. It pauses by itself at the scenario's moments, at its last epoch, and on "
    "a NaN or inf, and says why above the panels. Lower-case keys look and edit; capitals "
    "change the network or its training: , . O M R B apply at the next epoch, the others "
    "start the run again and say so. [ ] { } go back and forth in time; training from the "
    "past drops the old future."
)


GROUPS = {
    "trainer": "Training and the screen",
    "app": "Training and the screen",
    "pane": "Panels",
    "experiment": "Panels",
    "probe": "The probe",
    "view": "The map",
    "control": "Live controls",
    "data": "Editing the data",
    "select": "Neurons and weights",
    "time": "Back in time",
    "lab": "The lab",
}
"""The help screen's heading for each binding id's first part, in the order shown."""
OTHER = "Other keys"


class HelpScreen(ModalScreen[None]):
    """Every key of the trainer, with what it does."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", show=False, id="help.close_question"),
        Binding("q", "close", "Close", show=False, id="help.close_q"),
    ]

    def __init__(self, keys: list[tuple[str, str, str]]) -> None:
        super().__init__(classes="dialog-screen")
        self.keys = keys
        """(heading, key, description) rows, in the order shown."""

    def compose(self) -> ComposeResult:
        parts: list[Any] = []
        width = max((len(key) for _, key, _ in self.keys), default=0)
        table: Table | None = None
        heading = None
        for group, key, description in self.keys:
            if group != heading:
                heading = group
                parts.append(Text(("\n" if parts else "") + group, style="bold underline"))
                table = Table.grid(padding=(0, 2))
                table.add_column(style="bold", no_wrap=True, min_width=width)
                table.add_column()
                parts.append(table)
            assert table is not None
            table.add_row(key, description)
        with Vertical(classes="dialog help-dialog") as box:
            box.border_title = "tui-nn keys"
            box.border_subtitle = "↑ ↓ PgDn scroll · Esc closes"
            with VerticalScroll(classes="dialog-body"):
                yield Static(Group(*parts), id="help-keys")
                yield Static(Text(NOTES), classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)


def help_rows(screen: Screen[Any]) -> list[tuple[str, str, str]]:
    """(heading, keys, description) for the active bindings of a screen, as the keymap has
    them now, grouped under the headings of ``GROUPS``.

    The description is the binding's tooltip (its short description when it has none).
    """
    rows: dict[str, tuple[list[str], str]] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if binding.id is None and binding.action not in ("quit", "app.quit", "command_palette"):
            continue  # focus movement and copying: Textual's own, not the trainer's
        name = binding.id or binding.action
        text = binding.tooltip or binding.description or binding.action
        keys, _ = rows.setdefault(name, ([], text))
        keys.append(screen.app.get_key_display(binding.with_key(key)))
    order = list(dict.fromkeys([*GROUPS.values(), OTHER]))
    grouped = [
        (GROUPS.get(name.partition(".")[0], OTHER), " ".join(keys), description)
        for name, (keys, description) in rows.items()
    ]
    return sorted(grouped, key=lambda row: order.index(row[0]))  # stable: binding order
