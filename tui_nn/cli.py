"""Command line entry point: run a command, and turn every way it can fail into a status.

Every bad input ends as one line per problem on stderr and a non-zero exit, never a traceback.
Output that cannot be written (a closed pipe, a full disk) and SIGTERM/SIGHUP end cleanly too:
temporary files are removed as the stack unwinds.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from types import FrameType

from engine.io import WeightFileError
from engine.scenario import ScenarioError
from tui_nn.commands import (
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    cmd_app,
    cmd_list,
    cmd_run,
    cmd_serve,
    cmd_sweep,
    cmd_validate,
    say,
)
from tui_nn.keymap import KeymapError
from tui_nn.output import OutputError, guarded_output

__all__ = ["EXIT_OK", "EXIT_USAGE", "main"]

EXIT_INTERNAL = 70
"""A bug (EX_SOFTWARE): one line asking for a report, never a traceback."""
EXIT_OUTPUT = 74
"""Standard output could not be written (EX_IOERR): a full disk, a device error."""
EXIT_INTERRUPTED = 130
"""Ctrl+C (128 + SIGINT); SIGTERM and SIGHUP end with 128 + their number too."""
EXIT_PIPE = 141
"""The reader of standard output went away (`tui-nn list | head -1`): 128 + SIGPIPE, as the
shell reports for other tools."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind (removing temporary files) and exit 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


def _silence_stdout() -> None:
    """Point standard output at /dev/null so the interpreter's last flush cannot fail again."""
    with suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
        os.close(devnull)


def _output_failed(exc: OutputError) -> int:
    _silence_stdout()
    if exc.closed:  # the reader went away: stop quietly, like other tools
        return EXIT_PIPE
    with suppress(OSError, ValueError):
        print(f"tui-nn: cannot write to {exc.stream} ({exc.reason})", file=sys.__stderr__)
    return EXIT_OUTPUT


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tui-nn` console script.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The exit status: 0 ok, 1 failed check, 2 bad input, 70 a bug, 74 output that could not
        be written, 130 interrupted (143 and 129 for SIGTERM and SIGHUP), 141 closed pipe.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "run": cmd_run,
        "list": cmd_list,
        "validate": cmd_validate,
        "serve": cmd_serve,
        "sweep": cmd_sweep,
    }
    command = commands.get(args[0]) if args else None
    if command is not None:  # the trainer turns the collector on after its first frame
        gc.enable()
    headless = command not in (None, cmd_serve)
    previous = {}
    if headless and threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            previous[signum] = signal.signal(signum, _terminate)
    try:
        with guarded_output():
            return _dispatch(command, args)
    except OutputError as exc:
        return _output_failed(exc)
    finally:
        gc.enable()  # off while `tui_nn.launch` started us, if the trainer never drew
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _dispatch(command: Callable[[list[str]], int] | None, args: list[str]) -> int:
    """Run the command; every expected failure becomes one line per problem and a status."""
    lines: list[str]
    try:
        try:
            status = cmd_app(args) if command is None else command(args[1:])
        except SystemExit as exc:  # argparse: --help, --version, usage errors
            status = exc.code if isinstance(exc.code, int) else EXIT_USAGE
        sys.stdout.flush()
        return status
    except OutputError:
        raise
    except ScenarioError as exc:
        lines = exc.errors
    except (WeightFileError, CliError, KeymapError) as exc:
        lines = [str(exc)] if isinstance(exc, WeightFileError) else exc.lines
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Terminated as exc:
        return 128 + exc.signum
    except MemoryError:
        lines = ["tui-nn: out of memory (make the scenario smaller: data.samples, model.hidden)"]
    except Exception as exc:  # a bug: still one line, never a traceback, and a distinct status
        say(f"tui-nn: internal error ({type(exc).__name__}: {exc}); please report it", err=True)
        return EXIT_INTERNAL
    for line in lines:
        say(line, err=True)
    return EXIT_USAGE
