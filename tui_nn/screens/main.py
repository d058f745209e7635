"""The trainer: every panel of one session, the keys that drive it, and the training worker."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import ClassVar, cast

import numpy as np
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.events import Key, Resize
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.widgets import Footer, Static, Tab, Tabs

from engine.dp import load_accountant_soon
from engine.experiments.cache import Background
from engine.session import Session
from engine.snapshot import Snapshot
from tui_nn.messages import MeasurementLanded, TrainingProgress, TrainingStopped
from tui_nn.plane import legend, panes_legend
from tui_nn.readouts import describe_blowup, format_probe
from tui_nn.screens.dialogs import GoToDialog
from tui_nn.screens.help import HelpScreen, help_rows
from tui_nn.screens.lab import BLOCK_CHUNK, LAB_BINDINGS, LabScreen, epochs
from tui_nn.screens.story_card import StoryCard
from tui_nn.story import plain
from tui_nn.training import SPEEDS, FramePacer, SpeedMeter, thread_clock, train_loop
from tui_nn.widgets.architecture_view import ArchitectureView
from tui_nn.widgets.boundary_map import BoundaryMap, MapView, map_views, opening_view
from tui_nn.widgets.caption_bar import CaptionBar, CaptionKind
from tui_nn.widgets.experiment_panel import ExperimentPanel
from tui_nn.widgets.loss_panel import LossPanel
from tui_nn.widgets.map_legend import MapLegend
from tui_nn.widgets.neuron_maps import NeuronMaps
from tui_nn.widgets.panel import Panel
from tui_nn.widgets.status_line import StatusLine, TitleBar

BLOCK = 100
"""Epochs that `N` trains at once."""
MEASURE_PACE = 1.0
"""Seconds an expensive experiment measurement (an attack, a fitted copy) is reused for while
training runs; a pause measures again."""
WIDE = (110, 32)
"""Smallest (columns, rows) at which every panel is shown at once instead of behind tabs."""
LARGE = (150, 45)
"""From this size the neuron maps get more room and the network panel less."""
KEY_HOLD = 0.15
"""Seconds training pauses after a key, so the screen answers the key first (at top speed
the trainer and the interface otherwise share the interpreter)."""
TINY = (40, 12)
"""Below this size the screen asks for more room instead of drawing panels."""
PANES = (
    ("boundary", "Map", "Decision boundary"),
    ("experiment", "Experiment", "Experiment"),
    ("loss", "Loss", "Loss (log scale)"),
    ("architecture", "Network", "Network"),
    ("neurons", "Neurons", "Hidden neurons"),
)
"""(pane id, tab label, panel title), in tab order; the map comes first."""
PANE_TITLES = {pane: title for pane, _, title in PANES}
MEASURING = " · measuring…"
"""After the experiment panel's title while its figures are measured again (paused)."""
NOTICE_SECONDS = 5
"""How long a notice stays in the caption bar."""
TOO_SMALL = "Terminal too small\nneeds {} x {}, is {} x {}\nmake it larger"


class PaneTabs(Tabs, can_focus=False):
    """The tab bar of the narrow layout: clicked or chosen with 1-5, never focused, so the
    arrow keys always move the probe."""


class MainScreen(LabScreen):
    """The session's panels: map, experiment, loss, network and neuron maps."""

    AUTO_FOCUS = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_run", "Run", id="trainer.run", tooltip="Run or pause training"),
        Binding("n", "step", "Step", id="trainer.step", tooltip="Train one epoch"),
        Binding("N", "step_block", f"+{BLOCK}", show=False, id="trainer.step_block",
                tooltip=f"Train {BLOCK} epochs"),
        Binding("t", "view(1)", "Map view", id="trainer.view",
                tooltip="Show the next run on the map, then where two runs disagree"),
        Binding("T", "view(-1)", "Map view back", show=False, id="trainer.view_back",
                tooltip="Show the previous map view"),
        Binding("i", "story", "Story", id="trainer.story",
                tooltip="The scenario's description, moments and legend"),
        Binding("r", "reset", "Reset", id="trainer.reset",
                tooltip="Back to the scenario's initial weights, epoch 0"),
        Binding("o", "open", "Open", id="trainer.open",
                tooltip="Open another scenario (shipped, or *.toml here)"),
        Binding("s", "save", "Save", show=False, id="trainer.save",
                tooltip="Save the weights (safetensors)"),
        Binding("question_mark", "help", "Help", key_display="?", id="trainer.help",
                tooltip="Every key"),
        Binding("q", "quit", "Quit", id="trainer.quit", tooltip="Quit"),
        Binding("plus,equals_sign", "faster", "Faster", key_display="+", show=False,
                id="trainer.faster", tooltip="More epochs per frame"),
        Binding("minus", "slower", "Slower", key_display="-", show=False, id="trainer.slower",
                tooltip="Fewer epochs per frame"),
        Binding("z", "zoom", "Zoom", show=False, id="trainer.zoom",
                tooltip="Zoom the plane out: 1x, 4x, 25x, 100x, back"),
        Binding("p", "next_probe", "Probe point", show=False, id="trainer.probe_point",
                tooltip="Jump the probe to the scenario's next probe point"),
        Binding("g", "goto", "Go to", show=False, id="trainer.goto",
                tooltip="Type a point to put the probe on"),
        Binding("a", "ascii", "ASCII", show=False, id="trainer.ascii",
                tooltip="ASCII mode: glyphs instead of colour"),
        Binding("c", "chart", "Chart", show=False, id="trainer.chart",
                tooltip="Loss chart with axes"),
        Binding("pagedown", "scroll_experiment(1)", "Experiment down", show=False,
                id="experiment.page_down", tooltip="Scroll the experiment panel down"),
        Binding("pageup", "scroll_experiment(-1)", "Experiment up", show=False,
                id="experiment.page_up", tooltip="Scroll the experiment panel up"),
        Binding("x", "attack", "Attack", show=False, id="trainer.attack",
                tooltip="Aim the attacks at the probe (evasion: its nearest change of class)"),
        Binding("left,h", "probe(-1, 0)", "Probe left", show=False, priority=True,
                id="probe.left", tooltip="Move the probe left"),
        Binding("right,l", "probe(1, 0)", "Probe right", show=False, priority=True,
                id="probe.right", tooltip="Move the probe right"),
        Binding("up,k", "probe(0, 1)", "Probe up", show=False, priority=True, id="probe.up",
                tooltip="Move the probe up"),
        Binding("down,j", "probe(0, -1)", "Probe down", show=False, priority=True,
                id="probe.down", tooltip="Move the probe down"),
        *(
            Binding(str(i), f"pane('{pane}')", label, show=False, id=f"pane.{pane}",
                    tooltip=f"Tab: {title.lower()} (narrow terminals)")
            for i, (pane, label, title) in enumerate(PANES, start=1)
        ),
        *LAB_BINDINGS,
    ]  # fmt: skip

    glyphs = reactive(False, init=False)
    """ASCII mode for every panel (the panels are bound to it)."""

    def __init__(
        self, session: Session, *, glyphs: bool = False, fps: float = 15, story: bool = True
    ) -> None:
        super().__init__()
        self.session = session
        """The session on screen."""
        self.set_reactive(MainScreen.glyphs, glyphs)
        self.fps = fps
        """Most redraws per second."""
        self.story = story
        """Show the scenario's story card when a scenario opens."""
        self.epochs_per_frame = session.scenario.display.speed
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
        self._opened = False
        self._stopping = False
        self.probe_index = -1
        """The scenario probe point `p` jumped to last."""
        self._worker_done = threading.Event()
        self._worker_done.set()
        self._frame_shown = threading.Event()
        """Set once a frame the trainer asked for is on screen (the trainer waits for it)."""
        self._interface_clock: Callable[[], float] | None = None
        """The interface thread's processor time: the trainer waits until it stands still."""
        self._meter = SpeedMeter()
        self.pacer = FramePacer(fps)
        """When frames may be drawn while training runs (the terminal's backlog is read once
        the app runs)."""
        self._draw_pending = False
        self._moments_shown = 0
        self._redrawing_stale = False
        self._answering_until = 0.0

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        self.boundary = BoundaryMap(self.session.extent, id="boundary-map")
        yield TitleBar(id="title")
        yield StatusLine(id="status")
        yield CaptionBar(id="caption")
        yield PaneTabs(*(Tab(label, id=f"tab-{pane}") for pane, label, _ in PANES), id="tabs")
        with Container(id="panels"):
            with Container(id="boundary", classes="pane"):
                yield self.boundary
                yield MapLegend(id="map-legend")
            yield ExperimentPanel(id="experiment", classes="pane")
            yield LossPanel(id="loss", classes="pane")
            yield NeuronMaps(id="neurons", classes="pane")
            yield ArchitectureView(id="architecture", classes="pane")
        yield Static("", id="too-small")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._interface_clock = thread_clock(threading.get_ident())
        output = getattr(self.app, "output", None)
        if output is not None:
            self.pacer.backlog = lambda: output.backlog
        for pane, _, title in PANES:
            widget = self.query_one(f"#{pane}")
            widget.border_title = title
            widget.can_focus = False
        for panel in self.panels:
            panel.data_bind(MainScreen.glyphs)
        self.session_changed(story=False)
        self._apply_layout(self.size.width, self.size.height)
        # The bars are laid out before the panes have sizes: drawn now, they are in the frame
        # that first shows the map (the panels draw when they have sizes, ``_first_frame``).
        with self.session.lock:
            self.probe_output = self.session.probe(*self.boundary.probe, run=self._probe_run())
            self._draw_bars(self.session.snapshot(grid=(1, 1), grid_runs=()), self.probe_output)
        # The plane's colours come from the theme: a new theme redraws every panel.
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.redraw())

    def on_screen_resume(self) -> None:
        if not self._opened:  # Textual lays out the panes after this handler: draw then
            self._opened = True
            self.call_next(self._first_frame)

    def _first_frame(self) -> None:
        """Draw the trainer, then open the story card over it once it is on screen.

        Drawn as soon as the panes have sizes, not after the frame of empty panes is shown
        and every pane has heard its size (25-35 ms later); and a card opened first would be
        drawn a second time, dimming the trainer's first picture.
        """
        if not self.app.is_running:  # it ended before its first frame (a served trainer)
            return
        self.redraw()
        if self.story:
            self.call_after_refresh(self.action_story)
        self.call_after_refresh(self._first_frame_drawn)

    def _first_frame_drawn(self) -> None:
        freeze = getattr(self.app, "freeze_startup_heap", None)
        if freeze is not None:
            self.call_after_refresh(freeze)

    def on_key(self, event: Key) -> None:
        """A key: training and measuring hold off for a moment, so the answer is drawn at once."""
        self._answering_until = time.perf_counter() + KEY_HOLD

    def answering(self) -> bool:
        """Whether a key was pressed within the last KEY_HOLD seconds (any thread may ask)."""
        return time.perf_counter() < self._answering_until

    def on_resize(self, event: Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)
        self.call_after_refresh(self.redraw)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """The trainer's notices go to the caption bar above the panels, never over them."""
        kind: CaptionKind = "error" if severity == "error" else "notice"
        self.query_one(CaptionBar).say(message, kind, title, timeout=timeout or NOTICE_SECONDS)

    def _apply_layout(self, width: int, height: int) -> None:
        tiny = width < TINY[0] or height < TINY[1]
        wide = not tiny and width >= WIDE[0] and height >= WIDE[1]
        self.set_class(tiny, "-tiny")
        self.set_class(wide, "-wide")
        self.set_class(wide and width >= LARGE[0] and height >= LARGE[1], "-large")
        self.set_class(not tiny and not wide, "-narrow")
        if tiny:
            self.query_one("#too-small", Static).update(TOO_SMALL.format(*TINY, width, height))

    @property
    def panels(self) -> list[Panel]:
        """The panel widgets that take a snapshot."""
        return [
            self.boundary,
            self.query_one(ExperimentPanel),
            self.query_one(LossPanel),
            self.query_one(ArchitectureView),
            self.query_one(NeuronMaps),
        ]

    def session_changed(self, *, story: bool = True) -> None:
        """Fit the screen to the session: its experiment, opening view, range and speed.

        Args:
            story: Open the story card after this frame (when the screen shows stories).
        """
        session = self.session
        if session.background is None:  # attacks and fitted copies measured off this thread
            session.background = Background(
                lambda: self.post_message(MeasurementLanded()), hold=self.answering
            )
        if any(run.train_config.dp is not None for run in session.runs):
            load_accountant_soon()  # SciPy, while the story card is read: not on the first step
        experiments = bool(session.scenario.experiments.model_dump(exclude_none=True))
        self.set_class(experiments, "-experiment")
        order = ("experiment", "loss", "neurons", "architecture")
        if not experiments:
            order = ("experiment", "loss", "architecture", "neurons")
        panes = self.query_one("#panels")
        for name in order:
            panes.move_child(self.query_one(f"#{name}"), after=panes.children[-1])
        self.boundary.set_base_extent(session.extent)
        self.tool, self.seek_target = "", None
        self.query_one(ArchitectureView).select(None)
        self.show_selection()
        self.epochs_per_frame = session.scenario.display.speed
        self.blowup_message = ""
        self.probe_index = -1
        self._moments_shown = 0
        self.query_one(CaptionBar).clear()
        first = session.snapshot(experiments=False)
        self._set_view(opening_view(first))
        self.query_one(ExperimentPanel).scroll_home(animate=False)
        self._show_pane(self.active_pane)
        self.redraw()
        if story and self.story:
            # After the panels' frame: the card dims a screen that is already drawn, and the
            # trainer itself shows as soon as it can.
            self.call_after_refresh(self.action_story)

    def _show_pane(self, pane: str) -> None:
        self.active_pane = pane
        for name, _, _ in PANES:
            self.query_one(f"#{name}").set_class(name == pane, "-active")

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tab is not None and event.tab.id:
            self._show_pane(event.tab.id.removeprefix("tab-"))
            self.call_after_refresh(self.redraw)  # once the pane has its size

    def action_pane(self, pane: str) -> None:
        """Show one pane (when panes sit behind tabs)."""
        self.query_one(Tabs).active = f"tab-{pane}"

    def _set_view(self, view: MapView) -> None:
        self.boundary.set_view(view)
        shown = view.runs[-1] if view.difference else view.runs[0]
        self.query_one(NeuronMaps).run_index = shown
        self.query_one(ArchitectureView).run_index = shown
        self.query_one(StatusLine).set_state(run=shown)

    # -- what the lab reads ----------------------------------------------------------------

    @property
    def probe_point(self) -> tuple[float, float]:
        """Where the probe is on the plane."""
        return self.boundary.probe

    @property
    def map_run(self) -> int:
        """The run whose network and weights are shown (the one on the map)."""
        return min(self.query_one(ArchitectureView).run_index, len(self.session.slots) - 1)

    def map_options(self) -> tuple[bool, bool]:
        """(hard class colours, test points shown)."""
        return self.boundary.hard, self.boundary.show_test

    def set_map_options(self, *, hard: bool | None = None, show_test: bool | None = None) -> None:
        if hard is not None:
            self.boundary.set_hard(hard)
        if show_test is not None:
            self.boundary.set_show_test(show_test)

    def fit_to_session(self) -> None:
        runs = len(self.session.slots)
        if any(i >= runs for i in self.boundary.view.runs):
            self._set_view(MapView((0,)))
        view = self.query_one(ArchitectureView)
        selected = view.selected
        sizes = [cast(int, layer["n_out"]) for layer in self.session.architecture()]
        if selected is not None and (
            selected[0] >= len(sizes) or selected[1] >= sizes[selected[0]]
        ):
            view.select(None)
            self.show_selection()
        elif selected is not None and selected[2] is not None:
            n_in = cast(int, self.session.architecture()[selected[0]]["n_in"])
            if selected[2] >= n_in:
                view.select(None)
                self.show_selection()

    def show_selection(self) -> None:
        """The selected neuron's map on the main map, its numbers under the network."""
        view = self.query_one(ArchitectureView)
        selected = view.selected
        hidden = len(self.session.scenario.model.hidden)
        neuron = None if selected is None or selected[0] >= hidden else selected[:2]
        self.boundary.set_neuron(neuron)
        pane = self.query_one("#architecture")
        pane.border_subtitle = plain(view.selection_text)

    # -- drawing -----------------------------------------------------------------------

    def redraw(self) -> None:
        """Take one snapshot and hand it to every visible panel and the status lines.

        While training runs, expensive panels redraw at their own pace (``Panel.show``).
        """
        if not self.is_mounted or self.has_class("-tiny"):
            return
        self.pacer.drawn()
        if self.running:  # the trainer goes on once this frame is on screen
            self.call_after_refresh(self._frame_shown.set)
        self._draw_pending = False
        self.frames_drawn += 1
        session = self.session
        neurons = self.query_one(NeuronMaps).run_index
        with session.lock:  # one wait for the trainer's chunk, not two
            snapshot = session.snapshot(
                grid=self.boundary.grid_size(),
                extent=self.boundary.extent,
                grid_runs=sorted({*self.boundary.grid_runs(), neurons}),
            )
            self.probe_output = session.probe(*self.boundary.probe, run=self._probe_run())
        self.snapshot = snapshot
        wide = self.has_class("-wide")
        for panel in self.panels:
            pane = panel.parent if panel is self.boundary else panel
            if wide or (pane is not None and pane.has_class("-active")):
                panel.show(snapshot, paced=self.running)
        chart = getattr(self.app.screen, "show_snapshot", None)
        if chart is not None:  # the loss chart, open over the trainer
            chart(snapshot)
        if self.boundary.stale and not self._redrawing_stale:
            # The map's geometry changed with this very snapshot (panes appeared, say):
            # draw once more with a snapshot taken for it.
            self._redrawing_stale = True
            self.call_after_refresh(self._redraw_stale)
        self._draw_map_frame(snapshot)
        measuring = snapshot.measuring and not self.running
        self.query_one(ExperimentPanel).border_title = PANE_TITLES["experiment"] + (
            MEASURING if measuring else ""
        )
        self._draw_bars(snapshot, self.probe_output)
        self._past_caption(snapshot)

    def _probe_run(self) -> int:
        """The run that answers at the probe: the one on the map (the first of a pair)."""
        return min(self.boundary.view.runs[0], len(self.session.runs) - 1)

    def _draw_bars(self, snapshot: Snapshot, probe_output: np.ndarray) -> None:
        """The title bar and the status line (with the probe's reading)."""
        self.query_one(TitleBar).set(
            title=snapshot.title,
            running=self.training,
            epoch=snapshot.epoch,
            target=snapshot.target_epochs,
            head=snapshot.newest,
            epochs_per_frame=self.epochs_per_frame,
        )
        status = self.query_one(StatusLine)
        status.show(snapshot)
        status.set_state(
            zoom=self.boundary.zoom,
            glyphs=self.glyphs,
            probe=format_probe(self.boundary.probe, probe_output),
            tool=self._tool_text(),
            probe_short=format_probe(self.boundary.probe, probe_output, short=True),
        )

    def _tool_text(self) -> str:
        if self.tool == "add":
            return f"click adds class {self.point_class}"
        return {"flip": "click flips", "remove": "click removes"}.get(self.tool, "")

    def _past_caption(self, snapshot: Snapshot) -> None:
        """While looking back: say where, and what training from here would do."""
        caption = self.query_one(CaptionBar)
        if snapshot.in_past:
            caption.say(
                f"[ ] step, {{ }} jump, e explains a step; n or Space trains on from here "
                f"and drops {epochs(snapshot.epoch + 1, snapshot.newest)}.",
                "target",
                f"Looking back: epoch {snapshot.epoch:,} of {snapshot.newest:,}.",
            )
        elif caption.caption.startswith("[ ] step"):
            caption.clear()

    def _redraw_stale(self) -> None:
        self.redraw()
        self._redrawing_stale = False

    def _draw_map_frame(self, snapshot: Snapshot) -> None:
        """The map pane's title (what it shows), subtitle (the headline) and legend."""
        pane = self.query_one("#boundary")
        view = self.boundary.view
        title = view.title(snapshot)
        neuron = None
        if self.boundary.neuron is not None:
            layer, unit = self.boundary.neuron
            neuron = f"L{layer + 1}.{unit + 1}"
            title = f"neuron {neuron} of {snapshot.runs[view.runs[0]].label}"
        pane.border_title = plain(f"Map: {title}")
        pane.border_subtitle = plain(
            snapshot.experiments[0].headline if snapshot.experiments else ""
        )
        if neuron is not None:
            items = legend(snapshot, self.boundary.raster, neuron=neuron)
        else:
            items = panes_legend(snapshot, self.boundary.rasters, difference=view.difference)
        self.query_one(MapLegend).set_items(items, self.glyphs)

    def on_measurement_landed(self, message: MeasurementLanded) -> None:
        if not self.running:  # while running, the next frame draws it
            self.redraw()

    def on_training_progress(self, message: TrainingProgress) -> None:
        if message.epoch and self.session.last_fork is not None:
            self.fork_note()
        eps = self._meter.add(message.epoch)
        self.query_one(TitleBar).set(epochs_per_second=eps)
        if self.answering():
            # A key is being answered (training holds off meanwhile): its own frame shows the
            # state, and a frame for this message would only make that one wait.
            return
        if not self._draw_pending:
            self._paced_redraw()

    def _paced_redraw(self) -> None:
        """Draw now if the frame cap and the terminal allow, else once they do."""
        wait = self.pacer.wait()
        if wait <= 0:
            self.redraw()
        else:
            self._draw_pending = True
            self.set_timer(wait, self._paced_redraw)

    async def on_training_stopped(self, message: TrainingStopped) -> None:
        await self.stop_training()
        self.explain_pause()

    def explain_pause(self) -> None:
        """After training stopped by itself: say why in the caption bar, and redraw."""
        self.redraw()
        session = self.session
        self._moments_shown = min(self._moments_shown, len(session.moments))
        caption = self.query_one(CaptionBar)
        if session.blowup and self.snapshot is not None:
            self.blowup_message = describe_blowup(session.blowup, self.snapshot)
            caption.say(self.blowup_message, "error", "Training stopped:")
        elif len(session.moments) > self._moments_shown:
            epoch, moment = session.moments[-1]
            self._moments_shown = len(session.moments)
            when = f"Epoch {epoch:,}" + (f" ({moment.describe()})" if moment.event else "")
            caption.say(moment.caption + self._tab_hint(), "moment", when + ":")
        elif session.epoch == session.scenario.training.epochs:
            caption.say(
                "This is where the scenario's story ends. Space trains on; r starts again.",
                "target",
                f"Paused at the scenario's {session.epoch:,} epochs.",
            )

    def _tab_hint(self) -> str:
        """On a narrow terminal, where the panels a caption talks about are."""
        if not self.has_class("-narrow"):
            return ""
        tabs = [f"{i} {label.lower()}" for i, (_, label, _) in enumerate(PANES, 1)][1:3]
        return f" (keys {', '.join(tabs)})"

    def action_scroll_experiment(self, direction: int) -> None:
        """PageUp / PageDown: scroll the experiment panel."""
        self.query_one(ExperimentPanel).scroll_by_page(direction)

    # -- training ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the training worker is running."""
        return not self._worker_done.is_set()

    @property
    def training(self) -> bool:
        """Whether the worker runs and no pause is under way (what the title bar says)."""
        return self.running and not self._stopping

    def start_training(self) -> None:
        """Train continuously in a thread until paused (or until the scenario says pause)."""
        if self.running:
            return
        if self.session.blowup:
            self.explain_pause()
            return
        self.query_one(CaptionBar).clear()
        self.session.fork()
        self.fork_note()
        self._moments_shown = len(self.session.moments)
        target = self.session.scenario.training.epochs
        pause_at = target if self.session.epoch < target else None
        self._worker_done.clear()
        self._meter.reset()
        self.session.pace_measurements(MEASURE_PACE)
        self._train(self.session, self._worker_done, pause_at)
        self.query_one(TitleBar).set(running=True, epochs_per_second=None, head=self.session.head)

    @work(thread=True, exclusive=True, group="training", exit_on_error=False)
    def _train(self, session: Session, done: threading.Event, pause_at: int | None) -> None:
        train_loop(
            session,
            lambda: self.epochs_per_frame,
            self.fps,
            self.post_message,
            done,
            pause_at,
            hold=self.answering,
            shown=self._frame_shown,
            interface_clock=self._interface_clock,
        )

    def _cancel_training(self) -> None:
        """Ask the worker to stop after its current chunk (``stop_training`` waits for it)."""
        self._stopping = True
        self.workers.cancel_group(self, "job")
        self.workers.cancel_group(self, "training")
        self._frame_shown.set()  # a trainer waiting for a frame sees the cancel at once

    async def stop_training(self) -> None:
        """Cancel the worker and wait until its thread has let go of the session."""
        self._cancel_training()
        while not self._worker_done.is_set():
            await asyncio.sleep(0.005)
        self._stopping = False
        self.session.pace_measurements(0)
        self._meter.reset()
        if self.is_mounted:
            self.query_one(TitleBar).set(running=False, epochs_per_second=None)

    # -- actions -----------------------------------------------------------------------

    async def action_toggle_run(self) -> None:
        """Space: run or pause.

        A pause is on screen at once: the title says so in the next frame, while the trainer
        finishes its chunk (about CHUNK_SECONDS); the paused picture follows when it has.
        """
        if self.training:
            self._cancel_training()
            self.query_one(TitleBar).set(running=False, epochs_per_second=None)
            self.call_after_refresh(self._paused)
            return
        if self._stopping:  # pressed again before the pause was drawn: run on
            await self.stop_training()
        self.start_training()

    async def _paused(self) -> None:
        if self._stopping:  # (not run on already by another Space)
            await self.stop_training()
            self.redraw()

    async def action_step(self) -> None:
        """n: train one epoch (pauses a run first)."""
        await self.stop_training()
        moments = len(self.session.moments)
        self.query_one(CaptionBar).clear()
        self.session.step(1)
        self.fork_note()
        if self.session.blowup or len(self.session.moments) > moments:
            self._moments_shown = moments
            self.explain_pause()
        else:
            self.redraw()

    async def action_step_block(self) -> None:
        """N: train a block of epochs in the worker (stopping early at a moment)."""
        await self.stop_training()
        self.query_one(CaptionBar).clear()
        session = self.session
        self._moments_shown = len(session.moments)
        session.fork()
        self.fork_note()

        def block(cancelled: Callable[[], bool]) -> str:
            done = 0
            moments = len(session.moments)
            while done < BLOCK and not cancelled() and not session.blowup:
                trained = session.step(min(BLOCK_CHUNK, BLOCK - done))
                done += trained
                if not trained or len(session.moments) > moments:
                    break
            return ""

        self.run_job(block)

    def _change_speed(self, direction: int) -> None:
        index = min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - self.epochs_per_frame))
        index = min(max(index + direction, 0), len(SPEEDS) - 1)
        self.epochs_per_frame = SPEEDS[index]
        self.query_one(TitleBar).set(epochs_per_frame=self.epochs_per_frame)

    def action_faster(self) -> None:
        """+: more epochs per frame."""
        self._change_speed(1)

    def action_slower(self) -> None:
        """-: fewer epochs per frame."""
        self._change_speed(-1)

    async def action_reset(self) -> None:
        """r: back to the scenario's initial weights, epoch 0 (in the worker)."""
        await self.stop_training()
        self.blowup_message = ""
        self._moments_shown = 0
        self.query_one(CaptionBar).clear()
        session = self.session

        def reset(cancelled: Callable[[], bool]) -> str:
            session.reset()
            return "Back to epoch 0: the scenario's initial weights, no edits"

        self.run_job(reset)

    def action_probe(self, dx: int, dy: int) -> None:
        """Arrows/hjkl: move the probe one cell."""
        self.boundary.move_probe(dx, dy)
        self.redraw()

    def action_next_probe(self) -> None:
        """p: jump the probe to the scenario's next probe point (zooming out if needed)."""
        probes = self.session.scenario.probes
        if not probes:
            self.notify("This scenario has no probe points; g puts the probe anywhere.", timeout=3)
            return
        self.probe_index = (self.probe_index + 1) % len(probes)
        self.boundary.place_probe(*probes[self.probe_index].point)
        self.redraw()

    def action_goto(self) -> None:
        """g: type a point and put the probe there."""

        def go(point: tuple[float, float] | None) -> None:
            if point is not None:
                self.boundary.place_probe(*point)
                self.redraw()

        self.app.push_screen(GoToDialog(self.boundary.probe), go)

    def action_zoom(self) -> None:
        """z: widen the view (1x, 4x, 25x, 100x, then back)."""
        self.boundary.cycle_zoom()
        self.redraw()

    def action_ascii(self) -> None:
        """a: ASCII glyphs instead of colour, and back."""
        self.glyphs = not self.glyphs
        self.redraw()

    def action_view(self, step: int) -> None:
        """t / T: the next (previous) map view: each run, then the difference of two."""
        views = map_views(self.snapshot or self.session.snapshot(experiments=False))
        if len(views) < 2:
            self.notify("This scenario trains one run: there is no other view.", timeout=3)
            return
        current = views.index(self.boundary.view) if self.boundary.view in views else 0
        self._set_view(views[(current + step) % len(views)])
        self.action_pane("boundary")
        self.redraw()

    def action_story(self) -> None:
        """i: the scenario's story card."""
        snapshot = self.snapshot or self.session.snapshot()
        moments = [(m.describe(), m.caption) for m in self.session.scenario.moments]
        self.app.push_screen(StoryCard(snapshot, moments, self.glyphs))

    def action_chart(self) -> None:
        """c: the loss chart with axes."""
        from tui_nn.screens.loss_chart import LossChartScreen  # plotext: loaded on first use

        screen = LossChartScreen(glyphs=self.glyphs)
        self.app.push_screen(screen)
        if self.snapshot is not None:
            screen.show(self.snapshot)

    def action_attack(self) -> None:
        """x: aim the attacks at the probe point (again at the same point: stop aiming)."""
        if self.session.scenario.experiments.evasion is None:
            self.notify("Only the evasion scenarios attack a point (moons-evasion).", timeout=3)
            return
        probe = self.boundary.probe
        self.session.aim_at(None if self.session.aim == probe else probe)
        self.redraw()

    def action_help(self) -> None:
        """?: the keys."""
        self.app.push_screen(HelpScreen(help_rows(self)))

    async def action_quit(self) -> None:
        """q: stop training and quit."""
        await self.stop_training()
        self.app.exit(0)
