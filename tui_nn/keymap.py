"""A user's keymap: which keys run which binding, by binding id, from a small TOML file.

Every binding of the trainer has an id (``trainer.run``, ``probe.left``, ...; `?` lists the
keys, the README the ids). A keymap file gives new keys to some of them::

    # ~/.config/tui-nn/keymap.toml
    "trainer.step" = "right"          # one key
    "probe.right" = "l,ctrl+right"    # several, separated by commas

    [trainer]                         # or grouped: trainer.run, trainer.reset
    run = "enter"
    reset = "R"

Keys are Textual's key names: a character (``r``, ``R``, ``?``), or a name such as ``space``,
``enter``, ``escape``, ``tab``, ``left``, ``f5``, ``question_mark``, with modifiers like
``ctrl+r``. The file is read like every other (regular file, at most 64 KB, shallow TOML); an
unknown id or a malformed key is an error naming the file and the id, before the trainer opens.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from engine.files import BadToml, FileRefused, TooDeep, parse_toml, read_limited

MAX_KEYMAP_BYTES = 64 * 1024
KEY = re.compile(r"(?:(?:ctrl|shift|alt|super|meta)\+)*(?:[a-z][a-z0-9_]*|[^\s,+]|\+)")
"""One key: a name or a single character, after any modifiers."""


class KeymapError(Exception):
    """A keymap file that cannot be used; ``lines`` holds one line per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def default_keymap_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/tui-nn/keymap.toml`` (``~/.config/...`` without the variable)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tui-nn" / "keymap.toml"


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def parse_keymap(text: str, source: str, known: Iterable[str]) -> dict[str, str]:
    """Validate a keymap's TOML text against the binding ids ``known``.

    Returns:
        Binding id -> keys (comma-separated), as Textual's ``App.set_keymap`` takes them.

    Raises:
        KeymapError: With every problem, one line each, naming the file and the id.
    """
    try:
        raw = parse_toml(text)
    except (TooDeep, BadToml) as exc:
        raise KeymapError([f"{source}: {exc}"]) from None
    ids = sorted(known)
    keymap: dict[str, str] = {}
    problems = []
    for name, value in _flatten(raw).items():
        if name not in ids:
            close = difflib.get_close_matches(name, ids, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "expected a binding id, see `?`"
            problems.append(f"{source}: {name!r}: unknown binding id ({hint})")
        elif not isinstance(value, str) or not value.strip():
            problems.append(
                f'{source}: {name}: expected keys as a string like "r" or "ctrl+r,f5" '
                f"(got {value!r})"
            )
        elif bad := [k for k in value.split(",") if not KEY.fullmatch(k.strip())]:
            problems.append(
                f"{source}: {name}: {bad[0].strip()!r} is not a key (expected a character or a "
                "key name such as enter, space, left, f5, ctrl+r)"
            )
        else:
            keymap[name] = ",".join(k.strip() for k in value.split(","))
    if problems:
        raise KeymapError(problems)
    return keymap


def load_keymap(path: Path, known: Iterable[str], *, required: bool = True) -> dict[str, str]:
    """Read and validate a keymap file (see ``parse_keymap``).

    Args:
        path: The file.
        known: The binding ids that may be remapped.
        required: Whether a missing file is an error (a path given on the command line) or
            means no keymap (the default location).
    """
    if not required and not path.exists():
        return {}
    try:
        text = read_limited(path, MAX_KEYMAP_BYTES).decode("utf-8")
    except FileRefused as exc:
        raise KeymapError([f"{path}: {exc.reason}"]) from None
    except UnicodeDecodeError as exc:
        raise KeymapError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
    return parse_keymap(text, str(path), known)
