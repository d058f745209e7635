"""Text reads on its background in every theme: the contrast rule and the trainer's labels."""

from __future__ import annotations

import re

import pytest
from rich.color import Color as RichColor
from rich.segment import Segment
from textual.color import Color
from textual.theme import BUILTIN_THEMES
from textual.widgets import Footer

from engine.session import Session
from tui_nn.app import TuiNN
from tui_nn.catalog import shipped_dir
from tui_nn.contrast import MIN_TEXT_CONTRAST, contrast_ratio, readable, readable_rich
from tui_nn.widgets.architecture_view import ArchitectureView
from tui_nn.widgets.neuron_maps import NeuronMaps
from tui_nn.widgets.status_line import StatusLine, TitleBar

WHITE, BLACK = (255, 255, 255), (0, 0, 0)
THEMES = sorted(name for name in BUILTIN_THEMES if not name.startswith("ansi"))
"""The themes that name their colours (the ANSI ones leave them to the terminal)."""


def test_contrast_ratio_follows_wcag() -> None:
    assert contrast_ratio(BLACK, WHITE) == pytest.approx(21.0)
    assert contrast_ratio(WHITE, WHITE) == pytest.approx(1.0)
    assert contrast_ratio((118, 118, 118), WHITE) == pytest.approx(4.54, abs=0.01)


def test_a_readable_colour_is_kept_and_an_unreadable_one_moved_just_enough() -> None:
    assert readable((20, 20, 120), WHITE) == (20, 20, 120)
    orange, light_grey = (255, 166, 43), (230, 230, 230)
    moved = readable(orange, light_grey)
    assert contrast_ratio(moved, light_grey) >= MIN_TEXT_CONTRAST
    assert sum(moved) < sum(orange)  # darker on a light background...
    r, g, b = moved
    assert r > g > b  # ...and still orange, not black
    half_way = Color(*orange).blend(Color(*BLACK), 0.5)
    assert contrast_ratio((half_way.r, half_way.g, half_way.b), light_grey) > contrast_ratio(
        moved, light_grey
    )  # no further than needed
    assert sum(readable((40, 40, 60), (30, 30, 30))) > 3 * 40  # lighter on a dark one


def test_colours_the_terminal_defines_are_left_alone() -> None:
    magenta, default = RichColor.parse("magenta"), RichColor.default()
    grey = RichColor.from_rgb(230, 230, 230)
    assert readable_rich(magenta, grey) is magenta
    assert readable_rich(RichColor.from_rgb(240, 240, 240), default).triplet == (240, 240, 240)


def _low_contrast(segments: list[Segment], floor: float) -> list[tuple[str, float]]:
    low = []
    for segment in segments:
        style = segment.style
        if not re.search(r"[A-Za-z0-9]", segment.text) or not style:
            continue
        if style.color is None or style.bgcolor is None:
            continue
        fg, bg = style.color.get_truecolor(), style.bgcolor.get_truecolor()
        ratio = contrast_ratio((fg.red, fg.green, fg.blue), (bg.red, bg.green, bg.blue))
        if ratio < floor:
            low.append((segment.text.strip(), round(ratio, 2)))
    return low


@pytest.mark.parametrize("theme", THEMES)
async def test_every_label_reads_in_every_theme(theme: str) -> None:
    """The title bar, status line, footer, panel titles and the network's labels reach the
    WCAG text contrast: on light themes the title bar's 'tui-nn' and 'paused' were at 1.1:1
    to 1.6:1, and the footer's keys at 1.8:1."""
    floor = MIN_TEXT_CONTRAST - 0.01  # colours are whole numbers: a hair of rounding
    app = TuiNN(Session.from_file(shipped_dir() / "moons-poison.toml"), story=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.theme = theme
        await pilot.press("N")
        await pilot.pause()
        screen = app.screen
        rows = set()
        for kind in (TitleBar, StatusLine, Footer, ArchitectureView, NeuronMaps):
            region = screen.query_one(kind).region
            rows.update(range(region.y, region.bottom))
        rows.update(w.region.y for w in screen.query("*") if w.border_title and w.region)
        strips = screen._compositor.render_strips()
        low = {y: _low_contrast(list(strips[y]), floor) for y in sorted(rows)}
        assert not {y: found for y, found in low.items() if found}
        bar = screen.query_one(TitleBar)
        bar.set(running=True, epochs_per_second=1234.0)  # the other state's colour
        await pilot.pause()
        top = screen._compositor.render_strips()[bar.region.y]
        assert "running" in top.text and not _low_contrast(list(top), floor)
