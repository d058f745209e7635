"""tui-nn: a terminal trainer for tiny neural networks."""

from __future__ import annotations

from functools import cache


@cache
def version() -> str:
    """The installed package's version (read on first use: importlib.metadata is slow to load)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("tui-nn")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
