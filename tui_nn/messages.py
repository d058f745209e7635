"""Messages the training worker sends to the interface thread."""

from __future__ import annotations

from typing import Literal

from textual.message import Message


class TrainingProgress(Message):
    """The worker trained some epochs; the screen should redraw.

    A newer progress message replaces an older one still in the queue, so a slow interface
    catches up to the latest epoch instead of drawing every one it missed.
    """

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch
        """The session's epoch when the message was sent."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TrainingProgress)


class TrainingStopped(Message):
    """The worker paused by itself: a NaN/inf, a scenario moment, or the scenario's epochs."""

    def __init__(self, epoch: int, reason: Literal["blowup", "moment", "target"]) -> None:
        super().__init__()
        self.epoch = epoch
        """The session's epoch when training stopped."""
        self.reason = reason
        """Why it stopped."""


class MapClicked(Message):
    """The map was clicked at a point of the plane (the probe is there now)."""

    def __init__(self, x: float, y: float, button: int) -> None:
        super().__init__()
        self.x = x
        """The point's x1."""
        self.y = y
        """The point's x2."""
        self.button = button
        """1 left, 2 middle, 3 right."""


class JobDone(Message):
    """Long work the worker did for a key (a block of epochs, a seek, a new run) is done."""

    def __init__(self, text: str, error: bool = False) -> None:
        super().__init__()
        self.text = text
        """What to tell the user ('' for nothing)."""
        self.error = error
        """Whether the work was refused (the text says why)."""


class MeasurementLanded(Message):
    """An experiment's figures, measured again in the background, are ready to be drawn."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, MeasurementLanded)


class TerminalLost(Message):
    """Writing to the terminal failed: it has gone (a dropped SSH link, a closed window)."""
