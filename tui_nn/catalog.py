"""Where scenarios come from: the shipped set, or a path the user names."""

from __future__ import annotations

import difflib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from engine.scenario import ScenarioError, load_scenario

DEFAULT_SCENARIO = "moons"
"""What `tui-nn` opens when no scenario is named."""
SHIPPED_ORDER = (
    "moons",
    "moons-ood",
    "moons-poison",
    "moons-butterfly",
    "moons-float16",
    "moons-side-channel",
    "moons-ensemble",
    "moons-evasion",
    "moons-extraction",
    "moons-membership",
    "moons-leakage",
    "moons-backdoor",
    "supply-chain",
    "xor-classic",
    "xor",
    "circles",
    "spiral",
)
"""The order `list` and the picker show shipped scenarios in: the baseline, the ways it breaks
(stress tests and the ensemble that answers the OOD one, then attacks), then the other
problems. Shipped scenarios not named here
follow, sorted."""


def shipped_dir() -> Path:
    """The folder of shipped scenarios: inside the installed package, or the source tree's."""
    installed = Path(__file__).parent / "scenarios"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "scenarios"


def _order(name: str) -> tuple[int, str]:
    return (SHIPPED_ORDER.index(name) if name in SHIPPED_ORDER else len(SHIPPED_ORDER), name)


def shipped_names() -> list[str]:
    """Names of the shipped scenarios, the baseline first (see ``SHIPPED_ORDER``)."""
    return sorted((p.stem for p in shipped_dir().glob("*.toml")), key=_order)


def _kind_of(path: Path) -> int | None:
    """The mode of what ``path`` names, or None when nothing can be found there."""
    try:
        return os.stat(path).st_mode
    except OSError:  # missing, a name too long, a loop: not something to open by name
        return None


def resolve(name_or_path: str) -> Path:
    """A scenario path from a path or a shipped scenario's name.

    A name with a '/' or ending in '.toml' is a path. A bare name is a file of that name in
    the current folder if there is one, else the shipped scenario of that name (a folder
    named like a shipped scenario does not hide it).

    Raises:
        ScenarioError: If it is neither a file nor a shipped name; a close shipped name is
            suggested.
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" or "/" in name_or_path or os.sep in name_or_path:
        return path
    mode = _kind_of(path)
    if mode is not None and stat.S_ISREG(mode):
        return path
    shipped = shipped_dir() / f"{name_or_path}.toml"
    shipped_mode = _kind_of(shipped)
    if shipped_mode is not None and stat.S_ISREG(shipped_mode):
        return shipped
    if mode is not None:  # something else is there: the loader says what
        return path
    names = shipped_names()
    close = difflib.get_close_matches(name_or_path, names, n=1, cutoff=0.6)
    hint = (
        f"did you mean {close[0]!r}?" if close else f"expected a path or one of: {', '.join(names)}"
    )
    raise ScenarioError([f"{name_or_path}: no such file or shipped scenario ({hint})"])


@dataclass(frozen=True)
class Entry:
    """A scenario offered in a list or picker."""

    name: str
    path: Path
    description: str
    error: str | None = None
    """First validation error, when the file does not validate."""


def describe(path: Path) -> Entry:
    """The name and first line of the description of a scenario file (or its error)."""
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        return Entry(path.stem, path, "", exc.errors[0])
    text = (scenario.title or scenario.description.strip().split("\n")[0]).strip()
    return Entry(scenario.name, path, text)


def entries(extra_dir: Path | None = None) -> list[Entry]:
    """Shipped scenarios, then the *.toml files of ``extra_dir`` (e.g. the current folder)."""
    found = [describe(shipped_dir() / f"{name}.toml") for name in shipped_names()]
    if extra_dir is not None and extra_dir.resolve() != shipped_dir().resolve():
        found += [describe(p) for p in sorted(extra_dir.glob("*.toml"))]
    return found
