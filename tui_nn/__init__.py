"""tui-nn: a terminal trainer for tiny neural networks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tui-nn")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
