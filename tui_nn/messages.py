"""Messages the training worker sends to the interface thread."""

from __future__ import annotations

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
    """The worker stopped by itself: a run produced NaN or inf."""

    def __init__(self, epoch: int, blowup: str | None) -> None:
        super().__init__()
        self.epoch = epoch
        """The session's epoch when training stopped."""
        self.blowup = blowup
        """Where the first NaN/inf appeared, as the session names it."""
