"""`tui-nn serve`: the trainer in a web browser, through textual-serve.

Each browser tab that opens the page starts its own trainer process (`python -m tui_nn
SCENARIO`, driven by Textual's web driver) and sees it in an xterm.js terminal. The server
listens on 127.0.0.1 unless told otherwise: anyone who can reach the port can run the trainer,
and open and save files in the folder it was started from.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from textual_serve.server import Server

from engine.text import neutralise

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class TrainerServer(Server):
    """textual-serve's server, announcing itself in tui-nn's words."""

    async def on_startup(self, app: object) -> None:
        where = (
            "this machine only"
            if self.host in LOCAL_HOSTS
            else "every machine that can reach this one: anyone there can run the trainer"
        )
        message = f"serving the trainer at {self.public_url} (listening on {self.host}: {where})"
        print(neutralise(f"tui-nn: {message}; Ctrl+C stops", newlines=False), flush=True)


def trainer_command(scenario: Path) -> str:
    """The shell command each browser tab runs: this Python, this package, this scenario."""
    return shlex.join([sys.executable, "-m", "tui_nn", str(scenario)])


def serve(scenario: Path, *, host: str, port: int, public_url: str | None = None) -> int:
    """Serve the trainer on ``scenario`` until interrupted; returns the exit status."""
    server = TrainerServer(
        trainer_command(scenario),
        host=host,
        port=port,
        title="tui-nn",  # the page shows it unescaped: nothing from a file name
        public_url=public_url,
    )
    server.serve()
    return 0
