"""What reaches the terminal: only the cells that changed, and how far the terminal lags behind.

Textual repaints whole regions (a widget that refreshes sends all its lines again) and writes
each run of text as ``ESC[<style>m text ESC[0m``, so a trainer that redraws its panels every
frame sends the same cells, each with a full style and a reset, over and over. ``ScreenDiff``
sits where Textual's output leaves for the terminal (the writer thread, off the interface
thread): it keeps what the terminal shows, cell by cell, drops the cells that would not
change, and moves between styles by their difference instead of a reset. What the terminal
shows is exactly what Textual drew.

``MeteredFile`` counts what was handed to the terminal against what it has taken, so the
screen can draw less often while the link is behind (``tui_nn.training.FramePacer``).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from rich.cells import cell_len
from textual.driver import Driver

RESET = "\x1b[0m"
FORGET = "\x1b[?tui-nn-forget]"
"""Not a terminal sequence: tells the filter, in order with the output, that the terminal's
contents are unknown (after a resize). It is never written out."""
TOKEN = re.compile(
    r"(?P<move>\x1b\[(?P<row>\d+);(?P<col>\d+)H)"
    r"|(?P<sgr>\x1b\[(?P<params>[0-9;]*)m)"
    r"|(?P<forget>\x1b\[\?tui-nn-forget\])"
    r"|(?P<mode>\x1b\[\?(?P<modes>[0-9;]+)[hl])"
    r"|(?P<osc>\x1b\][^\x07\x1b]*(?:\x07|\x1b\\))"
    r"|(?P<csi>\x1b\[[0-?]*[ -/]*[@-~])"
    r"|(?P<esc>\x1b.?)"
    r"|(?P<newline>[\r\n])"
    r"|(?P<text>[^\x1b\r\n]+)"
)
"""The pieces of Textual's output: cursor moves, styles, private modes, other sequences, text."""
SCREEN_MODES = {"47", "1047", "1049"}
"""Private modes that swap or clear the screen: the filter forgets what it knew."""
GAP = 6
"""Unchanged cells between two changes that are sent again rather than jumped over (a jump
costs a cursor move, about as many bytes)."""

Pen = tuple[tuple[str, ...], str, str]
"""(attributes, foreground, background) as SGR parameter strings; ('', '', '') is the default."""
Cell = tuple[str, Pen]
BLANK_PEN: Pen = ((), "", "")


def parse_sgr(params: str, pen: Pen) -> Pen:
    """The pen after an SGR sequence with these parameters, starting from ``pen``."""
    attrs, fg, bg = list(pen[0]), pen[1], pen[2]
    codes = params.split(";") if params else ["0"]
    i = 0
    while i < len(codes):
        code = codes[i]
        if code in ("", "0"):
            attrs, fg, bg = [], "", ""
        elif code in ("38", "48"):
            kind = codes[i + 1] if i + 1 < len(codes) else ""
            take = 3 if kind == "5" else 5 if kind == "2" else 2
            colour = ";".join(codes[i : i + take])
            if code == "38":
                fg = colour
            else:
                bg = colour
            i += take
            continue
        elif code == "39":
            fg = ""
        elif code == "49":
            bg = ""
        elif code.isdigit() and (30 <= int(code) <= 37 or 90 <= int(code) <= 97):
            fg = code
        elif code.isdigit() and (40 <= int(code) <= 47 or 100 <= int(code) <= 107):
            bg = code
        elif code not in attrs:
            attrs.append(code)
        i += 1
    return (tuple(sorted(attrs)), fg, bg)


def sgr_change(current: Pen, wanted: Pen) -> str:
    """The shortest SGR sequence (by this simple rule) from one pen to another."""
    if current == wanted:
        return ""
    if current[0] != wanted[0] or (current[1] and not wanted[1]) or (current[2] and not wanted[2]):
        codes = ["0", *wanted[0], *(c for c in wanted[1:] if c)]
    else:
        codes = [c for c, old in zip(wanted[1:], current[1:], strict=True) if c != old]
    return f"\x1b[{';'.join(codes)}m"


class ScreenDiff:
    """A filter of terminal output that sends only the cells the terminal does not show yet.

    Feed it Textual's output in order (``feed``); it returns what to write instead. Anything
    it does not understand goes through unchanged, and anything that may change the screen
    behind its back (a mode that swaps screens, an unknown sequence) makes it forget what the
    terminal shows, so the next frame goes through whole.
    """

    def __init__(self) -> None:
        self.rows: dict[int, dict[int, Cell]] = {}
        """What the terminal shows: row -> column -> (character, pen); missing is unknown."""
        self.pen = BLANK_PEN
        """The pen Textual's output asks for."""
        self.shown = BLANK_PEN
        """The pen the terminal has (after what the filter wrote)."""
        self.cursor = (0, 0)
        """(x, y) where Textual's output has the cursor."""
        self.at: tuple[int, int] | None = None
        """(x, y) where the terminal's cursor is, if known."""

    def forget(self) -> None:
        """The terminal's contents are unknown: send everything again."""
        self.rows.clear()
        self.at = None

    def feed(self, data: str) -> str:
        """What to write to the terminal instead of ``data``."""
        out: list[str] = []
        x, y = self.cursor
        # The cells from the first changed one on, side by side on one line: (x, text, pen).
        run: list[tuple[int, str, Pen]] = []
        run_y = run_end = unchanged = 0  # its line, the column after it, unchanged cells at its end

        def flush() -> None:
            nonlocal unchanged
            cells = run[: len(run) - unchanged]
            run.clear()
            unchanged = 0
            if not cells:
                return
            if self.at != (cells[0][0], run_y):
                out.append(f"\x1b[{run_y + 1};{cells[0][0] + 1}H")
            shown = self.shown
            for _, ch, cell_pen in cells:
                if cell_pen != shown:
                    out.append(sgr_change(shown, cell_pen))
                    shown = cell_pen
                out.append(ch)
            self.shown = shown
            self.at = (cells[-1][0] + max(1, cell_len(cells[-1][1])), run_y)

        def reset() -> None:
            if self.shown != BLANK_PEN:
                out.append(RESET)
                self.shown = BLANK_PEN

        last = ""
        for match in TOKEN.finditer(data):
            kind = last = match.lastgroup or ""
            if kind == "text":
                text = match.group()
                row = self.rows.setdefault(y, {})
                pen = self.pen
                wide = cell_len(text) != len(text)
                for ch in text:
                    width = cell_len(ch) if wide else 1
                    if width == 0:  # a combining mark: no cell of its own; send it as it is
                        flush()
                        self.forget()
                        row = self.rows.setdefault(y, {})
                        out.append(f"\x1b[{y + 1};{x + 1}H{sgr_change(self.shown, pen)}{ch}")
                        self.shown = pen
                        continue
                    cell = (ch, pen)
                    changed = row.get(x) != cell or (width == 2 and row.get(x + 1) != ("", pen))
                    if run and (run_y != y or x != run_end):
                        flush()
                    if changed:
                        if not run:
                            run_y = y
                        run.append((x, ch, pen))
                        unchanged = 0
                        row[x] = cell
                        if width == 2:
                            row[x + 1] = ("", pen)
                    elif run:
                        run.append((x, ch, pen))
                        unchanged += 1
                        if unchanged > GAP:  # a jump is cheaper than sending these again
                            flush()
                    x += width
                    run_end = x
                continue
            if kind != "sgr":
                flush()
            if kind == "move":
                y, x = int(match.group("row")) - 1, int(match.group("col")) - 1
            elif kind == "sgr":
                self.pen = parse_sgr(match.group("params"), self.pen)
            elif kind == "newline":
                y, x = (y + 1, 0) if match.group() == "\n" else (y, 0)
            elif kind == "forget":
                reset()
                self.forget()
            elif kind == "osc" or (
                kind == "mode" and not SCREEN_MODES & set(match.group("modes").split(";"))
            ):
                out.append(match.group())  # titles, cursor and mouse modes: nothing on screen
            else:
                reset()
                self.forget()
                out.append(match.group())
        flush()
        self.cursor = (x, y)
        if last == "move" and self.at != (x, y):
            out.append(f"\x1b[{y + 1};{x + 1}H")  # the cursor where Textual leaves it
            self.at = (x, y)
        return "".join(out)


class MeteredFile:
    """The terminal's file, seen by Textual's writer thread: filters and counts what it writes.

    ``handed`` counts the characters Textual gave the driver (the interface thread adds them,
    ``hand``); ``taken`` counts those the terminal has accepted (written and flushed). The
    difference is the backlog: frames drawn that the terminal has not taken yet.
    """

    def __init__(self, file: TextIO, diff: ScreenDiff | None = None) -> None:
        self.file = file
        self.diff = diff
        """The filter, or None to write Textual's output as it is (counted all the same)."""
        self.handed = 0
        self.taken = 0
        self.written = 0
        """Characters actually written to the terminal (after the filter)."""
        self.lost = False
        """Whether the terminal has gone (a write failed: the SSH link or the window closed);
        from then on output is dropped, so the writer thread never stops taking it."""
        self.on_lost: Callable[[], object] = lambda: None
        """Called once, on the writer thread, when the terminal is found gone."""
        self._lock = threading.Lock()

    def hand(self, count: int) -> None:
        """Textual handed ``count`` characters to the driver (called on the interface thread)."""
        with self._lock:
            self.handed += count

    @property
    def backlog(self) -> int:
        """Characters handed over that the terminal has not taken yet."""
        with self._lock:
            return self.handed - self.taken

    def write(self, text: str) -> int:
        data = ""
        if not self.lost:
            data = self.diff.feed(text) if self.diff is not None else text
            if data and not self._send(data):
                data = ""
        with self._lock:
            self.taken += len(text)
            self.written += len(data)
        return len(text)

    def flush(self) -> None:
        if not self.lost:
            self._send("")

    def _send(self, data: str) -> bool:
        """Write ``data`` and flush; False (and the terminal marked lost) if that failed."""
        try:
            if data:
                self.file.write(data)
            self.file.flush()
        except (OSError, ValueError):  # EIO after a hang-up; a closed file
            self.lost = True
            self.on_lost()
            return False
        return True

    def fileno(self) -> int:
        return self.file.fileno()

    def isatty(self) -> bool:
        return self.file.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)


class MeteredDriver:
    """Mixed into Textual's terminal driver: its output goes through ``ScreenDiff`` and a
    ``MeteredFile`` (on the writer thread)."""

    output: MeteredFile
    """The terminal's file as the writer thread sees it (its counts are the backlog)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        file = self._file  # type: ignore[has-type]
        self.output = MeteredFile(file, ScreenDiff())
        self._file = self.output

    def write(self, data: str) -> None:
        self.output.hand(len(data))
        super().write(data)  # type: ignore[misc]

    def forget_screen(self) -> None:
        """The terminal's contents are unknown from here on (a resize): send all again."""
        self.write(FORGET)


def metered(driver: type[Driver]) -> type[Driver]:
    """Textual's terminal driver with its output diffed and metered (others as they are)."""
    try:
        from textual.drivers.linux_driver import LinuxDriver
    except ImportError:  # no termios: Windows keeps Textual's own output
        return driver
    if not issubclass(driver, LinuxDriver):
        return driver
    return type(f"Metered{driver.__name__}", (MeteredDriver, driver), {})


def remote(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the terminal is at the far end of an SSH link (``SSH_CONNECTION`` is set)."""
    env = os.environ if environ is None else environ
    return bool(env.get("SSH_CONNECTION") or env.get("SSH_CLIENT"))
