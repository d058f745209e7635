"""Colours and glyphs of every plane-drawing widget, built from the Textual theme.

A :class:`Palette` holds the class colours, the ramps from "undecided" to "sure" of each class
(and the diverging ramp of neuron activations), and the colours of points, marks, circles and
disagreement, all taken from the theme's variables (``$primary``, ``$accent``, ``$foreground``,
...) with ``textual.color.Gradient``. So a light theme gets a light "undecided" grey and darker
point tints, and every built-in theme keeps two classes apart: the class colours are the theme
colours that differ most from one another and from the undecided grey.

In 256 colours every ramp step is an xterm colour chosen along the ramp's own path (no hue
from elsewhere), so the terminal's quantisation adds no fringes. Sixteen colours and NO_COLOR
draw with glyphs instead (ASCII mode). The colour mode is what Rich detects for the app's
console, the same detection Textual draws with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from rich.color import Color as RichColor
from rich.color import ColorSystem
from rich.style import Style
from textual.color import Color, Gradient, Lab, rgb_to_lab
from textual.theme import BUILTIN_THEMES, Theme

from tui_nn.contrast import readable_rich
from tui_nn.plane import CLASSES_SHOWN, COLOURS, LEVELS

if TYPE_CHECKING:
    from textual.app import App
    from textual.widget import Widget

    from tui_nn.plane import LegendItem

ColorMode = Literal["truecolor", "256", "16", "none"]
RGB = tuple[int, int, int]

CLASS_CANDIDATES = ("primary", "accent", "warning", "error", "success", "secondary")
"""Theme variables the class colours are chosen from, in order of preference."""
UNDECIDED_SHARE = 0.22
"""How far the undecided grey sits from the theme's background towards its foreground."""
POINT_SHARE = 0.55
"""How far a data point's colour sits from its class colour towards the foreground (or the
background, on a pixel where that stands out more)."""
POINT_CONTRAST = 30.0
"""Least CIELAB distance between a point and the pixel under it before the other tint is
tried."""
FADED_SHARE = 0.3
"""How much of its class colour a cell keeps in the difference view where the runs agree."""
ASCII_ACTIVATION_GLYPHS = " .:-=+*#%@"
"""Glyphs from no activation to the strongest (by magnitude) for neuron maps without colour."""

_CUBE = (0, 95, 135, 175, 215, 255)
XTERM_256: tuple[RGB, ...] = tuple((r, g, b) for r in _CUBE for g in _CUBE for b in _CUBE) + tuple(
    (v, v, v) for v in range(8, 239, 10)
)
"""The 240 colours of a 256-colour terminal that do not depend on its 16-colour theme."""


def _lab(rgb: RGB) -> Lab:
    return rgb_to_lab(Color(*rgb))


def _distance(a: RGB, b: RGB) -> float:
    return math.dist(_lab(a), _lab(b))


def _shown_in_256(rgb: RGB) -> RGB:
    """The colour a 256-colour terminal shows for ``rgb`` (Rich's own downgrade)."""
    colour = RichColor.from_rgb(*rgb).downgrade(ColorSystem.EIGHT_BIT)
    triplet = colour.get_truecolor()
    return (triplet.red, triplet.green, triplet.blue)


_XTERM = [rgb for rgb in XTERM_256 if _shown_in_256(rgb) == rgb]
_XTERM_LAB = np.array([_lab(rgb) for rgb in _XTERM])


HUE_TOLERANCE = 15.0
"""Degrees (CIELAB hue) a coloured step of a 256-colour ramp may differ from its end's hue."""
GREY_CHROMA = 8.0
"""CIELAB chroma below which a colour reads as grey (any hue)."""


def _hue(lab: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.degrees(np.arctan2(lab[..., 2], lab[..., 1]))


def _along_path(colours: Sequence[RGB], start: RGB, end: RGB) -> list[RGB]:
    """Each colour of a ramp from ``start`` to ``end`` as the nearest xterm colour on the
    ramp's path: a grey, or a colour of the end's own hue (no purple on the way to blue, no red
    or olive on the way to orange); a step sideways costs three times a step along."""
    s = np.array(_lab(start))
    e = np.array(_lab(end))
    axis = e - s
    unit = axis / (np.linalg.norm(axis) or 1.0)
    rel = _XTERM_LAB - s
    along = rel @ unit
    sideways = np.sqrt(np.maximum(0.0, (rel * rel).sum(axis=1) - along * along))
    chroma = np.hypot(_XTERM_LAB[:, 1], _XTERM_LAB[:, 2])
    turn = np.abs((_hue(_XTERM_LAB) - _hue(e) + 180.0) % 360.0 - 180.0)
    allowed = (chroma < GREY_CHROMA) | (turn < HUE_TOLERANCE)
    cost_sideways = np.where(allowed, 3.0 * sideways, np.inf)
    chosen: list[RGB] = []
    last = -math.inf
    for rgb in colours:
        target = float((np.array(_lab(rgb)) - s) @ unit)
        best = int(np.argmin(np.abs(along - target) + cost_sideways))
        if along[best] < last and chosen:  # never step back towards the start
            chosen.append(chosen[-1])
            continue
        last = float(along[best])
        chosen.append(_XTERM[best])
    return chosen


def _rgb(colour: Color) -> RGB:
    return (colour.r, colour.g, colour.b)


def _blend(a: RGB, b: RGB, share: float) -> RGB:
    return _rgb(Color(*a).blend(Color(*b), share))


def _ramp(start: RGB, end: RGB, steps: int, mode: ColorMode, *, first: float = 0.0) -> list[RGB]:
    """``steps`` colours from near ``start`` to ``end`` (a Textual gradient), 256-safe if asked.

    ``first`` is where the first step sits along the gradient (0 = ``start`` itself).
    """
    gradient = Gradient((0.0, Color(*start)), (1.0, Color(*end)), quality=max(2, 4 * steps))
    positions = [first + (1.0 - first) * i / max(1, steps - 1) for i in range(steps)]
    colours = [_rgb(gradient.get_color(p)) for p in positions]
    return _along_path(colours, start, end) if mode == "256" else colours


def _plain(variables: Mapping[str, str], name: str) -> RGB | None:
    value = variables.get(name, "")
    try:
        colour = Color.parse(value.split()[0]) if value else None
    except Exception:  # 'auto 87%', 'transparent', 'ansi_blue': not a colour we can blend
        return None
    if colour is None or colour.ansi is not None or colour.a < 1:
        return None
    return _rgb(colour)


def _theme_variables(theme: Theme) -> dict[str, str]:
    return theme.to_color_system().generate()


@dataclass(frozen=True)
class Palette:
    """Every colour of the plane, the neuron maps and the legend, for one theme and mode."""

    key: tuple[str, str]
    """(theme name, colour mode): equal keys, equal palettes."""
    classes: tuple[RGB, ...]
    """CLASSES_SHOWN class colours."""
    undecided: RGB
    """The colour of probability 0.5."""
    pixel: tuple[RichColor, ...]
    """One colour per colour index of ``tui_nn.plane``."""
    activation: tuple[RichColor, ...]
    """2 * LEVELS colours from most negative, through zero, to most positive activation."""
    points: tuple[RGB, ...]
    """Per class, the colour data points are drawn in (the legend's): the class colour moved
    towards the foreground."""
    points_dark: tuple[RGB, ...]
    """The same moved towards the background: drawn where it stands out more (a pale class
    colour's point on its own pale region)."""
    mark: RGB
    """Experiment marks (probe points)."""
    ring: RGB
    """Radius circles."""
    disagree: RGB
    """Cells where two runs predict different classes."""
    trace: RGB
    """Arrows and lines drawn over the plane (adversarial pushes, recovered hinges)."""
    _pairs: dict[tuple[int, int], Style] = field(default_factory=dict, compare=False, repr=False)
    _activation_pairs: list[list[Style]] = field(default_factory=list, compare=False, repr=False)
    _points: dict[tuple[str, int, int], Style] = field(
        default_factory=dict, compare=False, repr=False
    )
    _classes: dict[tuple[int, bool, bool, bool], Style] = field(
        default_factory=dict, compare=False, repr=False
    )

    @staticmethod
    def rgb(colour: RichColor) -> RGB:
        """A Rich colour as an (r, g, b) triplet."""
        t = colour.get_truecolor()
        return (t.red, t.green, t.blue)

    def pair_style(self, top: int, bottom: int) -> Style:
        """The style of a '▀' cell whose two pixels have these colour indices."""
        style = self._pairs.get((top, bottom))
        if style is None:
            style = Style(color=self.pixel[top], bgcolor=self.pixel[bottom])
            self._pairs[(top, bottom)] = style
        return style

    def activation_style(self, top: int, bottom: int) -> Style:
        """The style of a '▀' neuron-map cell whose pixels have these activation levels."""
        if not self._activation_pairs:
            self._activation_pairs.extend(
                [Style(color=t, bgcolor=b) for b in self.activation] for t in self.activation
            )
        return self._activation_pairs[top][bottom]

    def contrast_style(self, index: int) -> Style:
        """Bold black or white, whichever reads on the pixel colour ``index`` (the probe)."""
        r, g, b = self.rgb(self.pixel[index])
        text = Color(r, g, b).get_contrast_text(1.0)
        return Style(color=RichColor.from_rgb(text.r, text.g, text.b), bold=True)

    def class_style(
        self, cls: int, *, bold: bool = False, dim: bool = False, reverse: bool = False
    ) -> Style:
        """A class's colour as a text style (made once per class and attributes)."""
        key = (cls % CLASSES_SHOWN, bold, dim, reverse)
        style = self._classes.get(key)
        if style is None:
            colour = RichColor.from_rgb(*self.classes[key[0]])
            style = Style(color=colour, bold=bold or None, dim=dim or None, reverse=reverse or None)
            self._classes[key] = style
        return style

    def point_style(self, kind: str, cls: int, background: int) -> Style:
        """A data point of this kind and class on a pixel of colour index ``background``."""
        key = (kind, cls, background)
        style = self._points.get(key)
        if style is None:
            style = self._points[key] = self._point_style(kind, cls, background)
        return style

    def _point_style(self, kind: str, cls: int, background: int) -> Style:
        if kind in ("head", "shaft"):
            rgb = self.trace
        elif kind in ("mark", "cross", "target"):
            rgb = self.mark
        else:
            under = self.rgb(self.pixel[background])
            rgb = self.points[cls % CLASSES_SHOWN]
            if _distance(rgb, under) < POINT_CONTRAST:  # too close: the other tint, if better
                other = self.points_dark[cls % CLASSES_SHOWN]
                rgb = max((rgb, other), key=lambda option: _distance(option, under))
        return Style(color=RichColor.from_rgb(*rgb), bgcolor=self.pixel[background], bold=True)

    def item_style(self, item: LegendItem) -> Style:
        """The colour a legend entry's swatch is drawn in, the same as on the map."""
        rgb = {
            "class": self.classes[item.cls % CLASSES_SHOWN],
            "disagree": self.disagree,
            "ring": self.ring,
            "shade": self.undecided,
            "mark": self.mark,
            "train": self.points[0],
            "test": self.points[0],
            "flipped": self.points[0],
            "added": self.points[1],
            "activation": self.rgb(self.activation[-1]),
            "head": self.trace,
            "line": self.trace,
            "target": self.mark,
            "cross": self.mark,
        }.get(item.key)
        return Style(color=RichColor.from_rgb(*rgb), bold=True) if rgb else Style(bold=True)


def _pick(candidates: dict[str, RGB], avoid: list[RGB], count: int, first: str) -> list[RGB]:
    """``count`` colours: ``first`` if it stands apart from ``avoid``, then each time the
    candidate farthest from everything chosen so far (and from ``avoid``)."""
    chosen: list[RGB] = []
    pool = dict(candidates)
    if first in pool and min(_distance(pool[first], a) for a in avoid) > 25:
        chosen.append(pool.pop(first))
    while len(chosen) < count and pool:
        name = max(pool, key=lambda n: min(_distance(pool[n], c) for c in avoid + chosen))
        colour = pool.pop(name)
        if all(_distance(colour, c) > 12 for c in chosen):
            chosen.append(colour)
    return chosen


FALLBACK_CLASSES: tuple[RGB, ...] = ((52, 120, 220), (240, 140, 30), (60, 180, 90), (200, 70, 170))
"""Class colours when the theme has too few usable ones (the ANSI themes name no RGB)."""


def build_palette(
    theme: Theme, mode: ColorMode, variables: Mapping[str, str] | None = None
) -> Palette:
    """The palette of a theme in a colour mode.

    Args:
        theme: The Textual theme (its ``dark`` flag and name).
        mode: The colour mode; '256' snaps every ramp to xterm colours along its path.
        variables: The theme's CSS variables (``App.theme_variables``); generated from the
            theme when not given. A theme whose colours are ANSI names borrows the RGB colours
            of textual-dark or textual-light.
    """
    variables = dict(variables or _theme_variables(theme))
    background = _plain(variables, "background")
    foreground = _plain(variables, "foreground")
    if background is None or foreground is None:
        fallback = BUILTIN_THEMES["textual-dark" if theme.dark else "textual-light"]
        variables = _theme_variables(fallback)
        background = _plain(variables, "background")
        foreground = _plain(variables, "foreground")
    assert background is not None and foreground is not None
    undecided = _blend(background, foreground, UNDECIDED_SHARE)
    candidates = {n: rgb for n in CLASS_CANDIDATES if (rgb := _plain(variables, n)) is not None}
    classes = _pick(candidates, [undecided], CLASSES_SHOWN, "primary")
    for rgb in FALLBACK_CLASSES:
        if len(classes) < CLASSES_SHOWN and all(_distance(rgb, c) > 12 for c in classes):
            classes.append(rgb)
    # Disagreement is drawn over faded class colours, mostly of two classes: it must stand out
    # from those two (a third class's colour may serve).
    others = {n: rgb for n, rgb in candidates.items() if rgb not in classes[:2]}
    disagree = (_pick(others, [undecided, *classes[:2]], 1, "error") or [(255, 50, 140)])[0]

    def ramp(end: RGB, steps: int = LEVELS) -> list[RGB]:
        return _ramp(undecided, end, steps, mode, first=1.0 / steps)

    two_class = ramp(classes[0])[::-1] + ramp(classes[1])
    many = [rgb for c in classes for rgb in ramp(c)]
    faded = [_blend(undecided, c, FADED_SHARE) for c in classes]
    if mode == "256":
        faded = [_along_path([f], undecided, c)[0] for f, c in zip(faded, classes, strict=True)]
    zero = _blend(background, foreground, 0.06)
    activation = [
        *_ramp(zero, classes[0], LEVELS, mode, first=1.0 / LEVELS)[::-1],
        *_ramp(zero, classes[1], LEVELS, mode, first=1.0 / LEVELS),
    ]
    pixel = [*two_class, *many, *faded, disagree, foreground, *activation]
    assert len(pixel) == COLOURS
    # Arrows and lines: a colour apart from both classes, the disagreement and the grey.
    others = {**others, "yellow": (255, 230, 110)}
    trace = _pick(others, [undecided, *classes[:2], disagree], 1, "yellow")[0]
    if mode == "256":
        disagree, foreground = _shown_in_256(disagree), _shown_in_256(foreground)
        trace = _shown_in_256(trace)
    return Palette(
        key=(theme.name, mode),
        classes=tuple(classes),
        undecided=undecided,
        pixel=tuple(RichColor.from_rgb(*rgb) for rgb in pixel),
        activation=tuple(RichColor.from_rgb(*rgb) for rgb in activation),
        points=tuple(_blend(c, foreground, POINT_SHARE) for c in classes),
        points_dark=tuple(_blend(c, background, POINT_SHARE) for c in classes),
        mark=foreground,
        ring=foreground,
        disagree=disagree,
        trace=trace,
    )


_palettes: dict[tuple[str, str], Palette] = {}


def color_mode(app: App[Any]) -> ColorMode:
    """What the app's terminal shows: Rich's detection for Textual's console, and NO_COLOR."""
    system = app.console.color_system
    if app.no_color or system is None:
        return "none"
    return {"truecolor": "truecolor", "256": "256"}.get(system, "16")  # type: ignore[return-value]


def palette_for(app: App[Any]) -> Palette:
    """The palette of the app's current theme and colour mode (built once per pair)."""
    mode = color_mode(app)
    key = (app.theme, mode)
    palette = _palettes.get(key)
    if palette is None:
        palette = _palettes[key] = build_palette(app.current_theme, mode, app.theme_variables)
    return palette


def default_palette(mode: ColorMode = "truecolor") -> Palette:
    """The palette of Textual's default theme, for drawing outside the app and for tests."""
    theme = BUILTIN_THEMES["textual-dark"]
    key = (theme.name, mode)
    if key not in _palettes:
        _palettes[key] = build_palette(theme, mode)
    return _palettes[key]


def text_style(widget: Widget, component: str, *, pattern: bool = False) -> Style:
    """A component class's style for text drawn on the widget (the Line API's labels).

    Textual's partial component styles cannot resolve 'auto' and translucent colours (``$text``,
    ``$text-muted``) without a background, and give white: white labels on a light theme. This
    resolves them against the widget's own background, keeps a background only where the
    component sets one, and makes the colour readable there (``tui_nn.contrast``) unless it is
    a ``pattern`` meant to stay faint (a dead neuron's hatching), not text.
    """
    full = widget.get_component_rich_style(component)
    partial = widget.get_component_rich_style(component, partial=True)
    return Style(
        color=full.color if pattern else readable_rich(full.color, full.bgcolor),
        bgcolor=full.bgcolor if partial.bgcolor is not None else None,
        bold=full.bold,
        dim=full.dim,
        italic=full.italic,
        underline=full.underline,
        reverse=full.reverse,
        strike=full.strike,
    )


def uses_glyphs(mode: ColorMode) -> bool:
    """Whether a colour mode is too poor for shaded heat maps (ASCII mode is used instead)."""
    return mode in ("16", "none")


def ramp_index(value: float) -> int:
    """Index into a 2 * LEVELS ramp for a value in [0, 1] (clipped; NaN maps to the middle)."""
    if value != value:  # NaN
        return LEVELS
    return min(2 * LEVELS - 1, max(0, int(value * 2 * LEVELS)))


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


def run_colours(variables: Mapping[str, str], count: int) -> list[RichColor]:
    """``count`` distinct colours for the runs' curves, taken from the theme's variables.

    The Loss panel and the loss chart both call this, so a run has one colour everywhere.
    """
    chosen: list[RichColor] = []
    for name in RUN_COLOUR_VARIABLES:
        rgb = _plain(variables, name)
        if rgb is None:
            continue
        colour = RichColor.from_rgb(*rgb)
        if all(c.triplet != colour.triplet for c in chosen):
            chosen.append(colour)
    for rgb in FALLBACK_RUN_RGB:
        colour = RichColor.from_rgb(*rgb)
        if all(c.triplet != colour.triplet for c in chosen):
            chosen.append(colour)
    return [chosen[i % len(chosen)] for i in range(count)]
