"""Text from files, made harmless to show: the one rule for what may reach a terminal.

A scenario's title, a key name, a CSV path or a file name can hold control characters (an
escape sequence clears the screen or sets the window title; worse ones exist) and invisible
format characters (bidirectional overrides make text read differently from what it is).
Scenario validation refuses them in every string (:func:`first_unsafe`); whatever still comes
from outside (paths, key names, messages quoting them) is shown through :func:`neutralise`.
"""

from __future__ import annotations

ALLOWED_FORMAT = frozenset("\u200c\u200d")
"""Invisible characters that only join glyphs (emoji sequences, some scripts): harmless."""


def _safe(ch: str, newlines: bool) -> bool:
    return ch.isprintable() or ch in ALLOWED_FORMAT or (newlines and ch == "\n")


def first_unsafe(text: str, *, newlines: bool = True) -> tuple[int, str] | None:
    """(position, character) of the first character that is not plain printable text.

    Tabs count as unsafe here (a file's strings have no use for them); ``newlines`` allows
    line breaks.
    """
    for i, ch in enumerate(text):
        if not _safe(ch, newlines):
            return i, ch
    return None


def neutralise(text: str, *, newlines: bool = True) -> str:
    """``text`` with every control or format character shown as '?' (tabs as a space).

    Args:
        text: Anything that came from a file, a file name or a message quoting one.
        newlines: Keep line breaks (a paragraph); otherwise they become '?' too (one line).
    """
    if all(_safe(ch, newlines) for ch in text):
        return text
    return "".join(ch if _safe(ch, newlines) else " " if ch == "\t" else "?" for ch in text)


def describe_character(ch: str) -> str:
    """'U+001B' for a character that cannot be shown as itself."""
    return f"U+{ord(ch):04X}"
