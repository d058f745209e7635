"""Colours and glyphs shared by every plane-drawing widget, built once at import.

Two ramps: a diverging one for class probability (class 0 blue, undecided grey, class 1
orange) and a diverging one for neuron activations (negative blue, zero dark, positive amber).
Without colour (NO_COLOR, 16-colour terminals) widgets switch to glyphs: characters whose
density says how confident the model is and whose shape says which class.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from rich.color import Color
from rich.style import Style

ColorMode = Literal["truecolor", "256", "16", "none"]

LEVELS = 16
"""Shades per side of each ramp."""

CLASS_RGB = ((52, 120, 220), (240, 140, 30), (60, 180, 90), (200, 70, 170))
"""Class colours: blue, orange, green, magenta (softmax scenarios may use up to four)."""
NEUTRAL_RGB = (70, 70, 78)
"""Colour of an undecided point (probability 0.5)."""


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> Color:
    return Color.from_rgb(*(round(x + (y - x) * t) for x, y in zip(a, b, strict=True)))


PROBABILITY_RAMP: tuple[Color, ...] = tuple(
    _mix(CLASS_RGB[0], NEUTRAL_RGB, i / LEVELS) for i in range(LEVELS)
) + tuple(_mix(NEUTRAL_RGB, CLASS_RGB[1], (i + 1) / LEVELS) for i in range(LEVELS))
"""2 * LEVELS colours from certain class 0, through undecided, to certain class 1."""

ACTIVATION_RAMP: tuple[Color, ...] = tuple(
    _mix((40, 110, 230), (18, 18, 24), i / LEVELS) for i in range(LEVELS)
) + tuple(_mix((18, 18, 24), (255, 190, 40), (i + 1) / LEVELS) for i in range(LEVELS))
"""2 * LEVELS colours from most negative, through zero, to most positive activation."""


def ramp_index(value: float) -> int:
    """Index into a 2 * LEVELS ramp for a value in [0, 1] (clipped; NaN maps to the middle)."""
    if value != value:  # NaN
        return LEVELS
    return min(2 * LEVELS - 1, max(0, int(value * 2 * LEVELS)))


def half_block_styles(ramp: tuple[Color, ...]) -> list[list[Style]]:
    """styles[top][bottom]: foreground = upper pixel, background = lower pixel, for '▀' cells."""
    return [[Style(color=top, bgcolor=bottom) for bottom in ramp] for top in ramp]


PROBABILITY_STYLES = half_block_styles(PROBABILITY_RAMP)
ACTIVATION_STYLES = half_block_styles(ACTIVATION_RAMP)

ASCII_CLASS_GLYPHS = (".-o@", ".+xX", ".~sS", ".=zZ")
"""Per class, glyphs for confidence below 0.6, 0.8, 0.95, and at least 0.95. No letter O: data
points are drawn as their class digit, and 0 must not hide among O's."""
ASCII_ACTIVATION_GLYPHS = " .:-=+*#%@"
"""Glyphs from no activation to the strongest (by magnitude) for neuron maps without colour."""


def ascii_glyph(cls: int, confidence: float) -> str:
    """The glyph for a cell whose predicted class is ``cls`` at this confidence."""
    glyphs = ASCII_CLASS_GLYPHS[cls % len(ASCII_CLASS_GLYPHS)]
    if confidence != confidence:  # NaN
        return "?"
    level = 0 if confidence < 0.6 else 1 if confidence < 0.8 else 2 if confidence < 0.95 else 3
    return glyphs[level]


def detect_color_mode(env: Mapping[str, str] | None = None) -> ColorMode:
    """Guess what the terminal can show from the environment.

    NO_COLOR (any non-empty value, see no-color.org) wins; then COLORTERM=truecolor/24bit; then
    TERM: '*256color*' gives 256, 'dumb'/'linux'/'vt100'/'vt220'/'ansi' give 16; else 256.
    """
    env = os.environ if env is None else env
    if env.get("NO_COLOR", ""):
        return "none"
    if env.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return "truecolor"
    term = env.get("TERM", "").lower()
    if "256" in term:
        return "256"
    if term in ("dumb", "linux", "vt100", "vt220", "ansi", "xterm-16color"):
        return "16"
    return "256"


def uses_glyphs(mode: ColorMode) -> bool:
    """Whether a colour mode is too poor for shaded heat maps (ASCII mode is used instead)."""
    return mode in ("16", "none")
