"""The base of every panel: it takes snapshots and redraws only when what it shows changed."""

from __future__ import annotations

import time
from collections.abc import Hashable

from textual.reactive import reactive
from textual.widget import Widget

from engine.snapshot import Snapshot
from tui_nn.widgets.palette import Palette, palette_for

DRAW_SHARE = 0.1
"""While training runs, the share of the time a panel may spend redrawing for new data."""


clock = time.perf_counter
"""The panels' clock (tests put their own)."""


class Panel(Widget):
    """A widget that draws part of a ``Snapshot``.

    The screen hands every visible panel each new snapshot through ``show``; a panel whose
    data and view state are unchanged returns at once. Subclasses implement ``draw`` and, when
    they have view state of their own (a selected run, a zoom), extend ``view_key``.
    """

    glyphs = reactive(False, init=False)
    """ASCII mode: glyphs instead of colour shades (bound to the screen's setting)."""

    def __init__(self, *, glyphs: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.set_reactive(Panel.glyphs, glyphs)
        self.snapshot: Snapshot | None = None
        """The snapshot last drawn."""
        self.draws = 0
        """How many times the panel redrew (for tests and benchmarks)."""
        self._shown: Hashable = None
        self._drawn_at = -1e9
        self._draw_seconds = 0.0

    @property
    def palette(self) -> Palette:
        """The colours of the app's theme and colour mode now."""
        return palette_for(self.app)

    def view_key(self) -> Hashable:
        """What besides the snapshot decides the picture; extend in subclasses."""
        return (self.glyphs,)

    def show(self, snapshot: Snapshot, *, paced: bool = False) -> None:
        """Draw this snapshot, unless it and the view are what is already drawn.

        With ``paced`` (training runs), a panel whose view is unchanged and only whose data
        moved on draws no more often than keeps its drawing to DRAW_SHARE of the time: an
        expensive panel (a large network's weights) then lags a little behind the others
        instead of delaying every frame and every key.
        """
        view = (snapshot.scenario, self.palette.key, self.view_key())
        key = (snapshot.revision, snapshot.measured, view)
        if key == self._shown and self.snapshot is not None:
            return
        now = clock()
        if (
            paced
            and self._shown is not None
            and self._shown[-1] == view  # type: ignore[index]
            and now - self._drawn_at < self._draw_seconds / DRAW_SHARE
        ):
            return
        self._shown = key
        self.snapshot = snapshot
        self.draws += 1
        self.draw(snapshot)
        self._drawn_at = clock()
        self._draw_seconds = self._drawn_at - now

    def invalidate(self) -> None:
        """Forget what is drawn: the next ``show`` draws whatever it is handed.

        For view changes the last snapshot cannot serve (another run's grid, a new zoom): the
        screen takes a fresh snapshot and shows it right after.
        """
        self._shown = None

    def redraw(self) -> None:
        """Draw the last snapshot again (the view state changed)."""
        self._shown = None
        if self.snapshot is not None:
            self.show(self.snapshot)

    def draw(self, snapshot: Snapshot) -> None:
        """Update the widget from the snapshot."""
        raise NotImplementedError

    def watch_glyphs(self) -> None:
        self.redraw()
