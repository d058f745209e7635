"""One line under the map saying what every mark, colour and shade on it means."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from tui_nn.plane import LegendItem
from tui_nn.widgets.boundary_map import MARK_RGB, POINT_RGB
from tui_nn.widgets.palette import CLASS_RGB, DISAGREE_RGB, NEUTRAL_RGB, RING_RGB, TRACE_RGB


def item_style(item: LegendItem) -> Style:
    """The colour a legend entry's swatch is drawn in, the same as on the map."""
    rgb = {
        "class": CLASS_RGB[item.cls % len(CLASS_RGB)],
        "disagree": DISAGREE_RGB,
        "ring": RING_RGB,
        "shade": NEUTRAL_RGB,
        "mark": MARK_RGB,
        "train": POINT_RGB[0],
        "test": POINT_RGB[0],
        "flipped": POINT_RGB[0],
        "added": POINT_RGB[1],
        "activation": (255, 190, 40),
        "head": TRACE_RGB,
        "line": TRACE_RGB,
        "target": MARK_RGB,
        "cross": MARK_RGB,
    }.get(item.key)
    return Style(color=f"rgb{rgb}", bold=True) if rgb else Style(bold=True)


def legend_text(items: list[LegendItem], width: int, glyphs: bool) -> Text:
    """The entries that fit in ``width`` cells, in order, each a swatch and a word or two."""
    text = Text(no_wrap=True, overflow="crop")
    for item in items:
        piece = f"{item.ascii if glyphs else item.glyph} {item.text}"
        if text.cell_len + len(piece) + 2 > width:
            break
        if text.cell_len:
            text.append("  ")
        swatch = Style(bold=True, reverse=item.key == "train") if glyphs else item_style(item)
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
        return legend_text(self.items, self.size.width, self.glyphs)
