"""Small modal dialogs: an error report, and the path to save weights to."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ErrorDialog(ModalScreen[None]):
    """A title and one line per problem; Enter or Escape closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close", id="dialog.close"),
        Binding("enter", "dismiss", "Close", show=False, id="dialog.close_enter"),
    ]

    def __init__(self, title: str, lines: list[str]) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        """What went wrong, in a few words."""
        self.lines = lines
        """The details, one problem per line."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error-dialog") as box:
            box.border_title = self.title_text
            with VerticalScroll(classes="dialog-body"):
                yield Static("\n".join(self.lines), id="error-lines", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)


class SaveDialog(ModalScreen[Path | None]):
    """Ask where to save the weights, offering a default file name."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel")
    ]

    def __init__(self, default: str) -> None:
        super().__init__(classes="dialog-screen")
        self.default = default
        """The file name offered (in the current folder)."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog save-dialog") as box:
            box.border_title = "Save weights (safetensors)"
            yield Label("File:")
            yield Input(self.default, id="save-path", select_on_focus=False)
            yield Static("Enter saves, Escape cancels.", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.dismiss(Path(text).expanduser() if text else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
