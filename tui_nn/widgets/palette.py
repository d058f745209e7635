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

from tui_nn.plane import CLASSES_SHOWN, COLOURS, LEVELS

ColorMode = Literal["truecolor", "256", "16", "none"]


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


FADED_SHARE = 0.3
"""How much of its class colour a cell keeps in the difference view where the runs agree."""
DISAGREE_RGB = (255, 50, 140)
"""Cells where two runs predict different classes: a colour neither class ramp contains."""
RING_RGB = (235, 235, 235)
"""Radius circles drawn over the plane."""
TRACE_RGB = (255, 230, 110)
"""Arrows and lines drawn over the plane (adversarial pushes, recovered hinges)."""

PIXEL_COLOURS: tuple[Color, ...] = (
    PROBABILITY_RAMP
    + tuple(
        _mix(NEUTRAL_RGB, rgb, (level + 1) / LEVELS)
        for rgb in CLASS_RGB[:CLASSES_SHOWN]
        for level in range(LEVELS)
    )
    + tuple(_mix(NEUTRAL_RGB, rgb, FADED_SHARE) for rgb in CLASS_RGB[:CLASSES_SHOWN])
    + (Color.from_rgb(*DISAGREE_RGB), Color.from_rgb(*RING_RGB))
    + ACTIVATION_RAMP
)
"""One colour per index of ``tui_nn.plane`` (the two-class ramp, the many-class ramps, the
faded class colours, the disagreement colour, the ring colour, the activation ramp)."""
assert len(PIXEL_COLOURS) == COLOURS


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

ASCII_ACTIVATION_GLYPHS = " .:-=+*#%@"
"""Glyphs from no activation to the strongest (by magnitude) for neuron maps without colour."""


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


RUN_COLOUR_VARIABLES = (
    "foreground",
    "accent",
    "success",
    "primary-lighten-2",
    "error-lighten-2",
    "secondary-lighten-3",
    "warning",
)
"""Theme variables the runs' curves are drawn in, baseline first; repeats are skipped."""
FALLBACK_RUN_RGB = ((220, 220, 220), (255, 166, 43), (78, 191, 113), (90, 170, 255), (230, 90, 120))


def run_colours(variables: Mapping[str, str], count: int) -> list[Color]:
    """``count`` distinct colours for the runs' curves, taken from the theme's variables.

    The Loss panel and the loss chart both call this, so a run has one colour everywhere.
    """
    chosen: list[Color] = []
    for name in RUN_COLOUR_VARIABLES:
        value = variables.get(name)
        if not value:
            continue
        try:
            colour = Color.parse(value.split()[0])
        except Exception:  # a variable that is not a plain colour (e.g. 'auto 87%')
            continue
        if colour.triplet is not None and all(c.triplet != colour.triplet for c in chosen):
            chosen.append(colour)
    for rgb in FALLBACK_RUN_RGB:
        colour = Color.from_rgb(*rgb)
        if all(c.triplet != colour.triplet for c in chosen):
            chosen.append(colour)
    return [chosen[i % len(chosen)] for i in range(count)]
