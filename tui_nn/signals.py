"""SIGTERM and SIGHUP end the trainer the way `q` does.

Python's default for both is to stop the process at once: the terminal is left in the
alternate screen with the mouse reported and the cursor hidden, and the training thread is cut
off mid-epoch. Handled on the event loop instead, the signal waits for what the loop is doing
(a save writes its file whole), stops training, gives the terminal back and exits with
128 + the signal's number, as the headless commands do.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui_nn.app import TuiNN

ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""Signals that end the trainer cleanly (Ctrl+C is a key press, bound to quit)."""


def end_on_signals(app: TuiNN) -> Callable[[], None]:
    """From now on, SIGTERM and SIGHUP quit the app cleanly; call what it returns to stop.

    Only the main thread can take signals; elsewhere (and where the loop cannot, as on
    Windows) the default stays.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    taken = []
    for signum in ENDING_SIGNALS:
        with suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, _ended, app, signum)
            taken.append(signum)

    def restore() -> None:
        for signum in taken:
            with suppress(RuntimeError, ValueError):
                loop.remove_signal_handler(signum)

    return restore


def _ended(app: TuiNN, signum: int) -> None:
    app.call_next(app.quit_with, 128 + signum)
