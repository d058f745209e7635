"""Small modal dialogs: an error report, and the path to save weights to."""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from engine.text import neutralise
from tui_nn.story import plain


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
            box.border_title = plain(self.title_text)
            with VerticalScroll(classes="dialog-body"):
                lines = "\n".join(neutralise(line, newlines=False) for line in self.lines)
                yield Static(Text(lines), id="error-lines")
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


def parse_point(text: str) -> tuple[float, float]:
    """'4, 4' or '4 4' or '(4, 4)' -> (4.0, 4.0).

    Raises:
        ValueError: With a message saying what was expected.
    """
    parts = text.strip().strip("()").replace(",", " ").split()
    if len(parts) != 2:
        raise ValueError(f"expected two numbers x, y (got {text.strip()!r})")
    try:
        x, y = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"expected two numbers x, y (got {text.strip()!r})") from None
    if not (math.isfinite(x) and math.isfinite(y)) or max(abs(x), abs(y)) > 1e6:
        raise ValueError("expected finite numbers within ±1,000,000")
    return x, y


class GoToDialog(ModalScreen[tuple[float, float] | None]):
    """Ask for a point of the plane to put the probe on."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel")
    ]

    def __init__(self, current: tuple[float, float]) -> None:
        super().__init__(classes="dialog-screen")
        self.current = current
        """Where the probe is now (offered as the starting text)."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog goto-dialog") as box:
            box.border_title = "Put the probe at"
            yield Label("x, y:")
            x, y = self.current
            yield Input(f"{x:.4g}, {y:.4g}", id="goto-point", select_on_focus=True)
            yield Static(
                "Enter moves the probe (zooming out if needed), Escape cancels.",
                id="goto-hint",
                classes="dialog-hint",
            )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            point = parse_point(event.value)
        except ValueError as exc:
            self.query_one("#goto-hint", Static).update(plain(str(exc)))
            return
        self.dismiss(point)

    def action_cancel(self) -> None:
        self.dismiss(None)


def parse_weight_change(text: str) -> tuple[str, float]:
    """'+1e-14' or '-0.5' -> ('nudge', amount); '=0.5' -> ('set', 0.5).

    Raises:
        ValueError: With a message saying what was expected.
    """
    raw = text.strip().replace(" ", "")
    kind = "set" if raw.startswith("=") else "nudge"
    number = raw.removeprefix("=")
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"expected +amount, -amount or =value (got {text.strip()!r})") from None
    if not math.isfinite(value) or abs(value) > 1e6:
        raise ValueError("expected a finite number within ±1,000,000")
    return kind, value


class WeightDialog(ModalScreen[tuple[str, float] | None]):
    """Ask how to change the selected weight: nudge it by an amount, or set it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel")
    ]

    last = "+1e-14"
    """What the dialog offers: the last change typed (the butterfly's nudge at first)."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog goto-dialog") as box:
            box.border_title = "Change the selected weight"
            yield Label("+amount nudges it, =value sets it:")
            yield Input(WeightDialog.last, id="weight-change", select_on_focus=False)
            yield Static(
                "Enter applies it from the next epoch on, Escape cancels.",
                id="weight-hint",
                classes="dialog-hint",
            )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            change = parse_weight_change(event.value)
        except ValueError as exc:
            self.query_one("#weight-hint", Static).update(str(exc))
            return
        WeightDialog.last = event.value.strip()
        self.dismiss(change)

    def action_cancel(self) -> None:
        self.dismiss(None)
