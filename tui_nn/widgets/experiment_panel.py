"""The experiment panel: each experiment's figures with their meanings, updated live.

It draws the session's ``ExperimentView``s with the same words the headless summary prints
(``tui_nn.story``), in the order a presenter needs them: the headline, then the picture (the
butterfly's drift chart, the precision table, the side channel's histogram), then each figure
and its meaning, then any listing and the notes. When the panel is too short for all of it,
the meanings give way first, so the picture and the numbers stay in view; the listing and the
notes follow below, PageDown and PageUp scroll to them, and the panel's frame says so.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.events import Resize
from textual.widgets import Static

from engine.experiments.view import ExperimentView
from engine.snapshot import Snapshot
from tui_nn.plane import CLASSES_SHOWN
from tui_nn.story import (
    block_text,
    clean,
    figure_lines,
    listing_text,
    notes_text,
    shown_figures,
)
from tui_nn.widgets.curve_plot import Curve, CurvePlot, legend_segments
from tui_nn.widgets.palette import run_colours
from tui_nn.widgets.panel import Panel

NO_EXPERIMENT = (
    "This scenario runs no experiment: it is a baseline to learn the screen with. Open one "
    "that breaks the network with o (moons-ood, moons-poison, moons-butterfly, "
    "moons-float16, moons-side-channel), or one that attacks it (moons-evasion, "
    "moons-extraction, moons-membership, moons-leakage, moons-backdoor, supply-chain)."
)
CHART_HEIGHT = 8
"""Lines of an experiment's chart."""


def dense(x: np.ndarray, y: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """A curve of a few points (robust accuracy at 11 eps values, a ROC) joined by straight
    segments at ``points`` x values, so the braille plot draws lines rather than dots."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 2 or len(x) >= points or np.any(np.diff(x) < 0):
        return x, y
    t = np.linspace(0.0, len(x) - 1.0, points)  # along the polyline, so vertical steps stay
    i = np.minimum(t.astype(np.int64), len(x) - 2)
    f = t - i
    return x[i] + f * (x[i + 1] - x[i]), y[i] + f * (y[i + 1] - y[i])


class ExperimentSection(Vertical):
    """One experiment: headline, chart, table or histogram, figures, notes."""

    DEFAULT_CSS = """
    ExperimentSection {
        height: auto;
        margin-bottom: 1;
    }
    ExperimentSection > Static {
        height: auto;
    }
    ExperimentSection > .experiment-title {
        text-style: bold;
        color: $text-accent;
    }
    ExperimentSection > .experiment-block {
        margin-top: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ExperimentSection > .experiment-figures {
        margin-top: 1;
    }
    ExperimentSection > .experiment-listing {
        margin-top: 1;
        color: $text-muted;
        text-wrap: nowrap;
    }
    ExperimentSection > .experiment-notes {
        margin-top: 1;
        color: $text-muted;
    }
    ExperimentSection > CurvePlot {
        height: 8;
        margin-top: 1;
    }
    """

    def __init__(self, view: ExperimentView) -> None:
        super().__init__(id=f"experiment-{view.name}")
        self.has_chart = bool(view.series)
        """Whether this experiment draws curves."""
        self.title = Static(view.title, classes="experiment-title", markup=False)
        self.headline = Static("", classes="experiment-headline")
        self.chart = CurvePlot(classes="experiment-chart")
        """The experiment's curves (when it has any)."""
        self.legend = Static("", classes="experiment-legend")
        self.block = Static("", classes="experiment-block")
        """The table or histogram."""
        self.figures = Static("", classes="experiment-figures")
        self.listing = Static("", classes="experiment-listing")
        """Lines shown as they are (a refused pickle's opcodes)."""
        self.notes = Static("", classes="experiment-notes")

    def compose(self) -> ComposeResult:
        yield self.title
        yield self.headline
        if self.has_chart:
            yield self.chart
            yield self.legend
        yield self.block
        yield self.figures
        yield self.listing
        yield self.notes


class ExperimentPanel(Panel, VerticalScroll):
    """Every experiment of the session, one section each."""

    DEFAULT_CSS = """
    ExperimentPanel {
        height: 1fr;
        overflow-y: auto;
        scrollbar-size: 1 1;
        padding: 0 1 0 0;
    }
    ExperimentPanel > #no-experiment {
        color: $text-muted;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._names: tuple[str, ...] | None = None
        self.sections: dict[str, ExperimentSection] = {}
        """One section per experiment of the session shown."""
        self.compact = False
        """Whether the figures' meanings were left out to keep the figures in view."""

    def view_key(self) -> Hashable:
        return (self.glyphs, tuple(self.size), self.app.theme)

    def on_resize(self, event: Resize) -> None:
        # A hidden tab has no size: lay the text out again at the real width once shown.
        self.redraw()

    def draw(self, snapshot: Snapshot) -> None:
        if not self.is_mounted:
            return
        names = tuple(v.name for v in snapshot.experiments)
        if names != self._names:
            self._names = names
            self.remove_children()
            self.sections = {v.name: ExperimentSection(v) for v in snapshot.experiments}
            if not names:
                self.mount(Static(NO_EXPERIMENT, id="no-experiment"))
            else:
                self.mount_all(self.sections.values())
        width = self.scrollable_content_region.width
        if width <= 0:
            return  # not laid out yet (a hidden tab): on_resize draws it
        styles = [self.palette.class_style(c) for c in range(CLASSES_SHOWN)]
        parts = {
            view.name: (
                Text(clean(view.headline)),
                block_text(view, width, glyphs=self.glyphs, class_styles=styles),
                shown_figures(view),
            )
            for view in snapshot.experiments
        }
        self.compact = self._lines(parts, width, meanings=True) > self.size.height
        for view in snapshot.experiments:
            headline, block, figures = parts[view.name]
            section = self.sections[view.name]
            section.headline.update(headline)
            section.block.update(block or "")
            section.block.display = block is not None
            section.figures.update(figure_lines(figures, width, meanings=not self.compact))
            section.figures.display = bool(figures)
            section.listing.update(listing_text(view.listing, width))
            section.listing.display = bool(view.listing)
            section.notes.update(notes_text(view, width))
            section.notes.display = bool(view.notes)
            if section.has_chart and view.series:
                self._chart(section, view, snapshot)
        self.call_after_refresh(self.show_scroll_hint)

    def show_scroll_hint(self) -> None:
        """The frame says when there is more above or below (PageUp, PageDown)."""
        if self.scroll_y < self.max_scroll_y:
            self.border_subtitle = "PgDn: more"
        elif self.scroll_y > 0:
            self.border_subtitle = "PgUp: back"
        else:
            self.border_subtitle = None

    def watch_virtual_size(self) -> None:
        self.show_scroll_hint()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self.show_scroll_hint()

    def _lines(self, parts: dict[str, tuple], width: int, *, meanings: bool) -> int:
        """Lines the sections need at this width (an estimate that errs long)."""
        total = 0
        for name, (headline, block, figures) in parts.items():
            total += 2 + len(headline.plain) // max(1, width) + 1  # title, headline, gap
            if self.sections[name].has_chart:
                total += CHART_HEIGHT + 2
            if block is not None:
                total += 1 + block.plain.count("\n") + 1
            total += 1 + len(figures) * (2 if meanings else 1)
        return total

    def _chart(self, section: ExperimentSection, view: ExperimentView, snapshot: Snapshot) -> None:
        colours = run_colours(self.app.theme_variables, len(view.series) + 1)[1:]
        curves = [
            Curve(s.label, *dense(s.x, s.y, 2 * self.size.width), colour)
            for s, colour in zip(view.series, colours, strict=True)
        ]
        log = any(s.log for s in view.series)
        plot = section.chart
        key = (snapshot.revision, snapshot.measured, self.view_key())
        plot.plot(curves, log=log, glyphs=self.glyphs, key=key)
        legend = Text()
        for text, style in legend_segments(curves, self.glyphs, Style()):
            legend.append(text, style)
        legend.append("(log scale)" if log else "", Style(dim=True))
        x_label = next((s.x_label for s in view.series if s.x_label), "")
        if x_label:
            xs = np.concatenate([np.asarray(s.x, dtype=np.float64) for s in view.series])
            legend.append(f"  x: {x_label} {xs.min():g} to {xs.max():g}", Style(dim=True))
        section.legend.update(legend)

    def scroll_by_page(self, direction: int) -> None:
        """Scroll the panel a page up (-1) or down (1)."""
        if direction > 0:
            self.scroll_page_down(animate=False)
        else:
            self.scroll_page_up(animate=False)
