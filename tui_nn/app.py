"""The Textual trainer: `run_app` starts it on a scenario file."""

from __future__ import annotations

import difflib
import gc
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import ClassVar, Literal, cast

from textual import constants
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.driver import Driver
from textual.screen import Screen

from engine.session import Session
from tui_nn.catalog import DEFAULT_SCENARIO, resolve
from tui_nn.contrast import make_variables_readable
from tui_nn.keymap import default_keymap_path, load_keymap
from tui_nn.messages import TerminalLost
from tui_nn.screens.dialogs import ErrorDialog, GoToDialog, SaveDialog
from tui_nn.screens.help import HelpScreen
from tui_nn.screens.main import MainScreen
from tui_nn.screens.picker import PickerScreen
from tui_nn.signals import end_on_signals
from tui_nn.terminal import MeteredFile, metered, remote
from tui_nn.training import default_fps
from tui_nn.widgets.palette import ColorMode, color_mode, uses_glyphs

GC_THRESHOLDS = (5000, 10, 10)
"""The collector's thresholds while the trainer runs: a youngest generation of 5,000 net
allocations instead of 700, so a full collection comes 7 times less often."""

ColorOption = Literal["auto", "truecolor", "256", "16", "none"]

RICH_COLOR_SYSTEMS = {"truecolor": "truecolor", "256": "256", "16": "standard"}
"""Our colour modes as Rich names them."""


SWITCH_INTERVAL = 0.001
"""Seconds a thread runs before the interpreter may hand over to another while the trainer
runs (Python's default is 0.005)."""
BLAS_THREADS = 1
"""BLAS threads while the trainer runs. Training and drawing already take a core each, and at
these sizes a second BLAS thread gains nothing: it spins (spiral at top speed: 1.9 cores busy
with two threads, 1.0 with one, and more epochs per second with one)."""


class TuiNN(App[int]):
    """tui-nn: watch a tiny neural network learn, epoch by epoch.

    Args:
        session: The session to show (already loaded and validated); the default scenario
            when not given, so `textual run tui_nn.app:TuiNN` works.
        glyphs: Start in ASCII mode (no colour shading); by default when the terminal shows
            16 colours or none (Rich's detection, as Textual draws with it).
        fps: Most redraws per second (by default 15, or 8 over SSH: ``default_fps``).
        story: Show the scenario's story card when it opens.
    """

    CSS_PATH = "app.tcss"
    TITLE = "tui-nn"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        # Textual asks "do you want to quit?" on Ctrl+C; here it quits, as in other programs.
        # A text field's own Ctrl+C (copy) still comes first while it has the focus.
        Binding("ctrl+c", "quit", "Quit", show=False, id="app.quit_ctrl_c", tooltip="Quit"),
    ]

    def __init__(
        self,
        session: Session | None = None,
        *,
        glyphs: bool | None = None,
        fps: float | None = None,
        story: bool = True,
        keymap: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.user_keymap = dict(keymap or {})
        """Binding id -> keys from the user's keymap file (see ``tui_nn.keymap``)."""
        self._restore_signals: Callable[[], None] = lambda: None
        if session is None:  # `textual run tui_nn.app:TuiNN` and friends: the default scenario
            session = Session.from_file(resolve(DEFAULT_SCENARIO))
        self.session = session
        """The session the app opened with."""
        self.story = story
        """Show each scenario's story card when it opens."""
        self.color_mode: ColorMode = color_mode(self)
        """What the terminal shows: 'truecolor', '256', '16' or 'none'."""
        self.glyphs = uses_glyphs(self.color_mode) if glyphs is None else glyphs
        """Whether the trainer starts in ASCII mode."""
        self.fps = max(1.0, fps if fps is not None else default_fps(remote()))
        """Most redraws per second."""
        self.freeze_heap = False
        """Once the first frame is drawn, move everything alive into the collector's permanent
        generation (the program's own run sets it; tests, which start many apps in one
        process, do not)."""

    def get_driver_class(self) -> type[Driver]:
        driver = super().get_driver_class()
        # Textual's web driver is imported only for `tui-nn serve` (so is ours, then).
        web = sys.modules.get("textual.drivers.web_driver")
        if web is not None and issubclass(driver, web.WebDriver):  # end with the server
            from tui_nn.web_driver import ServedDriver

            return ServedDriver
        return metered(driver)

    @property
    def output(self) -> MeteredFile | None:
        """The terminal's output, diffed and counted (None without a terminal: headless, web)."""
        return cast(MeteredFile | None, getattr(self._driver, "output", None))

    def on_resize(self) -> None:
        forget = getattr(self._driver, "forget_screen", None)
        if forget is not None:  # the terminal may have redrawn itself: send every cell again
            forget()

    def freeze_startup_heap(self) -> None:
        """Leave what start-up made (modules, widgets, styles) out of later full collections.

        Textual's strips keep themselves in their own caches, so every frame leaves cyclic
        garbage that only a full collection frees, and a full collection walks every object
        alive: 56 ms on moons-membership, a pause a key can fall into. Frozen, the objects
        made at start are no longer walked, and a full collection takes about half as long.
        """
        if self.freeze_heap:
            gc.collect()
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)
            gc.enable()  # off while the program started (``tui_nn.launch``)

    def on_mount(self) -> None:
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
        self._restore_signals = end_on_signals(self)
        if self.output is not None:
            self.output.on_lost = lambda: self.post_message(TerminalLost())

    async def on_terminal_lost(self, message: TerminalLost) -> None:
        """The terminal has gone: end as a hang-up does (nobody is left to press q)."""
        await self.quit_with(128 + signal.SIGHUP)

    def on_unmount(self) -> None:
        self._restore_signals()

    def get_css_variables(self) -> dict[str, str]:
        variables = super().get_css_variables()  # also kept as self.theme_variables
        make_variables_readable(variables)  # the footer's keys on light themes
        return variables

    def get_default_screen(self) -> Screen[None]:
        return MainScreen(self.session, glyphs=self.glyphs, fps=self.fps, story=self.story)

    @property
    def trainer(self) -> MainScreen:
        """The main screen (under any dialog that is open)."""
        screen = self.screen_stack[0]
        assert isinstance(screen, MainScreen)
        return screen

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        trainer = self.trainer
        for binding in trainer.BINDINGS:
            name = getattr(binding, "id", None) or ""
            if name and not name.startswith(("probe.", "pane.")) and name != "trainer.quit":
                action = binding.action  # type: ignore[union-attr]
                yield SystemCommand(
                    binding.description,  # type: ignore[union-attr]
                    f"{binding.tooltip} (key {self.get_key_display(binding)})",  # type: ignore
                    lambda action=action: self.run_action(action, trainer),
                )

    async def action_quit(self) -> None:
        await self.quit_with(0)

    async def quit_with(self, status: int) -> None:
        """Stop training, then end the app with this exit status (SIGTERM: 143)."""
        await self.trainer.stop_training()
        self.exit(status, return_code=status)


def set_color_system(mode: ColorMode) -> None:
    """Make Textual draw with this colour system (the command line's ``--color``).

    Textual builds its Rich console from ``textual.constants.COLOR_SYSTEM`` (read from the
    TEXTUAL_COLOR_SYSTEM variable when Textual is imported, 'auto' by default: Rich's guess from
    COLORTERM and TERM) and greys everything when NO_COLOR is set as the App is created. The
    choice is applied the same way, before the App exists; the App then reads it back from its
    console (``color_mode``), so drawing and the ASCII-mode decision agree.
    """
    if mode == "none":
        os.environ["NO_COLOR"] = "1"
    else:
        constants.COLOR_SYSTEM = RICH_COLOR_SYSTEMS[mode]  # type: ignore[misc]


def limit_blas_threads(threads: int = BLAS_THREADS) -> AbstractContextManager[object]:
    """Cap the threads BLAS uses in this process (the trainer's choice, ``BLAS_THREADS``),
    until the returned context exits."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


class UnknownTheme(ValueError):
    """A --theme that Textual does not have; the message is one line with a suggestion."""


def binding_ids() -> set[str]:
    """Every binding id a keymap may remap: the trainer's, its dialogs' and the app's."""
    from tui_nn.screens.loss_chart import LossChartScreen  # plotext: only with a keymap

    screens = (TuiNN, MainScreen, HelpScreen, PickerScreen, ErrorDialog, SaveDialog, GoToDialog)
    return {
        binding.id
        for screen in (*screens, LossChartScreen)
        for binding in screen.BINDINGS
        if isinstance(binding, Binding) and binding.id
    }


def _ids() -> Iterator[str]:
    """``binding_ids()``, looked up only if a keymap file is read."""
    yield from binding_ids()


def run_app(
    session: Session,
    *,
    color: ColorOption = "auto",
    mouse: bool = True,
    fps: float | None = None,
    keymap: Path | None = None,
    theme: str | None = None,
) -> int:
    """Run the trainer on a session until the user quits.

    Args:
        session: The session to open (the command line has built it).
        color: 'auto' (from NO_COLOR, COLORTERM, TERM), 'truecolor', '256', '16' or 'none'.
            16 colours and none draw the plane with glyphs (ASCII mode).
        mouse: Whether the app takes the mouse (off: the terminal keeps text selection).
        fps: Most redraws per second (None: 15, or 8 when ``SSH_CONNECTION`` says the
            terminal is remote).
        keymap: A keymap file; by default the one in the user's configuration folder, if any.
        theme: A Textual theme to start with (the map's colours follow it).

    Returns:
        The exit status.

    Raises:
        KeymapError: If the keymap file cannot be used (before anything is drawn).
        UnknownTheme: If there is no such theme.
    """
    mapping = load_keymap(keymap or default_keymap_path(), _ids(), required=bool(keymap))
    if color != "auto":
        set_color_system(color)
    app = TuiNN(session, fps=fps, keymap=mapping)
    app.freeze_heap = True
    if theme is not None:
        names = sorted(app.available_themes)
        if theme not in names:
            close = difflib.get_close_matches(theme, names, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(names)}"
            raise UnknownTheme(f"--theme: no theme {theme!r} ({hint})")
        app.theme = theme
    switch = sys.getswitchinterval()
    # The trainer's thread and the interface share the interpreter: a short switch interval
    # hands it to the interface soon after a key arrives (5 ms by default, per hand-over).
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        with limit_blas_threads():
            app.run(mouse=mouse)
    finally:
        sys.setswitchinterval(switch)
    return app.return_code or 0
