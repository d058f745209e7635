"""The keys, generated from the live bindings (so remapped keys show as remapped)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

KEY_HELP = {
    "trainer.run": "Run or pause continuous training",
    "trainer.step": "Train one epoch (pauses a run first)",
    "trainer.step_block": "Train a block of 100 epochs",
    "trainer.reset": "Reset to the scenario's initial weights, epoch 0",
    "trainer.open": "Open another scenario (shipped, or *.toml here)",
    "trainer.save": "Save the weights (safetensors)",
    "trainer.help": "This help",
    "trainer.quit": "Quit",
    "trainer.faster": "More epochs per frame",
    "trainer.slower": "Fewer epochs per frame",
    "trainer.zoom": "Zoom the plane out: 1x, 4x, 25x, 100x, back",
    "trainer.ascii": "ASCII mode: glyphs instead of colour",
    "trainer.twin": "Twin panel; again for the next twin",
    "trainer.chart": "Loss chart with axes",
    "probe.left": "Move the probe left",
    "probe.right": "Move the probe right",
    "probe.up": "Move the probe up",
    "probe.down": "Move the probe down",
    "pane.boundary": "Tab: decision boundary (narrow terminals)",
    "pane.architecture": "Tab: network",
    "pane.loss": "Tab: loss",
    "pane.neurons": "Tab: hidden neurons",
    "pane.twins": "Tab: twins",
}
"""Longer descriptions for the help screen, by binding id."""

NOTES = (
    "Arrows and h j k l always move the probe on the decision boundary; n trains one epoch "
    "and Right does not, so exploring the plane never trains by accident. The probe reads "
    "the model's exact output at the marked point. Training runs in the background: keys "
    "answer while it runs, and a NaN or inf pauses it and says where it appeared."
)


class HelpScreen(ModalScreen[None]):
    """Every key of the trainer, with what it does."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", show=False, id="help.close_question"),
        Binding("q", "close", "Close", show=False, id="help.close_q"),
    ]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__(classes="dialog-screen")
        self.keys = keys
        """(key, description) rows."""

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, description in self.keys:
            table.add_row(key, description)
        with Vertical(classes="dialog help-dialog") as box:
            box.border_title = "tui-nn keys"
            box.border_subtitle = "Esc closes"
            with VerticalScroll(classes="dialog-body"):
                yield Static(table, id="help-keys")
                yield Static(Text(NOTES), classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)


def help_rows(screen: Screen[Any]) -> list[tuple[str, str]]:
    """(keys, description) for the active bindings of a screen, as the keymap has them now."""
    rows: dict[str, tuple[list[str], str]] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if binding.id is None and binding.action not in ("quit", "app.quit", "command_palette"):
            continue  # focus movement and copying: Textual's own, not the trainer's
        name = binding.id or binding.action
        text = KEY_HELP.get(name, binding.description or binding.action)
        keys, _ = rows.setdefault(name, ([], text))
        keys.append(screen.app.get_key_display(binding.with_key(key)))
    return [(" ".join(keys), description) for keys, description in rows.values()]
