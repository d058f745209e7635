"""Standard output and error that fail clearly: a closed pipe, a full disk, a poor encoding.

Inside :func:`guarded_output`, a write or flush that fails raises :class:`OutputError` (told
apart from every other OSError, which is a file's problem), and characters the streams'
encoding cannot show are written as backslash escapes instead of failing
(``PYTHONIOENCODING=ascii``).
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, TextIO


class OutputError(Exception):
    """Writing to standard output or error failed.

    Attributes:
        stream: 'standard output' or 'standard error'.
        reason: The system's words for the failure.
        closed: The reader went away (a broken pipe): not worth a message.
    """

    def __init__(self, stream: str, exc: OSError) -> None:
        self.stream = stream
        self.reason = exc.strerror or type(exc).__name__
        self.closed = isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE
        super().__init__(f"cannot write to {stream} ({self.reason})")


class GuardedStream:
    """A text stream whose write errors become :class:`OutputError`; all else is delegated."""

    def __init__(self, stream: TextIO, name: str) -> None:
        self._stream = stream
        self._name = name

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise OutputError(self._name, exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputError(self._name, exc) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _escape_unencodable(stream: TextIO) -> None:
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        with suppress(ValueError, OSError):  # a stream that cannot change: leave it
            reconfigure(errors="backslashreplace")


@contextmanager
def guarded_output() -> Iterator[None]:
    """Within the block, sys.stdout and sys.stderr raise OutputError when they fail."""
    out, err = sys.stdout, sys.stderr
    for stream in (out, err):
        _escape_unencodable(stream)
    sys.stdout = GuardedStream(out, "standard output")
    sys.stderr = GuardedStream(err, "standard error")
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
