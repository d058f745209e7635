"""The card a scenario opens with: its title, the presenter's description, what to watch for.

Any key closes it; `i` brings it back.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.snapshot import Snapshot
from tui_nn.plane import legend
from tui_nn.story import clean
from tui_nn.widgets.palette import Palette, default_palette, palette_for

KEYS_HINT = "space runs · n one epoch · t switches the map · ? keys · i shows this again"
SCROLL_KEYS = frozenset({"up", "down", "pageup", "pagedown", "home", "end", "j", "k"})
"""Keys that scroll a long card instead of closing it."""


def card_text(
    snapshot: Snapshot,
    moments: list[tuple[str, str]],
    glyphs: bool,
    palette: Palette | None = None,
) -> Text:
    """The card's body: description, moments ahead, the legend of the map."""
    palette = palette or default_palette()
    text = Text()
    if snapshot.description:
        paragraphs = [" ".join(p.split()) for p in clean(snapshot.description).split("\n\n")]
        text.append("\n\n".join(p for p in paragraphs if p))
    if snapshot.epoch > 0:  # before any training the figures would read like results
        for view in snapshot.experiments:
            text.append("\n\n")
            text.append(f"{view.title} now: ", Style(bold=True))
            text.append(clean(view.headline))
    if moments:
        text.append("\n\nTraining pauses at:", Style(bold=True))
        for when, caption in moments:
            text.append(f"\n  {when}: ", Style(bold=True))
            text.append(clean(caption))
    text.append("\n\nOn the map: ", Style(bold=True))
    for i, item in enumerate(legend(snapshot, None)):
        if i:
            text.append(" · ")
        text.append(
            item.ascii if glyphs else item.glyph,
            Style(bold=True) if glyphs else palette.item_style(item),
        )
        text.append(f" {item.text}")
    text.append(". Shade: how sure the network is (strong colour: sure; grey: unsure).")
    return text


class StoryCard(ModalScreen[None]):
    """A scenario's story, shown when it opens; any key closes it."""

    def __init__(self, snapshot: Snapshot, moments: list[tuple[str, str]], glyphs: bool) -> None:
        super().__init__(classes="dialog-screen")
        self.snapshot = snapshot
        """The session as it opened."""
        self.moments = moments
        """(when, caption) of the scenario's moments."""
        self.glyphs = glyphs
        self._card_closed = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog story-dialog") as box:
            box.border_title = Text(clean(self.snapshot.title))
            box.border_subtitle = "↑↓ scroll · any other key closes"
            with VerticalScroll(classes="dialog-body"):
                body = card_text(self.snapshot, self.moments, self.glyphs, palette_for(self.app))
                yield Static(body, id="story-text")
            yield Static(KEYS_HINT, classes="dialog-hint")

    def on_key(self, event: events.Key) -> None:
        event.stop()
        if event.key in SCROLL_KEYS:
            body = self.query_one(VerticalScroll)
            move = {
                "up": body.scroll_up,
                "k": body.scroll_up,
                "down": body.scroll_down,
                "j": body.scroll_down,
                "pageup": body.scroll_page_up,
                "pagedown": body.scroll_page_down,
                "home": body.scroll_home,
                "end": body.scroll_end,
            }[event.key]
            move(animate=False)
            return
        self._close_card()

    def on_click(self) -> None:
        self._close_card()

    def _close_card(self) -> None:
        # Keys typed fast (a paste, a browser, key repeat) arrive before the card has gone:
        # only the first closes it; a second dismiss would pop the trainer itself.
        if not self._card_closed:
            self._card_closed = True
            self.dismiss(None)
