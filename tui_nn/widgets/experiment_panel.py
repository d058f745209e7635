"""The experiment panel: each experiment's figures with their meanings, updated live.

It draws the session's ``ExperimentView``s with the same words the headless summary prints
(``tui_nn.story``), and an experiment's curves (the butterfly's drift) as a log chart.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from engine.experiments.view import ExperimentView
from engine.snapshot import Snapshot
from tui_nn.plane import CLASSES_SHOWN
from tui_nn.story import experiment_text
from tui_nn.widgets.curve_plot import Curve, CurvePlot, legend_segments
from tui_nn.widgets.palette import run_colours
from tui_nn.widgets.panel import Panel

NO_EXPERIMENT = (
    "This scenario runs no experiment: it is a baseline to learn the screen with. Open one "
    "that breaks the network with o (moons-ood, moons-poison, moons-butterfly, "
    "moons-float16, moons-side-channel)."
)
CHART_HEIGHT = 8
"""Lines of an experiment's chart."""


class ExperimentSection(Vertical):
    """One experiment: its text, and its chart when it has curves."""

    DEFAULT_CSS = """
    ExperimentSection {
        height: auto;
        margin-bottom: 1;
    }
    ExperimentSection > .experiment-text {
        height: auto;
    }
    ExperimentSection > CurvePlot {
        height: 8;
        margin-top: 1;
    }
    ExperimentSection > .experiment-legend {
        height: auto;
    }
    """

    def __init__(self, name: str, has_chart: bool) -> None:
        super().__init__(id=f"experiment-{name}")
        self.has_chart = has_chart
        """Whether this experiment draws curves."""
        self.text = Static("", classes="experiment-text")
        """The figures, table, histogram and notes."""
        self.chart = CurvePlot(classes="experiment-chart")
        """The experiment's curves (when it has any)."""
        self.legend = Static("", classes="experiment-legend")
        """What each curve is."""

    def compose(self) -> ComposeResult:
        yield self.text
        if self.has_chart:
            yield self.chart
            yield self.legend


class ExperimentPanel(Panel, VerticalScroll):
    """Every experiment of the session, one section each, scrolling when they do not fit."""

    DEFAULT_CSS = """
    ExperimentPanel {
        height: 1fr;
        scrollbar-size: 1 1;
        padding: 0 1 0 0;
    }
    ExperimentPanel > #no-experiment {
        color: $text-muted;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._names: tuple[str, ...] | None = None
        self.sections: dict[str, ExperimentSection] = {}
        """One section per experiment of the session shown."""

    def view_key(self) -> Hashable:
        return (self.glyphs, self.size.width, self.app.theme)

    def draw(self, snapshot: Snapshot) -> None:
        if not self.is_mounted:
            return
        names = tuple(v.name for v in snapshot.experiments)
        if names != self._names:
            self._names = names
            self.remove_children()
            self.sections = {
                v.name: ExperimentSection(v.name, bool(v.series)) for v in snapshot.experiments
            }
            if not names:
                self.mount(Static(NO_EXPERIMENT, id="no-experiment"))
            else:
                self.mount_all(self.sections.values())
        width = max(20, self.scrollable_content_region.width)
        title = self.app.theme_variables.get("text-accent") or ""
        for view in snapshot.experiments:
            section = self.sections[view.name]
            text = experiment_text(
                view,
                width,
                glyphs=self.glyphs,
                title=Style.parse(f"bold {title}") if title else Style(bold=True),
                class_styles=[self.palette.class_style(c) for c in range(CLASSES_SHOWN)],
            )
            section.text.update(text)
            if section.has_chart and view.series:
                self._chart(section, view, snapshot)

    def _chart(self, section: ExperimentSection, view: ExperimentView, snapshot: Snapshot) -> None:
        colours = run_colours(self.app.theme_variables, len(view.series) + 1)[1:]
        curves = [
            Curve(s.label, s.x, np.asarray(s.y, dtype=np.float64), colour)
            for s, colour in zip(view.series, colours, strict=True)
        ]
        log = any(s.log for s in view.series)
        plot = section.chart
        plot.plot(curves, log=log, glyphs=self.glyphs, key=(snapshot.revision, self.view_key()))
        legend = Text()
        for text, style in legend_segments(curves, self.glyphs, Style()):
            legend.append(text, style)
        legend.append("(log)" if log else "", Style(dim=True))
        section.legend.update(legend)
