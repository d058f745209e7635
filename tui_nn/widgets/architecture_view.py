"""The network drawn layer by layer: neurons and their status, weights, biases, gradient norms.

Each layer becomes a small block of text. Weights are bars whose height is the magnitude
(scaled by the layer's largest |w|) and whose colour is the sign, blue for negative and amber
for positive, the same ends as the neuron-map ramp. A layer with at least as many neurons as
inputs puts one neuron per column; a narrowing layer (like a single output) puts one neuron
per row so a 2-10-1 network stays about a dozen lines tall and under forty columns wide.
In glyph mode, each weight is a sign and a digit 0-9 instead of a coloured bar.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from rich.style import Style
from rich.text import Span, Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.events import Click, Resize
from textual.message import Message
from textual.widgets import Static

from engine.snapshot import LayerView, Snapshot
from tui_nn.widgets.palette import Palette, default_palette, text_style
from tui_nn.widgets.panel import Panel

BARS = "▁▂▃▄▅▆▇█"
"""Weight bars from smallest to largest magnitude."""
STATUS_GLYPHS = {"ok": "●", "dead": "✕", "saturated": "◐"}
"""Neuron glyph per status in colour mode."""
ASCII_STATUS_GLYPHS = {"ok": "o", "dead": "x", "saturated": "s"}
"""Neuron glyph per status in glyph mode."""


@dataclass(frozen=True)
class Styles:
    """Rich styles the text builder uses (the widget takes them from its component classes)."""

    title: Style
    muted: Style
    ok: Style
    dead: Style
    saturated: Style
    negative: Style
    """Negative weights: the activation ramp's negative end."""
    positive: Style
    """Positive weights: its positive end."""


def _signs(palette: Palette) -> tuple[Style, Style]:
    return Style(color=palette.activation[0]), Style(color=palette.activation[-1])


DEFAULT_STYLES = Styles(
    Style(bold=True),
    Style(dim=True),
    Style(),
    Style(color="red"),
    Style(color="yellow"),
    *_signs(default_palette()),
)
"""Styles for drawing outside a widget (reports, tests)."""


def weight_cell(
    value: float, scale: float, glyphs: bool, styles: Styles = DEFAULT_STYLES
) -> tuple[str, Style]:
    """One weight as a bar (or sign and digit in glyph mode) with its sign's style."""
    if not math.isfinite(value):
        return ("?" if not glyphs else "??"), Style(bold=True)
    level = 0.0 if scale <= 0 else min(1.0, abs(value) / scale)
    style = styles.negative if value < 0 else styles.positive
    if glyphs:
        return ("-" if value < 0 else "+") + str(round(level * 9)), Style()
    return BARS[min(len(BARS) - 1, int(level * len(BARS)))], style


def _scale(layer: LayerView) -> float:
    values = np.abs(layer.weight)
    if layer.bias is not None:
        values = np.concatenate([values.ravel(), np.abs(layer.bias)])
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else 0.0


def _header(i: int, layer: LayerView, scale: float, glyphs: bool, styles: Styles) -> Text:
    arrow, nabla = ("->", "|dW|") if glyphs else ("→", "‖∇W‖")
    text = Text(f"L{i + 1} {layer.n_in}{arrow}{layer.n_out} {layer.activation}", styles.title)
    # Blanks go between styled spans, never at their start: some renderers drop them.
    text.append(" ")
    text.append(f"{nabla} {layer.grad_norm:.2g} max|w| {scale:.2g}", styles.muted)
    dead = layer.status.count("dead")
    saturated = layer.status.count("saturated")
    if dead:
        text.append(" ")
        text.append(f"{dead} dead", styles.dead)
    if saturated:
        text.append(" ")
        text.append(f"{saturated} saturated", styles.saturated)
    return text


def _status_cell(status: str, glyphs: bool, styles: Styles) -> tuple[str, Style]:
    table = ASCII_STATUS_GLYPHS if glyphs else STATUS_GLYPHS
    style = {"dead": styles.dead, "saturated": styles.saturated}.get(status, styles.ok)
    return table.get(status, "?"), style


Selection = tuple[int, int, int | None]
"""(layer, neuron, input row or None for the neuron itself; -1 for its bias)."""
Hit = tuple[int, int, int, Selection]
"""(line, first column, last column + 1, what is drawn there)."""

SELECTED = Style(reverse=True, bold=True)


def _mark(style: Style, chosen: bool) -> Style:
    return style + SELECTED if chosen else style


class _Line:
    """One line of text built piece by piece, neighbouring pieces of one style in one span.

    A 32x32 layer is a thousand cells: a span each made the panel slow to build and to render
    (tens of milliseconds a frame); runs of one style cost a fraction of that.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[Span] = []
        self.length = 0
        self._style: Style | None = None
        self._start = 0

    def __len__(self) -> int:
        return self.length

    def append(self, piece: str, style: Style | None = None) -> None:
        if style is not self._style and style != self._style:
            self._close()
            self._style, self._start = style, self.length
        self.parts.append(piece)
        self.length += len(piece)

    def _close(self) -> None:
        if self._style is not None and self.length > self._start:
            self.spans.append(Span(self._start, self.length, self._style))

    def text(self, style: Style | str = "") -> Text:
        """The line as Rich text; ``style`` lies under every span (its base style)."""
        self._close()
        self._style = None
        return Text("".join(self.parts), style=style, spans=self.spans)


def _columns_block(
    layer: LayerView,
    index: int,
    scale: float,
    width: int,
    glyphs: bool,
    styles: Styles,
    selected: Selection | None,
    hits: list[Hit],
    first_line: int,
    names: Sequence[str] = (),
) -> list[Text]:
    """One neuron per column, one input per row, then the biases and the neurons."""
    names = list(names)[: layer.n_in] if len(names) >= layer.n_in else []
    names = names or [f"x{r + 1}" for r in range(layer.n_in)]
    label_width = max(3, *(len(n) + 1 for n in names))
    cell = 2 if glyphs else 1
    gap = 1 if label_width + layer.n_out * (cell + 1) <= width else 0
    lines: list[Text] = []

    def row(label: str, cells: Sequence[tuple[str, Style]], what: int | None) -> Text:
        text = _Line()
        text.append(label.rjust(label_width - 1) + " ")
        line = first_line + len(lines)
        for j, (glyph, style) in enumerate(cells):
            target: Selection = (index, j, what)
            start = len(text)
            if target == selected:
                text.append(glyph.rjust(cell), _mark(style, True))
                text.append(" " * gap, style)
            else:  # one span with its gap: renderers may drop a span's leading blanks
                text.append(glyph.rjust(cell) + " " * gap, style)
            hits.append((line, start, start + cell, target))
        return text.text(styles.muted)

    for r in range(layer.n_in):
        cells = [weight_cell(w, scale, glyphs, styles) for w in layer.weight[r].tolist()]
        lines.append(row(names[r], cells, r))
    if layer.bias is not None:
        lines.append(
            row("b", [weight_cell(b, scale, glyphs, styles) for b in layer.bias.tolist()], -1)
        )
    lines.append(row("", [_status_cell(s, glyphs, styles) for s in layer.status], None))
    return lines


def _rows_block(
    layer: LayerView,
    index: int,
    scale: float,
    glyphs: bool,
    styles: Styles,
    selected: Selection | None,
    hits: list[Hit],
    first_line: int,
) -> list[Text]:
    """One neuron per row: its status, its incoming weights, then its bias."""
    lines: list[Text] = []
    cell = 2 if glyphs else 1
    for j in range(layer.n_out):
        line = first_line + len(lines)
        glyph, style = _status_cell(layer.status[j], glyphs, styles)
        text = _Line()
        text.append(" ")
        hits.append((line, 1, 2, (index, j, None)))
        text.append(glyph, _mark(style, selected == (index, j, None)))
        text.append(" ")
        for r, w in enumerate(layer.weight[:, j].tolist()):
            glyph, style = weight_cell(w, scale, glyphs, styles)
            hits.append((line, len(text), len(text) + cell, (index, j, r)))
            text.append(glyph, _mark(style, selected == (index, j, r)))
        if layer.bias is not None:
            text.append(" b", styles.muted)
            glyph, style = weight_cell(float(layer.bias[j]), scale, glyphs, styles)
            hits.append((line, len(text), len(text) + cell, (index, j, -1)))
            text.append(glyph, _mark(style, selected == (index, j, -1)))
        lines.append(text.text())
    return lines


def architecture_text(
    layers: Sequence[LayerView],
    width: int,
    glyphs: bool = False,
    styles: Styles | None = None,
    inputs: Sequence[str] = (),
    *,
    selected: Selection | None = None,
    hits: list[Hit] | None = None,
) -> Text:
    """Draw a network's layers as text for a panel ``width`` cells wide.

    Args:
        layers: The layers, input side first.
        width: Cells available; used to decide whether weight columns get a gap.
        glyphs: Sign-and-digit weights and ASCII neuron glyphs instead of colours.
        styles: Styles for titles and neuron statuses.
        inputs: Names of the network's inputs (x1, x2, trigger); default x1, x2, ...
        selected: The neuron or weight drawn highlighted.
        hits: Filled with where each neuron and weight is drawn (for mouse clicks).

    Returns:
        The drawing, one line per row, without wrapping.
    """
    styles = styles or DEFAULT_STYLES
    hits = [] if hits is None else hits
    lines: list[Text] = []
    for i, layer in enumerate(layers):
        scale = _scale(layer)
        lines.append(_header(i, layer, scale, glyphs, styles))
        if layer.n_out >= layer.n_in:
            # A hidden layer's inputs are the previous layer's units, named as the neuron
            # maps name them (L1.3: layer 1, unit 3).
            names = inputs if i == 0 else [f"L{i}.{r + 1}" for r in range(layer.n_in)]
            block = _columns_block(
                layer, i, scale, width, glyphs, styles, selected, hits, len(lines), names
            )
        else:
            block = _rows_block(layer, i, scale, glyphs, styles, selected, hits, len(lines))
        lines.extend(block)
    text = Text("\n").join(lines) if lines else Text("no layers", styles.muted)
    text.no_wrap = True
    text.overflow = "crop"
    return text


def describe_selection(layers: Sequence[LayerView], selected: Selection) -> str:
    """The selected neuron or weight in words: its value and its last gradient."""
    i, j, row = selected
    layer = layers[i]
    name = "out" if i == len(layers) - 1 and layer.n_out == 1 else f"L{i + 1}.{j + 1}"
    if row is None:
        kind = f"{layer.activation} neuron {name}"
        if i < len(layers) - 1:
            kind += f", {layer.status[j]}"
        return f"{kind} · w/W picks a weight · its map is on the main map"
    if row < 0:
        assert layer.bias is not None
        value, what = float(layer.bias[j]), f"bias of {name}"
        grad = None if layer.grad_bias is None else float(layer.grad_bias[j])
    else:
        value, what = float(layer.weight[row, j]), f"weight x{row + 1}→{name}"
        grad = None if layer.grad_weight is None else float(layer.grad_weight[row, j])
    gradient = "" if grad is None else f" · ∂L/∂w {grad:.4g}"
    return f"{what} = {value:.6g}{gradient} · E edits it"


class SelectionClicked(Message):
    """A neuron or weight of the architecture panel was clicked."""

    def __init__(self, selected: Selection) -> None:
        super().__init__()
        self.selected = selected
        """What was clicked."""


class ArchitectureView(Panel, VerticalScroll):
    """Layers, neurons, weights, biases and gradient norms of the run on the main map.

    Args:
        glyphs: Start in glyph mode (no colour: signs and digits instead of coloured bars).
        **kwargs: The usual widget arguments (id, classes, ...).
    """

    DEFAULT_CSS = """
    ArchitectureView {
        height: 1fr;
        overflow-y: auto;
        scrollbar-size: 1 1;
    }
    ArchitectureView > Static {
        width: auto;
    }
    ArchitectureView > .architecture-view--title {
        text-style: bold;
        color: $text;
    }
    ArchitectureView > .architecture-view--muted {
        color: $text-muted;
    }
    ArchitectureView > .architecture-view--ok {
        color: $text;
    }
    ArchitectureView > .architecture-view--dead {
        color: $error;
        text-style: bold;
    }
    ArchitectureView > .architecture-view--saturated {
        color: $warning;
        text-style: bold;
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "architecture-view--title",
        "architecture-view--muted",
        "architecture-view--ok",
        "architecture-view--dead",
        "architecture-view--saturated",
    }

    def __init__(self, *, glyphs: bool = False, **kwargs: object) -> None:
        super().__init__(glyphs=glyphs, **kwargs)
        self.run_index = 0
        """Which run's layers are drawn (the run on the main map)."""
        self.selected: Selection | None = None
        """The neuron or weight picked (keys u/U, w/W, or a click), drawn highlighted."""
        self.hits: list[Hit] = []
        """Where each neuron and weight was drawn last (line, columns, selection)."""
        self._layers: tuple[LayerView, ...] = ()
        self._inputs: tuple[str, ...] = ()
        self._drawn_width = -1
        self._body = Static("waiting for the first snapshot", classes="architecture-body")

    def compose(self) -> ComposeResult:
        yield self._body

    def on_mount(self) -> None:
        self._redraw()

    def view_key(self) -> Hashable:
        return (self.glyphs, self.run_index, self.selected)

    def select(self, selected: Selection | None) -> None:
        """Highlight this neuron or weight (None: nothing)."""
        if selected != self.selected:
            self.selected = selected
            self._redraw()

    @property
    def selection_text(self) -> str:
        """The selection in words ('' when nothing is selected)."""
        if self.selected is None or not self._layers:
            return ""
        i, j, _ = self.selected
        if i >= len(self._layers) or j >= self._layers[i].n_out:
            return ""
        return describe_selection(self._layers, self.selected)

    def on_click(self, event: Click) -> None:
        """Pick the neuron or weight under the mouse."""
        content = self.content_region  # the click may come from the text inside: use the screen
        line = event.screen_y - content.y + round(self.scroll_y)
        col = event.screen_x - content.x + round(self.scroll_x)
        for row, first, last, target in self.hits:
            if row == line and first <= col < last:
                self.post_message(SelectionClicked(target))
                return

    def draw(self, snapshot: Snapshot) -> None:
        self._layers = snapshot.runs[min(self.run_index, len(snapshot.runs) - 1)].layers
        self._inputs = snapshot.features
        self._redraw()

    def on_resize(self, event: Resize) -> None:
        if event.size.width != self._drawn_width:
            self._redraw()

    def _styles(self) -> Styles:
        def style(name: str) -> Style:
            return text_style(self, f"architecture-view--{name}")

        return Styles(
            style("title"),
            style("muted"),
            style("ok"),
            style("dead"),
            style("saturated"),
            *_signs(self.palette),
        )

    def _redraw(self) -> None:
        if not self._layers or not self.is_mounted:
            return
        self._drawn_width = self.size.width
        width = max(1, self.scrollable_content_region.width)
        hits: list[Hit] = []
        text = architecture_text(
            self._layers,
            width,
            self.glyphs,
            self._styles(),
            self._inputs,
            selected=self.selected,
            hits=hits,
        )
        self.hits = hits
        self._body.update(text)
