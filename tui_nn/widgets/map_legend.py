"""One line under the map saying what every mark, colour and shade on it means."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from tui_nn.plane import LegendItem
from tui_nn.widgets.palette import Palette, default_palette, palette_for


def legend_text(
    items: list[LegendItem], width: int, glyphs: bool, palette: Palette | None = None
) -> Text:
    """The entries that fit in ``width`` cells, in order, each a swatch and a word or two."""
    palette = palette or default_palette()
    text = Text(no_wrap=True, overflow="crop")
    for item in items:
        piece = f"{item.ascii if glyphs else item.glyph} {item.text}"
        if text.cell_len + len(piece) + 2 > width:
            break
        if text.cell_len:
            text.append("  ")
        swatch = (
            Style(bold=True, reverse=item.key == "train") if glyphs else palette.item_style(item)
        )
        text.append(item.ascii if glyphs else item.glyph, swatch)
        text.append(f" {item.text}")
    return text


class MapLegend(Widget):
    """The legend line of the main map."""

    DEFAULT_CSS = """
    MapLegend {
        height: 1;
        width: 1fr;
        color: $text-muted;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.items: list[LegendItem] = []
        """The entries shown (those that fit)."""
        self.glyphs = False

    def set_items(self, items: list[LegendItem], glyphs: bool) -> None:
        if (items, glyphs) != (self.items, self.glyphs):
            self.items, self.glyphs = items, glyphs
            self.refresh()

    @property
    def plain(self) -> str:
        return self.render().plain

    def render(self) -> Text:
        return legend_text(self.items, self.size.width, self.glyphs, palette_for(self.app))
