"""Saving the weights and opening another scenario, each through a dialog."""

from __future__ import annotations

from pathlib import Path

from textual.screen import Screen

from engine.scenario import ScenarioError
from engine.session import Session
from engine.text import neutralise
from tui_nn.catalog import entries
from tui_nn.screens.dialogs import ErrorDialog, SaveDialog
from tui_nn.screens.picker import PickerScreen


class SessionFiles(Screen[None]):
    """The trainer's `s` and `o`: files in and out. Errors go to a dialog, never a crash."""

    session: Session
    last_saved: tuple[Path, str] | None = None
    """The last file saved and its sha256."""

    async def stop_training(self) -> None:
        raise NotImplementedError

    def redraw(self) -> None:
        raise NotImplementedError

    def session_changed(self) -> None:
        raise NotImplementedError

    async def action_save(self) -> None:
        """s: save the baseline's weights (safetensors), asking for the path."""
        await self.stop_training()
        self.redraw()
        default = f"{self.session.scenario.name}-epoch{self.session.epoch}.safetensors"
        self.app.push_screen(SaveDialog(str(Path.cwd() / default)), self._save_to)

    def _save_to(self, path: Path | None) -> None:
        if path is None:
            return
        try:
            sha = self.session.save_weights(path)
        except Exception as exc:  # any failure to write is reported, never fatal
            self.app.push_screen(ErrorDialog("Could not save the weights", [f"{path}: {exc}"]))
            return
        self.last_saved = (path, sha)
        self.notify(
            f"{neutralise(str(path), newlines=False)}\nsha256 {sha[:16]}…",
            title="Weights saved",
            timeout=6,
            markup=False,
        )

    async def action_open(self) -> None:
        """o: choose another scenario; the current run stays if it does not load."""
        found = entries(Path.cwd())
        self.app.push_screen(PickerScreen(found, self.session.scenario.name), self._open)

    async def _open(self, path: Path | None) -> None:
        if path is None:
            return
        try:
            session = Session.from_file(path)
        except ScenarioError as exc:
            self.app.push_screen(ErrorDialog(f"{path.name} is not a valid scenario", exc.errors))
            return
        except (OSError, ValueError) as exc:
            self.app.push_screen(ErrorDialog(f"Cannot read {path.name}", [f"{path}: {exc}"]))
            return
        await self.stop_training()
        self.session = session
        self.session_changed()
        self.notify(
            session.scenario.title or session.scenario.name,
            title="Opened",
            timeout=3,
            markup=False,
        )
