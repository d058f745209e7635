"""The lines that always stay on screen: the title bar and the status line.

Neither ever wraps. The title bar gives the scenario's title and the run state; the status
line gives the figures of the run on the map and the probe's reading, dropping the least
important items first when the terminal is narrow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from engine.snapshot import Snapshot
from tui_nn.story import clean
from tui_nn.widgets.palette import text_style


@dataclass(frozen=True)
class TrainerState:
    """What the screen knows about training beyond the snapshot."""

    zoom: float = 1.0
    glyphs: bool = False
    probe: str = ""
    """The probe's readout, already formatted."""
    probe_short: str = ""
    """The same, shorter, for narrow terminals."""
    run: int = 0
    """Index of the run whose figures are shown (the run on the map)."""
    tool: str = ""
    """What a click on the map does ('click adds class 1'), or ''."""


SHORTEN_AT = 6
"""Items at least this important outrank the probe's raw output digits."""


def _num(value: float, spec: str) -> str:
    return format(value, spec) if math.isfinite(value) else "--"


class TitleBar(Widget):
    """'tui-nn', the scenario's title, and on the right the run state and the epoch."""

    DEFAULT_CSS = """
    TitleBar {
        height: 1;
        width: 1fr;
        background: $primary-background;
        color: $text;
    }
    TitleBar > .title-bar--app { text-style: bold; color: $text-accent; }
    TitleBar > .title-bar--title { text-style: bold; }
    TitleBar > .title-bar--running { color: $success; text-style: bold; }
    TitleBar > .title-bar--paused { color: $warning; text-style: bold; }
    TitleBar > .title-bar--muted { color: $text-muted; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "title-bar--app",
        "title-bar--title",
        "title-bar--running",
        "title-bar--paused",
        "title-bar--muted",
    }

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.title_text = ""
        """The scenario's title (as read from its file, shown escaped)."""
        self.running = False
        self.epoch = 0
        self.target = 0
        self.epochs_per_frame = 1
        self.epochs_per_second: float | None = None
        self.head = 0
        """The newest epoch trained (more than ``epoch`` while looking back)."""

    def set(self, **changes: object) -> None:
        """Update what the bar says: title, running, epoch, target, head, epochs_per_frame,
        epochs_per_second (redraws only on a change)."""
        if "title" in changes:
            changes["title_text"] = clean(str(changes.pop("title")))
        if any(getattr(self, k) != v for k, v in changes.items()):
            for key, value in changes.items():
                setattr(self, key, value)
            self.refresh()

    @property
    def plain(self) -> str:
        return self.render().plain

    def render(self) -> Text:
        def style(name: str) -> Style:
            return text_style(self, f"title-bar--{name}")

        # The right side in parts, dropped from the least important when the bar is narrow:
        # the speed first, then the epoch count's end, then the run state; the epoch stays.
        state, speed, count = Text(), Text(), Text()
        if self.running:
            state.append("▸ running", style("running"))
            rate = self.epochs_per_second
            speed.append("  ")
            speed.append("—" if rate is None else f"{rate:,.0f}", style("title"))
            speed.append(" ep/s", style("muted"))
            speed.append("  ")
            speed.append(f"{self.epochs_per_frame:,}", style("title"))
            speed.append(" ep/frame", style("muted"))  # so + and - answer while running
        elif self.head > self.epoch:
            state.append("◂ looking back", style("paused"))
        else:
            state.append("‖ paused", style("paused"))
            speed.append("  ")
            speed.append(f"{self.epochs_per_frame:,}", style("title"))
            speed.append(" ep/frame", style("muted"))
        epoch = Text("  ")
        epoch.append("epoch ", style("muted"))
        epoch.append(f"{self.epoch:,}", style("title"))
        if self.head > self.epoch:
            count.append(" ")
            count.append(f"of {self.head:,}", style("muted"))
        elif self.target:
            count.append(f"/{self.target:,}", style("muted"))
        forms = [(state, speed, epoch, count), (state, epoch, count), (state, epoch), (epoch,)]
        right = Text()
        for parts in forms:
            right = Text.assemble(*parts, " ")
            if len(right) + len(" tui-nn ") <= self.size.width:
                break
        left = Text(" tui-nn ", style("app"))
        room = self.size.width - len(left) - len(right) - 1
        if room > 3:
            title = self.title_text.split("\n")[0]
            if len(title) > room:
                title = title[: room - 1] + "…"
            left.append(title, style("title"))
        pad = max(0, self.size.width - len(left) - len(right))
        line = left + Text(" " * pad) + right
        line.no_wrap = True
        line.overflow = "crop"
        return line


class StatusLine(Widget):
    """The shown run's loss and accuracy, learning rate, dtype, speed, zoom and the probe."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        width: 1fr;
        padding: 0 1;
        background: $panel;
        color: $text;
    }
    StatusLine > .status-line--label { color: $text-muted; }
    StatusLine > .status-line--value { text-style: bold; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"status-line--label", "status-line--value"}

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
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
        """The line as plain text (what a person reads)."""
        return self.render().plain

    def items(self) -> list[tuple[int, str, str]]:
        """(priority, label, value) of every item, in display order; 0 is kept longest."""
        s = self.state
        out: list[tuple[int, str, str]] = []
        snap = self.snapshot
        if snap is not None:
            run = snap.runs[min(s.run, len(snap.runs) - 1)]
            if len(snap.runs) > 1:
                out.append((1, "", clean(run.label)))
            test = len(snap.x_test) > 0
            loss = _num(run.train_loss, ".4g") + (f"/{_num(run.test_loss, '.4g')}" if test else "")
            acc = _num(run.train_accuracy, ".1%")
            acc += f"/{_num(run.test_accuracy, '.1%')}" if test else ""
            wide = self.size.width >= 110
            out.append((0, "loss train/test" if test and wide else "loss", loss))
            out.append((3, "acc", acc))
            out.append((7, "lr", f"{snap.learning_rate:g}"))
            if run.dtype != run.label:
                out.append((8, "", run.dtype))
        if s.zoom != 1:
            out.append((2, "zoom", f"{s.zoom:g}×"))
        if s.glyphs:
            out.append((9, "", "ASCII"))
        if s.probe:
            out.append((2, "probe", s.probe))
        if s.tool:
            out.append((1, "", s.tool))
        return out

    def short_forms(self) -> dict[str, str]:
        """Item label -> a shorter value to use before dropping items."""
        return {"probe": self.state.probe_short} if self.state.probe_short else {}

    def render(self) -> Text:
        label = text_style(self, "status-line--label")
        value = text_style(self, "status-line--value")
        items = self.items()
        width = max(0, self.size.width - 2)

        def length(kept: list[tuple[int, str, str]]) -> int:
            return sum(len(v) + (len(k) + 1 if k else 0) for _, k, v in kept) + 2 * (len(kept) - 1)

        # Make room in order of importance, never wrapping: drop the lowest items first, and
        # shorten the probe's reading (to its class and confidence) once only items more
        # important than its raw digits remain.
        short = self.short_forms()
        while items and length(items) > width:
            lowest = max(items, key=lambda item: item[0])
            if short and lowest[0] < SHORTEN_AT:
                items = [(p, k, short.get(k, v)) for p, k, v in items]
                short = {}
                continue
            items.remove(lowest)
        line = Text(no_wrap=True, overflow="ellipsis")
        for i, (_, key, text) in enumerate(items):
            if i:
                line.append("  ")
            if key:
                line.append(f"{key} ", label)
            line.append(text, value)
        return line
