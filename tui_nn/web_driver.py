"""Textual's web driver (what `tui-nn serve` runs each trainer with), ending the trainer when
its server goes away.

textual-serve talks to each trainer through its stdin and stdout. When the server stops
cleanly it asks the trainer to quit; when it is killed, the trainer only sees its stdin end,
and Textual's driver then stops reading without telling the app, which would keep a trainer
running, unseen, forever. Here the end of the input is taken as the quit it is.
"""

from __future__ import annotations

from textual import messages
from textual.drivers.web_driver import WebDriver


class ServedDriver(WebDriver):
    """The web driver, quitting the app when its input ends without a quit."""

    def run_input_thread(self) -> None:
        try:
            super().run_input_thread()
        finally:
            if not self.exit_event.is_set():  # the pipe closed: nobody can see this trainer
                self._app.post_message(messages.ExitApp())
