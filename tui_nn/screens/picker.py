"""Choose a scenario: the shipped ones and those in the current folder, with descriptions."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from engine.text import neutralise
from tui_nn.catalog import Entry
from tui_nn.story import plain


def _prompt(entry: Entry) -> Text:
    text = Text(neutralise(entry.name, newlines=False), "bold")
    if entry.error:
        text.append(f"\n  invalid: {neutralise(entry.error, newlines=False)}", "red")
    elif entry.description:
        text.append(f"\n  {neutralise(entry.description, newlines=False)}", "dim")
    return text


class PickerScreen(ModalScreen[Path | None]):
    """A list of scenarios; Enter opens the highlighted one, Escape keeps the current run."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel")
    ]

    def __init__(self, entries: list[Entry], current: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.entries = entries
        """The scenarios offered, in order."""
        self.current = current
        """Name of the scenario now open (highlighted first)."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog picker-dialog") as box:
            box.border_title = "Open a scenario"
            box.border_subtitle = "Enter opens, Esc cancels"
            yield OptionList(
                *(Option(_prompt(e), id=str(i)) for i, e in enumerate(self.entries)),
                id="scenarios",
            )
            yield Static("", id="scenario-path", classes="dialog-hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        names = [e.name for e in self.entries]
        if self.current in names:
            options.highlighted = names.index(self.current)
        options.focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        entry = self.entries[event.option_index]
        self.query_one("#scenario-path", Static).update(plain(str(entry.path)))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.entries[event.option_index].path)

    def action_cancel(self) -> None:
        self.dismiss(None)
