"""A highlighted line over the panels: a moment's caption, why training paused, or a notice.

The trainer's notices ("weights saved", "no probe points") come here too, instead of toasts
that would cover the panels; a notice goes away by itself after a few seconds.
"""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from tui_nn.story import clean

CaptionKind = Literal["moment", "target", "error", "notice"]


class CaptionBar(Static):
    """Shown while training is paused at a moment, at the scenario's epochs, or on NaN/inf."""

    DEFAULT_CSS = """
    CaptionBar {
        height: auto;
        max-height: 4;
        width: 1fr;
        padding: 0 1;
        display: none;
        background: $accent 25%;
        color: $text;
    }
    CaptionBar.-shown { display: block; }
    CaptionBar.-target { background: $primary 25%; }
    CaptionBar.-error { background: $error 35%; }
    CaptionBar.-notice { background: $panel; }
    /* A key's notice or error lies over the top of the panels, below the status line, for
       the few seconds it shows: the panels do not move, so the map is not drawn again at
       another size. A scenario's caption (a moment) takes its own rows. */
    CaptionBar.-notice, CaptionBar.-error {
        position: absolute;
        offset-y: 2;
        layer: notices;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.caption = ""
        """What the bar says now ('' when hidden)."""
        self.kind: CaptionKind = "moment"
        self._notice_timer: Timer | None = None

    def say(
        self,
        caption: str,
        kind: CaptionKind = "moment",
        heading: str = "",
        *,
        timeout: float | None = None,
    ) -> None:
        """Show a caption (text from a scenario file is escaped), for ``timeout`` seconds if
        given (until cleared otherwise)."""
        if self._notice_timer is not None:
            self._notice_timer.stop()
            self._notice_timer = None
        if timeout is not None:
            self._notice_timer = self.set_timer(timeout, self.clear)
        self.caption, self.kind = clean(caption), kind
        text = Text()
        if heading:
            text.append(clean(heading) + "  ", "bold")
        text.append(self.caption)
        self.update(text)
        for name in ("target", "error", "notice"):
            self.set_class(kind == name, f"-{name}")
        self.set_class(True, "-shown")

    def clear(self) -> None:
        """Hide the bar."""
        if self.caption:
            self.caption = ""
            self.update("")
            self.set_class(False, "-shown")
