"""Every file tui-nn reads or writes goes through here: one reader, one depth guard, one writer.

- :func:`read_limited` reads a regular file only: it never opens a FIFO, a device or a
  directory (a symlink is followed to what it names and judged by that), opens without
  blocking, and reads at most ``limit + 1`` bytes, so a file that grows while it is read, or
  claims size 0 like ``/dev/zero``, cannot make it read without end.
- :func:`check_nesting` refuses TOML or JSON nested deeper than a small limit before a parser
  sees it (the standard parsers recurse once per level and a few thousand levels exhaust the
  stack).
- :func:`write_atomic` writes a regular file only, never through or over a symlink, a device or
  a directory, and replaces the target in one rename. Its temporary file is named
  ``.NAME.tui-nn-PID-RANDOM.tmp`` beside the target; it is removed when the write fails or the
  process is interrupted. One that is left behind (the process was killed with SIGKILL, or the
  machine stopped) is stale once process PID no longer runs: the next write of NAME removes it.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import tomllib
from typing import Any

PathLike = str | os.PathLike[str]

MAX_NESTING = 16
"""Deepest nesting of arrays and tables accepted in a TOML or JSON text."""

TEMP_TAG = "tui-nn"
"""Marks the temporary files :func:`write_atomic` makes: ``.NAME.tui-nn-PID-RANDOM.tmp``."""
_TEMP_NAME_CHARS = 100
"""How much of the target's name a temporary file's name repeats (names are at most 255)."""


class FileRefused(ValueError):
    """A file that is not read or written; ``reason`` says why in a few words, without the path.

    Callers add the path and raise their own error (a scenario, CSV or weight file error).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def read_limited(path: PathLike, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Args:
        path: The file; a symlink is followed and what it names must be a regular file.
        limit: Most bytes accepted.

    Returns:
        The file's contents.

    Raises:
        FileRefused: If the file is missing, unreadable, not a regular file, or larger than
            ``limit`` (before or while it is read).
    """
    try:
        # stat first so a FIFO or a device is never even opened; fstat after opening so what
        # was opened is what was checked.
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"is {_kind(info.st_mode)}, expected a regular file")
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileRefused("no such file") from None
    except OSError as exc:
        raise FileRefused(f"cannot read ({_os_reason(exc)})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"is {_kind(info.st_mode)}, expected a regular file")
        if info.st_size > limit:
            raise FileRefused(f"file too large ({info.st_size} bytes, expected at most {limit})")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise FileRefused(f"cannot read ({_os_reason(exc)})") from None
    finally:
        os.close(fd)
    if total > limit:
        raise FileRefused(f"file grew past {limit} bytes while it was read")
    return b"".join(chunks)


_TOML_TOKENS = re.compile(
    r'"""(?:\\.|[^\\])*?"""|\'\'\'.*?\'\'\'|"(?:\\.|[^"\\\n])*"|\'[^\'\n]*\'|#[^\n]*|[\[\]{}]',
    re.DOTALL,
)
_JSON_TOKENS = re.compile(r'"(?:\\.|[^"\\])*"|[\[\]{}]', re.DOTALL)


class TooDeep(ValueError):
    """A text nested deeper than allowed; ``line`` and ``column`` (1-based) say where."""

    def __init__(self, line: int, column: int, limit: int) -> None:
        super().__init__(
            f"line {line}, column {column}: nested too deeply "
            f"(expected at most {limit} levels of arrays and tables)"
        )
        self.line = line
        self.column = column


def check_nesting(text: str, *, syntax: str = "toml", limit: int = MAX_NESTING) -> None:
    """Refuse a TOML or JSON text whose arrays and tables nest more than ``limit`` deep.

    Brackets inside strings and comments do not count; table headers (``[a]``, ``[[b]]``)
    open and close on their line. The count never underestimates the nesting a parser sees.

    Raises:
        TooDeep: At the first bracket past the limit.
    """
    tokens = _TOML_TOKENS if syntax == "toml" else _JSON_TOKENS
    depth = 0
    for match in tokens.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                start = match.start()
                line = text.count("\n", 0, start) + 1
                column = start - (text.rfind("\n", 0, start) + 1) + 1
                raise TooDeep(line, column, limit)
        elif token in "]}":
            depth = max(0, depth - 1)


class BadToml(ValueError):
    """A TOML text that does not parse; ``str(err)`` is 'line L, column C: invalid TOML: ...'."""


def parse_toml(text: str) -> dict[str, Any]:
    """TOML text as a dict, after :func:`check_nesting` (the one way a file's TOML is read).

    Raises:
        TooDeep: If arrays or tables nest deeper than ``MAX_NESTING``.
        BadToml: If the text is not TOML; the message names the line and column.
    """
    check_nesting(text)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        end = f"(at line {text.count(chr(10)) + 1}, column 1)"
        message = str(exc).replace("(at end of document)", end)
        where = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if where is None:
            raise BadToml(f"invalid TOML: {message}") from None
        reason = message[: where.start()].strip()
        raise BadToml(f"line {where[1]}, column {where[2]}: invalid TOML: {reason}") from None


def _temp_prefix(target: str) -> str:
    return f".{os.path.basename(target)[:_TEMP_NAME_CHARS]}.{TEMP_TAG}-"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but is someone else's
        return True
    return True


def stale_temporaries(target: PathLike) -> list[str]:
    """Temporary files of earlier writes of ``target`` whose process no longer runs."""
    target = os.fspath(target)
    directory = os.path.dirname(os.path.abspath(target))
    prefix = _temp_prefix(target)
    pattern = re.compile(re.escape(prefix) + r"(\d+)-[0-9a-f]+\.tmp")
    found = []
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    for name in names:
        match = pattern.fullmatch(name)
        if match is None or int(match[1]) == os.getpid() or _running(int(match[1])):
            continue
        path = os.path.join(directory, name)
        with contextlib.suppress(OSError):
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid():
                found.append(path)
    return found


def check_writable_target(path: PathLike) -> None:
    """Refuse a target that exists and is not a regular file (a symlink, device, folder...).

    Raises:
        FileRefused: Naming what is there.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise FileRefused(_os_reason(exc)) from None  # callers say "cannot write ..."
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(f"is {_kind(info.st_mode)}, expected a regular file to replace")


def write_atomic(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The bytes go to a temporary file in the same folder (see the module's docstring for its
    name), are flushed to disk, and are renamed over the target; the folder is synced so the
    rename itself survives a crash. The new file gets the permissions a plainly created file
    would (the process's umask applies). Only a regular file is ever replaced.

    Raises:
        FileRefused: If the target exists and is not a regular file (a symlink, a device, a
            folder, a FIFO): nothing is written.
        OSError: If the folder is missing or not writable; the temporary file is removed.
    """
    target = os.fspath(path)
    check_writable_target(target)
    directory = os.path.dirname(os.path.abspath(target))
    for stale in stale_temporaries(target):
        with contextlib.suppress(OSError):
            os.unlink(stale)
    tmp_name = os.path.join(
        directory, f"{_temp_prefix(target)}{os.getpid()}-{secrets.token_hex(6)}.tmp"
    )
    # O_EXCL: never reuse or follow someone else's file; 0o666 lets the umask decide.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp_name, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        check_writable_target(target)  # again, as late as possible before the rename
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    with contextlib.suppress(OSError):  # not every platform can open a folder to sync it
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
