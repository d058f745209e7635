"""Where scenarios come from: the shipped set, or a path the user names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.scenario import ScenarioError, load_scenario

DEFAULT_SCENARIO = "moons"
"""What `tui-nn` opens when no scenario is named."""


def shipped_dir() -> Path:
    """The folder of shipped scenarios: inside the installed package, or the source tree's."""
    installed = Path(__file__).parent / "scenarios"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "scenarios"


def shipped_names() -> list[str]:
    """Names of the shipped scenarios, sorted."""
    return sorted(p.stem for p in shipped_dir().glob("*.toml"))


def resolve(name_or_path: str) -> Path:
    """A scenario path from a path or a shipped scenario's name.

    Raises:
        ScenarioError: If it is neither an existing file nor a shipped name.
    """
    path = Path(name_or_path)
    if path.exists() or path.suffix == ".toml" or "/" in name_or_path:
        return path
    shipped = shipped_dir() / f"{name_or_path}.toml"
    if shipped.is_file():
        return shipped
    names = ", ".join(shipped_names())
    raise ScenarioError(
        [f"{name_or_path}: no such file or shipped scenario (expected a path or one of: {names})"]
    )


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
    found = [describe(p) for p in sorted(shipped_dir().glob("*.toml"))]
    if extra_dir is not None and extra_dir.resolve() != shipped_dir().resolve():
        found += [describe(p) for p in sorted(extra_dir.glob("*.toml"))]
    return found
