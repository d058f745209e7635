"""Text that reads on its background, whatever the theme.

A theme's accent, warning and success colours are chosen to read on its main background, but
the trainer also draws them on other surfaces (the title bar on ``$primary-background``, the
footer on ``$panel``), where a light theme can leave them at 1.1:1 ("tui-nn" in catppuccin-latte)
and a dark one at 1.7:1 ("paused" in solarized-dark). Every text colour the trainer sets goes
through :func:`readable`, which keeps its hue and moves it towards black or white just as far as
the WCAG 2 contrast ratio for text (4.5:1) needs.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from functools import lru_cache

from rich.color import Color as RichColor
from rich.color import ColorType
from textual.color import Color, ColorParseError

RGB = tuple[int, int, int]

MIN_TEXT_CONTRAST = 4.5
"""Least contrast ratio between text and its background (WCAG 2, level AA, normal text)."""
_STEPS = 20
"""How finely a colour is moved towards black or white."""
READABLE_VARIABLES = (
    ("text-accent", ("background", "surface")),
    ("footer-key-foreground", ("footer-background",)),
    ("footer-description-foreground", ("footer-background",)),
)
"""Theme variables that Textual's widgets and the app's CSS draw text with (panel titles and
headings, the footer's keys and their descriptions), and the backgrounds they are drawn on."""


def _luminance(rgb: RGB) -> float:
    def channel(value: int) -> float:
        v = value / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(a: RGB, b: RGB) -> float:
    """The WCAG 2 contrast ratio of two colours, from 1 (the same) to 21 (black on white)."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@lru_cache(maxsize=1024)
def readable(rgb: RGB, background: RGB, minimum: float = MIN_TEXT_CONTRAST) -> RGB:
    """``rgb`` itself if it reads on ``background``; else the least blend of it towards black
    or white (whichever contrasts more with the background) that does."""
    if contrast_ratio(rgb, background) >= minimum:
        return rgb
    white, black = (255, 255, 255), (0, 0, 0)
    end = max((white, black), key=lambda e: contrast_ratio(e, background))
    for step in range(1, _STEPS):
        candidate = Color(*rgb).blend(Color(*end), step / _STEPS)
        moved = (candidate.r, candidate.g, candidate.b)
        if contrast_ratio(moved, background) >= minimum:
            return moved
    return end


def readable_rich(colour: RichColor | None, background: RichColor | None) -> RichColor | None:
    """A Rich text colour made :func:`readable` on a background; terminal-defined colours (the
    ANSI themes, the default colour) are left as they are, since only the terminal knows them."""
    if (
        colour is None
        or background is None
        or colour.type is not ColorType.TRUECOLOR
        or background.type is not ColorType.TRUECOLOR
        or colour.triplet is None
        or background.triplet is None
    ):
        return colour
    rgb: RGB = (colour.triplet.red, colour.triplet.green, colour.triplet.blue)
    under = background.triplet
    fixed = readable(rgb, (under.red, under.green, under.blue))
    return colour if fixed == rgb else RichColor.from_rgb(*fixed)


def make_variables_readable(variables: MutableMapping[str, str]) -> None:
    """Make the text colours of ``READABLE_VARIABLES`` readable on each of their backgrounds,
    in place (colours the terminal defines, or translucent ones, are left alone)."""
    for text_name, background_names in READABLE_VARIABLES:
        try:
            text = Color.parse(variables[text_name])
            backgrounds = [Color.parse(variables[name]) for name in background_names]
        except (KeyError, ColorParseError):
            continue
        if any(c.ansi is not None or c.a < 1 for c in (text, *backgrounds)):
            continue
        rgb = (text.r, text.g, text.b)
        fixed = rgb
        for background in backgrounds:  # one theme's surfaces lie on one side of mid-grey
            fixed = readable(fixed, (background.r, background.g, background.b))
        if fixed != rgb:
            variables[text_name] = Color(*fixed).hex
