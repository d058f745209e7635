"""The trainer: every panel of one session, the keys that drive it, and the training worker."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import ClassVar

import numpy as np
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.events import Resize
from textual.widget import Widget
from textual.widgets import Footer, Static, Tab, Tabs

from engine.session import Session
from engine.snapshot import Snapshot
from tui_nn.messages import TrainingProgress, TrainingStopped
from tui_nn.screens.help import HelpScreen, help_rows
from tui_nn.screens.loss_chart import LossChartScreen
from tui_nn.screens.readouts import describe_blowup, format_probe
from tui_nn.screens.session_files import SessionFiles
from tui_nn.screens.training import DEFAULT_SPEED, SPEEDS, SpeedMeter, train_loop
from tui_nn.widgets.architecture_view import ArchitectureView
from tui_nn.widgets.boundary_map import BoundaryMap
from tui_nn.widgets.loss_panel import LossPanel
from tui_nn.widgets.neuron_maps import NeuronMaps
from tui_nn.widgets.status_line import StatusLine
from tui_nn.widgets.twin_panel import TwinPanel

BLOCK = 100
"""Epochs that `N` trains at once."""
WIDE = (110, 32)
"""Smallest (columns, rows) at which every panel is shown at once instead of behind tabs."""
TINY = (40, 12)
"""Below this size the screen asks for more room instead of drawing panels."""
PANES = (
    ("boundary", "Boundary", "Decision boundary"),
    ("architecture", "Network", "Network"),
    ("loss", "Loss", "Loss"),
    ("neurons", "Neurons", "Hidden neurons"),
    ("twins", "Twins", "Twins"),
)
"""(pane id, tab label, panel title), in tab order; the boundary map comes first."""
TOO_SMALL = "Terminal too small\nneeds {} x {}, is {} x {}\nmake it larger"


class PaneTabs(Tabs, can_focus=False):
    """The tab bar of the narrow layout: clicked or chosen with 1-5, never focused, so the
    arrow keys always move the probe."""


class MainScreen(SessionFiles):
    """The session's panels: boundary, network, loss, neuron maps and twins."""

    AUTO_FOCUS = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_run", "Run", id="trainer.run"),
        Binding("n", "step", "Step", id="trainer.step"),
        Binding("N", "step_block", f"+{BLOCK}", id="trainer.step_block"),
        Binding("r", "reset", "Reset", id="trainer.reset"),
        Binding("o", "open", "Open", id="trainer.open"),
        Binding("s", "save", "Save", id="trainer.save"),
        Binding("question_mark", "help", "Help", key_display="?", id="trainer.help"),
        Binding("q", "quit", "Quit", id="trainer.quit"),
        Binding("plus,equals_sign", "faster", "Faster", key_display="+", id="trainer.faster"),
        Binding("minus", "slower", "Slower", key_display="-", id="trainer.slower"),
        Binding("z", "zoom", "Zoom", id="trainer.zoom"),
        Binding("a", "ascii", "ASCII", id="trainer.ascii"),
        Binding("t", "twin", "Twin", id="trainer.twin"),
        Binding("c", "chart", "Chart", id="trainer.chart"),
        Binding("left,h", "probe(-1, 0)", "Probe left", show=False, priority=True, id="probe.left"),
        Binding(
            "right,l", "probe(1, 0)", "Probe right", show=False, priority=True, id="probe.right"
        ),
        Binding("up,k", "probe(0, 1)", "Probe up", show=False, priority=True, id="probe.up"),
        Binding("down,j", "probe(0, -1)", "Probe down", show=False, priority=True, id="probe.down"),
        *(
            Binding(str(i), f"pane('{pane}')", label, show=False, id=f"pane.{pane}")
            for i, (pane, label, _) in enumerate(PANES, start=1)
        ),
    ]

    def __init__(self, session: Session, *, glyphs: bool = False, fps: float = 15) -> None:
        super().__init__()
        self.session = session
        """The session on screen."""
        self.glyphs = glyphs
        """ASCII mode for every panel."""
        self.fps = fps
        """Most redraws per second."""
        self.epochs_per_frame = DEFAULT_SPEED
        """Epochs trained between two frames while running."""
        self.snapshot: Snapshot | None = None
        """The last snapshot drawn."""
        self.probe_output: np.ndarray | None = None
        """The exact output at the probe (Session.probe), as shown in the status line."""
        self.blowup_message = ""
        """Why training stopped by itself, or empty."""
        self.active_pane = "boundary"
        """The pane shown when panes sit behind tabs."""
        self.frames_drawn = 0
        """Redraws so far (for tests and benchmarks)."""
        self._worker_done = threading.Event()
        self._worker_done.set()
        self._meter = SpeedMeter()
        self._last_draw = 0.0
        self._draw_pending = False

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        self.boundary = BoundaryMap(self.session.extent, glyphs=self.glyphs, id="boundary-map")
        yield StatusLine(id="status")
        yield PaneTabs(*(Tab(label, id=f"tab-{pane}") for pane, label, _ in PANES), id="tabs")
        with Container(id="panels"):
            with Container(id="boundary", classes="pane"):
                yield self.boundary
            yield ArchitectureView(glyphs=self.glyphs, id="architecture", classes="pane")
            yield LossPanel(glyphs=self.glyphs, id="loss", classes="pane")
            yield NeuronMaps(glyphs=self.glyphs, id="neurons", classes="pane")
            yield TwinPanel(glyphs=self.glyphs, id="twins", classes="pane")
        yield Static("", id="too-small")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        for pane, _, title in PANES:
            widget = self.query_one(f"#{pane}")
            widget.border_title = title
            widget.can_focus = False
        self.session_changed()
        self._apply_layout(self.size.width, self.size.height)

    def on_resize(self, event: Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)
        self.call_after_refresh(self.redraw)

    def _apply_layout(self, width: int, height: int) -> None:
        tiny = width < TINY[0] or height < TINY[1]
        wide = not tiny and width >= WIDE[0] and height >= WIDE[1]
        self.set_class(tiny, "-tiny")
        self.set_class(wide, "-wide")
        self.set_class(not tiny and not wide, "-narrow")
        if tiny:
            self.query_one("#too-small", Static).update(TOO_SMALL.format(*TINY, width, height))

    def session_changed(self) -> None:
        """Fit the panels to the session (twins or not, its display range) and draw it."""
        twins = bool(self.session.twins)
        self.query_one(TwinPanel).twin_index = 0
        self.set_class(twins, "-twins")
        tabs = self.query_one(Tabs)
        if twins:
            tabs.show("tab-twins")
        else:
            tabs.hide("tab-twins")
            if self.active_pane == "twins":
                self.action_pane("boundary")
        self.boundary.set_base_extent(self.session.extent)
        self._show_pane(self.active_pane)
        self.blowup_message = ""
        self.redraw()

    def _show_pane(self, pane: str) -> None:
        self.active_pane = pane
        for name, _, _ in PANES:
            self.query_one(f"#{name}").set_class(name == pane, "-active")

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tab is not None and event.tab.id:
            self._show_pane(event.tab.id.removeprefix("tab-"))
            self.redraw()

    def action_pane(self, pane: str) -> None:
        """Show one pane (when panes sit behind tabs)."""
        if pane == "twins" and not self.session.twins:
            return
        self.query_one(Tabs).active = f"tab-{pane}"

    @property
    def panels(self) -> list[Widget]:
        """The panel widgets that take a snapshot."""
        return [
            self.boundary,
            *(self.query_one(f"#{p}") for p, _, _ in PANES if p != "boundary"),
        ]

    # -- drawing -----------------------------------------------------------------------

    def redraw(self) -> None:
        """Take one snapshot and hand it to every visible panel and the status line."""
        if not self.is_mounted or self.has_class("-tiny"):
            return
        self._last_draw = time.perf_counter()
        self._draw_pending = False
        self.frames_drawn += 1
        session = self.session
        snapshot = session.snapshot(grid=self.boundary.grid_size(), extent=self.boundary.extent)
        self.snapshot = snapshot
        wide = self.has_class("-wide")
        for panel in self.panels:
            pane = self.boundary.parent if panel is self.boundary else panel
            if (wide or (pane is not None and pane.has_class("-active"))) and (
                panel.id != "twins" or session.twins
            ):
                panel.show(snapshot)  # type: ignore[attr-defined]
        if isinstance(self.app.screen, LossChartScreen):
            self.app.screen.show(snapshot)
        point = self.boundary.move_probe(0, 0)  # onto its cell's centre after a resize or zoom
        self.probe_output = session.probe(*point)
        status = self.query_one(StatusLine)
        status.show(snapshot)
        status.set_state(
            running=self.running,
            epochs_per_frame=self.epochs_per_frame,
            zoom=self.boundary.zoom,
            glyphs=self.glyphs,
            probe=format_probe(point, self.probe_output),
            blowup=self.blowup_message,
        )

    def on_training_progress(self, message: TrainingProgress) -> None:
        eps = self._meter.add(message.epoch)
        self.query_one(StatusLine).set_state(epochs_per_second=eps)
        wait = 1.0 / self.fps - (time.perf_counter() - self._last_draw)
        if wait <= 0:
            self.redraw()
        elif not self._draw_pending:
            self._draw_pending = True
            self.set_timer(wait, self.redraw)

    async def on_training_stopped(self, message: TrainingStopped) -> None:
        await self.stop_training()
        self._report_blowup()

    def _report_blowup(self) -> None:
        self.redraw()
        blowup = self.session.blowup
        if blowup and not self.blowup_message and self.snapshot is not None:
            self.blowup_message = describe_blowup(blowup, self.snapshot)
            self.notify(self.blowup_message, title="Training stopped", severity="error")
            self.redraw()

    # -- training ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the training worker is running."""
        return not self._worker_done.is_set()

    def start_training(self) -> None:
        """Train continuously in a thread until paused."""
        if self.running:
            return
        if self.session.blowup:
            self._report_blowup()
            return
        self._worker_done.clear()
        self._meter.reset()
        self._train(self.session, self._worker_done)
        self.query_one(StatusLine).set_state(running=True)

    @work(thread=True, exclusive=True, group="training", exit_on_error=False)
    def _train(self, session: Session, done: threading.Event) -> None:
        train_loop(session, lambda: self.epochs_per_frame, self.fps, self.post_message, done)

    async def stop_training(self) -> None:
        """Cancel the worker and wait until its thread has let go of the session."""
        self.workers.cancel_group(self, "training")
        while not self._worker_done.is_set():
            await asyncio.sleep(0.005)
        self._meter.reset()
        if self.is_mounted:
            self.query_one(StatusLine).set_state(running=False, epochs_per_second=None)

    # -- actions -----------------------------------------------------------------------

    async def action_toggle_run(self) -> None:
        """Space: run or pause."""
        if self.running:
            await self.stop_training()
            self.redraw()
        else:
            self.start_training()

    async def _step(self, epochs: int) -> None:
        await self.stop_training()
        self.session.step(epochs)
        self._report_blowup()

    async def action_step(self) -> None:
        """n: train one epoch (pauses a run first)."""
        await self._step(1)

    async def action_step_block(self) -> None:
        """N: train a block of epochs."""
        await self._step(BLOCK)

    def _change_speed(self, direction: int) -> None:
        index = min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - self.epochs_per_frame))
        index = min(max(index + direction, 0), len(SPEEDS) - 1)
        self.epochs_per_frame = SPEEDS[index]
        self.query_one(StatusLine).set_state(epochs_per_frame=self.epochs_per_frame)

    def action_faster(self) -> None:
        """+: more epochs per frame."""
        self._change_speed(1)

    def action_slower(self) -> None:
        """-: fewer epochs per frame."""
        self._change_speed(-1)

    async def action_reset(self) -> None:
        """r: back to the scenario's initial weights, epoch 0."""
        await self.stop_training()
        self.session.reset()
        self.blowup_message = ""
        self.redraw()

    def action_probe(self, dx: int, dy: int) -> None:
        """Arrows/hjkl: move the probe one cell."""
        self.boundary.move_probe(dx, dy)
        self.redraw()

    def action_zoom(self) -> None:
        """z: widen the view (1x, 4x, 25x, 100x, then back)."""
        zoom = self.boundary.cycle_zoom()
        self.notify(f"Zoom {zoom:g}×: the plane {zoom:g} times wider", timeout=2)
        self.redraw()

    def action_ascii(self) -> None:
        """a: ASCII glyphs instead of colour, and back."""
        self.glyphs = not self.glyphs
        self.boundary.set_glyphs(self.glyphs)
        for panel in self.panels[1:]:
            panel.glyphs = self.glyphs  # type: ignore[attr-defined]
        self.redraw()

    def action_twin(self) -> None:
        """t: show the twin panel, and cycle through the twins."""
        twins = self.session.twins
        if not twins:
            self.notify("This scenario has no twin runs.", timeout=3)
            return
        panel = self.query_one(TwinPanel)
        if self.has_class("-wide") or self.active_pane == "twins":
            panel.twin_index = (panel.twin_index + 1) % len(twins)
        self.action_pane("twins")
        self.notify(f"Twin: {twins[panel.twin_index].label}", timeout=2)
        self.redraw()

    def action_chart(self) -> None:
        """c: the loss chart with axes."""
        screen = LossChartScreen(glyphs=self.glyphs)
        self.app.push_screen(screen)
        if self.snapshot is not None:
            screen.show(self.snapshot)

    def action_help(self) -> None:
        """?: the keys."""
        self.app.push_screen(HelpScreen(help_rows(self)))

    async def action_quit(self) -> None:
        """q: stop training and quit."""
        await self.stop_training()
        self.app.exit(0)
