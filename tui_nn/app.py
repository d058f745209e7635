"""The Textual trainer: `run_app` starts it on a scenario file."""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Literal

from textual import constants
from textual.app import App, SystemCommand
from textual.screen import Screen

from engine.session import Session
from tui_nn.catalog import DEFAULT_SCENARIO, resolve
from tui_nn.screens.main import MainScreen
from tui_nn.widgets.palette import ColorMode, detect_color_mode, uses_glyphs

ColorOption = Literal["auto", "truecolor", "256", "16", "none"]

RICH_COLOR_SYSTEMS = {"truecolor": "truecolor", "256": "256", "16": "standard"}
"""Our colour modes as Rich names them."""
BLAS_THREADS = 1
"""BLAS threads while the trainer runs. Training and drawing already take a core each, and at
these sizes a second BLAS thread gains nothing: it spins (spiral at top speed: 1.9 cores busy
with two threads, 1.0 with one, and more epochs per second with one)."""


class TuiNN(App[int]):
    """tui-nn: watch a tiny neural network learn, epoch by epoch.

    Args:
        session: The session to show (already loaded and validated).
        glyphs: Start in ASCII mode (no colour shading).
        fps: Most redraws per second.
    """

    CSS_PATH = "app.tcss"
    TITLE = "tui-nn"
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        session: Session | None = None,
        *,
        glyphs: bool = False,
        fps: float = 15,
        story: bool = True,
    ) -> None:
        super().__init__()
        if session is None:  # `textual run tui_nn.app:TuiNN` and friends: the default scenario
            session = Session.from_file(resolve(DEFAULT_SCENARIO))
        self.session = session
        """The session the app opened with."""
        self.story = story
        """Show each scenario's story card when it opens."""
        self.glyphs = glyphs
        """Whether the trainer starts in ASCII mode."""
        self.fps = max(1.0, fps)
        """Most redraws per second."""

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
        await self.trainer.stop_training()
        self.exit(0)


def choose_color_mode(option: ColorOption, env: dict[str, str] | None = None) -> ColorMode:
    """The colour mode to use: the option, or what the environment says for 'auto'."""
    return detect_color_mode(env) if option == "auto" else option


def set_color_system(mode: ColorMode) -> None:
    """Make Textual draw with this colour system.

    Textual builds its Rich console from ``textual.constants.COLOR_SYSTEM`` (read from the
    TEXTUAL_COLOR_SYSTEM variable when Textual is imported, 'auto' by default: Rich's guess from
    COLORTERM and TERM) and greys everything when NO_COLOR is set as the App is created. The
    command line's choice is applied the same way, before the App exists.
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


def run_app(
    session: Session, *, color: ColorOption = "auto", mouse: bool = True, fps: float = 15
) -> int:
    """Run the trainer on a session until the user quits.

    Args:
        session: The session to open (the command line has built it).
        color: 'auto' (from NO_COLOR, COLORTERM, TERM), 'truecolor', '256', '16' or 'none'.
            16 colours and none draw the plane with glyphs (ASCII mode).
        mouse: Whether the app takes the mouse (off: the terminal keeps text selection).
        fps: Most redraws per second.

    Returns:
        The exit status.
    """
    mode = choose_color_mode(color)
    if color != "auto":
        set_color_system(mode)
    app = TuiNN(session, glyphs=uses_glyphs(mode), fps=fps)
    with limit_blas_threads():
        app.run(mouse=mouse)
    return app.return_code or 0
