"""Two lines that always stay on screen: where training is, and what the probe reads."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from engine.snapshot import Snapshot


@dataclass(frozen=True)
class TrainerState:
    """What the screen knows about training beyond the snapshot."""

    running: bool = False
    epochs_per_frame: int = 1
    epochs_per_second: float | None = None
    """Measured while running; None when paused (shown as a dash, so captures are stable)."""
    zoom: float = 1.0
    glyphs: bool = False
    probe: str = ""
    """The probe's readout, already formatted."""
    blowup: str = ""
    """What went NaN/inf and the likely cause, or empty."""


COMPACT_WIDTH = 100
"""Below this width the first line uses short labels."""


def _num(value: float, spec: str) -> str:
    return format(value, spec) if math.isfinite(value) else "--"


class StatusLine(Widget):
    """Scenario, epoch, loss, accuracy, learning rate, dtype, run state, speed and probe."""

    DEFAULT_CSS = """
    StatusLine {
        height: 2;
        width: 1fr;
        padding: 0 1;
        background: $panel;
        color: $text;
    }
    StatusLine > .status-line--label { color: $text-muted; }
    StatusLine > .status-line--value { text-style: bold; }
    StatusLine > .status-line--running { color: $success; text-style: bold; }
    StatusLine > .status-line--paused { color: $warning; text-style: bold; }
    StatusLine > .status-line--error { color: $error; text-style: bold; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-line--label",
        "status-line--value",
        "status-line--running",
        "status-line--paused",
        "status-line--error",
    }

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.snapshot: Snapshot | None = None
        """The last snapshot shown."""
        self.state = TrainerState()
        """The last trainer state shown."""

    def show(self, snapshot: Snapshot) -> None:
        """Show this snapshot's figures."""
        if snapshot is not self.snapshot:
            self.snapshot = snapshot
            self.refresh()

    def set_state(self, **changes: object) -> None:
        """Update some of the trainer state (keyword names of TrainerState fields)."""
        state = replace(self.state, **changes)  # type: ignore[arg-type]
        if state != self.state:
            self.state = state
            self.refresh()

    @property
    def plain(self) -> str:
        """The two lines as plain text (what a person reads)."""
        return self.render().plain

    def _second_line(self, label: Style, value: Style) -> Text:
        """Run state, epochs per frame, speed, zoom, mode and the probe (or the blow-up).

        Items are set apart by unstyled blanks; each styled span starts with a visible
        character, so the line reads the same wherever it is drawn.
        """
        s = self.state
        compact = self.size.width < COMPACT_WIDTH
        gap = "  " if compact else "   "
        line = Text()
        if s.running:
            line.append("▸ running", self.get_component_rich_style("status-line--running"))
        else:
            line.append("‖ paused", self.get_component_rich_style("status-line--paused"))
        line.append(gap)
        line.append(f"{s.epochs_per_frame:,}", value)
        line.append(" ")
        line.append("ep/frame" if compact else "epochs/frame", label)
        line.append(gap)
        eps = "—" if s.epochs_per_second is None else f"{s.epochs_per_second:,.0f}"
        line.append(eps, value)
        line.append(" ")
        line.append("ep/s", label)
        if s.zoom != 1:
            line.append(gap)
            line.append("zoom", label)
            line.append(" ")
            line.append(f"{s.zoom:g}×", value)
        if s.glyphs:
            line.append(gap)
            line.append("ASCII", label)
        if s.blowup:
            line.append(gap)
            line.append("⚠ " + s.blowup, self.get_component_rich_style("status-line--error"))
        elif s.probe:
            line.append(gap)
            line.append("probe", label)
            line.append(" ")
            line.append(s.probe, value)
        return line

    def render(self) -> Text:
        label = self.get_component_rich_style("status-line--label", partial=True)
        value = self.get_component_rich_style("status-line--value", partial=True)
        snap = self.snapshot
        first = Text()
        if snap is not None:
            run = snap.baseline
            first.append(snap.scenario, value)
            compact = self.size.width < COMPACT_WIDTH
            items = (
                (
                    ("ep", f"{snap.epoch:,}"),
                    ("loss", f"{_num(run.train_loss, '.4g')}/{_num(run.test_loss, '.4g')}"),
                    ("acc", f"{_num(run.train_accuracy, '.1%')}/{_num(run.test_accuracy, '.1%')}"),
                    ("lr", f"{snap.learning_rate:g}"),
                    ("", run.dtype),
                )
                if compact
                else (
                    ("epoch", f"{snap.epoch:,}"),
                    ("loss", _num(run.train_loss, ".4g")),
                    ("test", _num(run.test_loss, ".4g")),
                    ("acc", _num(run.train_accuracy, ".1%")),
                    ("test", _num(run.test_accuracy, ".1%")),
                    ("lr", f"{snap.learning_rate:g}"),
                    ("", run.dtype),
                )
            )
            for key, text in items:
                first.append("  ")
                if key:
                    first.append(f"{key} ", label)
                first.append(text, value)
        second = self._second_line(label, value)
        lines = Text("\n").join([first, second])
        lines.no_wrap = True
        lines.overflow = "ellipsis"
        return lines
