"""The commands: `tui-nn [SCENARIO]` opens the trainer; `run`, `list` and `validate` work
headless; `serve` shows the trainer in a browser.

Each ``cmd_*`` takes its arguments and returns an exit status; bad input is raised as
``ScenarioError``, ``WeightFileError`` or ``CliError`` for ``tui_nn.cli`` to report. Everything
printed that came from a file or a file name goes through ``say`` (neutralised). The trainer
and the web server are imported only when they are opened, so headless commands never load
Textual.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from engine.config import MAX_EPOCHS, MAX_SEED
from engine.files import FileRefused, check_writable_target
from engine.runner import unknown_metrics
from engine.scenario import Scenario, ScenarioError, format_error, load_scenario
from engine.session import Session
from engine.text import neutralise
from tui_nn import version
from tui_nn.catalog import DEFAULT_SCENARIO, entries, resolve


class VersionAction(argparse.Action):
    """``--version``: print the version and exit, looking it up only then (as argparse's own
    version action prints, to standard output)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS,
            help="show the version and exit",
        )  # fmt: skip

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write(f"tui-nn {version()}\n")
        parser.exit()


EXIT_OK = 0
EXIT_FAILED = 1
"""A --check found a failed expectation (or training blew up)."""
EXIT_USAGE = 2
"""Bad input: arguments, scenario, data or weights file."""

COMMANDS = ("run", "list", "validate", "serve", "sweep")
"""First arguments that name a subcommand rather than a scenario (use ./run for such a file)."""


def say(line: str, *, err: bool = False) -> None:
    """Print one line that may hold text from a file, neutralised (see ``engine.text``)."""
    print(neutralise(line, newlines=False), file=sys.stderr if err else sys.stdout)


class CliError(Exception):
    """A problem with the user's input; each entry of ``lines`` is printed as one line."""

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number (got {text!r})") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low}..{high} (got {value})")
        return value

    return parse


def _fps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number (got {text!r})") from None
    if not 1 <= value <= 60:
        raise argparse.ArgumentTypeError(f"expected 1..60 frames per second (got {text})")
    return value


def app_parser() -> argparse.ArgumentParser:
    """The parser of the bare command, which opens the interactive trainer."""
    parser = argparse.ArgumentParser(
        prog="tui-nn",
        description="Watch tiny neural networks learn, then watch them break.",
        epilog=(
            "headless commands:\n"
            "  tui-nn run SCENARIO       train without the interface and print a summary\n"
            "  tui-nn list               the shipped scenarios\n"
            "  tui-nn validate FILE...   check scenario files\n"
            "  tui-nn serve [SCENARIO]   the trainer in a web browser (localhost)\n"
            "  tui-nn sweep SCENARIO --set KEY=V1,V2,...   train every combination of settings\n"
            "(see `tui-nn run --help`; a scenario file named like a command: ./run)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=VersionAction)
    add_scenario_argument(parser)
    parser.add_argument(
        "--color",
        choices=("auto", "truecolor", "256", "16", "none"),
        default="auto",
        help="colours the terminal can show (default: guessed from the environment)",
    )
    parser.add_argument(
        "--theme",
        metavar="NAME",
        help="a Textual theme, e.g. textual-light (default: textual-dark)",
    )
    parser.add_argument("--no-mouse", action="store_true", help="ignore the mouse")
    parser.add_argument(
        "--keymap",
        type=Path,
        metavar="FILE",
        help="remap keys by binding id (default: ~/.config/tui-nn/keymap.toml if it exists)",
    )
    parser.add_argument(
        "--fps",
        type=_fps,
        default=None,
        help="most screen updates per second while training (1..60; default 15, over SSH 8)",
    )
    return parser


def add_scenario_argument(parser: argparse.ArgumentParser) -> None:
    """The optional SCENARIO positional: a path or a shipped scenario's name."""
    parser.add_argument(
        "scenario",
        nargs="?",
        default=DEFAULT_SCENARIO,
        help=f"scenario file or shipped scenario name (default: {DEFAULT_SCENARIO})",
    )


def run_parser() -> argparse.ArgumentParser:
    """The parser of `tui-nn run`."""
    parser = argparse.ArgumentParser(
        prog="tui-nn run", description="Train a scenario without the interface."
    )
    add_scenario_argument(parser)
    parser.add_argument(
        "--epochs", type=_int_in(0, MAX_EPOCHS), help="train this many epochs instead"
    )
    parser.add_argument("--seed", type=_int_in(0, MAX_SEED), help="override training.seed")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write a JSON report here")
    parser.add_argument(
        "--save", type=Path, metavar="WEIGHTS", help="save the final weights (safetensors)"
    )
    parser.add_argument(
        "--load", type=Path, metavar="WEIGHTS", help="start from saved weights (safetensors)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if an [[expect]] check fails")
    parser.add_argument("--quiet", action="store_true", help="print no summary")
    return parser


def load(name_or_path: str) -> tuple[Path, Scenario]:
    """Resolve and validate a scenario (raises ScenarioError)."""
    path = resolve(name_or_path)
    return path, load_scenario(path)


def with_overrides(scenario: Scenario, epochs: int | None, seed: int | None) -> Scenario:
    """The scenario with training.epochs and training.seed replaced, re-validated."""
    update = {
        key: value for key, value in (("epochs", epochs), ("seed", seed)) if value is not None
    }
    if not update:
        return scenario
    raw = scenario.model_dump()
    raw["training"].update(update)
    # Validate the whole scenario again: some rules relate training to other sections.
    try:
        return Scenario.model_validate(
            {**raw, "base_dir": scenario.base_dir, "source": scenario.source}
        )
    except ValidationError as exc:
        src = scenario.source or scenario.name
        lines = [f"{src}: {line}" for err in exc.errors() for line in format_error(err)]
        raise ScenarioError(lines) from None


def cmd_list(argv: list[str]) -> int:
    """`tui-nn list`: one line per shipped scenario."""
    argparse.ArgumentParser(
        prog="tui-nn list", description="List the shipped scenarios."
    ).parse_args(argv)
    found = entries()
    width = max((len(e.name) for e in found), default=0)
    for entry in found:
        text = entry.description if entry.error is None else f"(invalid: {entry.error})"
        say(f"{entry.name:<{width}}  {text}".rstrip())
    return EXIT_OK


def cmd_validate(argv: list[str]) -> int:
    """`tui-nn validate FILE...`: every error of every file, one line each."""
    parser = argparse.ArgumentParser(
        prog="tui-nn validate", description="Check scenario files, including their CSV data."
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    args = parser.parse_args(argv)
    status = EXIT_OK
    for name in args.files:
        try:
            path, scenario = load(name)
            errors = unknown_metrics(Session(scenario))
        except ScenarioError as exc:
            errors = exc.errors
        for line in errors:
            say(line, err=True)
        if errors:
            status = EXIT_USAGE
        else:
            say(f"{path}: ok")
    return status


@contextmanager
def _progress_bar(total: int, *, enabled: bool) -> Iterator[Callable[[int], None]]:
    if not enabled or total == 0:
        yield lambda _: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("epochs", total=total)
        yield lambda epoch: bar.update(task, completed=epoch)


def check_target(kind: str, target: Path) -> None:
    """Refuse an output path that cannot be written, before any training happens."""
    try:
        folder_ok = target.resolve().parent.is_dir()
    except (OSError, RuntimeError):
        folder_ok = False
    if not folder_ok:
        raise CliError([f"{target}: cannot write {kind} (no such folder {target.parent})"])
    # os.path.isdir, not Path.is_dir: that raises for a name too long (ENAMETOOLONG), which
    # check_writable_target then reports as one line like any other refusal.
    if os.path.isdir(target):
        raise CliError([f"{target}: cannot write {kind} (is a folder, expected a file name)"])
    try:
        check_writable_target(target)
    except FileRefused as exc:
        raise CliError([f"{target}: cannot write {kind} ({exc.reason})"]) from None


def cmd_run(argv: list[str]) -> int:
    """`tui-nn run SCENARIO`: train headless, print a summary, optionally check and save."""
    from rich.console import Console

    from engine import runner
    from tui_nn import report

    args = run_parser().parse_args(argv)
    for kind, target in (("report", args.json), ("weights", args.save)):
        if target is not None:
            check_target(kind, target)
    _, scenario = load(args.scenario)
    scenario = with_overrides(scenario, args.epochs, args.seed)
    session = Session(scenario)
    if errors := unknown_metrics(session):
        raise CliError(errors)
    if args.load is not None:
        session.load_weights(args.load)
    started = time.perf_counter()
    with _progress_bar(
        scenario.training.epochs, enabled=not args.quiet and sys.stderr.isatty()
    ) as advance:
        result = runner.train(session, advance)
    elapsed = time.perf_counter() - started
    sha = session.save_weights(args.save) if args.save is not None else None
    snapshot = session.snapshot(grid=report.BOUNDARY_GRID)
    outcomes = result.outcomes
    if args.json is not None:
        data = report.build(snapshot, outcomes, weights_sha256=sha)
        try:
            report.write_json(args.json, data)
        except FileRefused as exc:
            raise CliError([f"{args.json}: cannot write report ({exc.reason})"]) from None
        except OSError as exc:
            raise CliError([f"{args.json}: cannot write report ({exc.strerror or exc})"]) from None
    if not args.quiet:
        console = Console(highlight=False)
        console.print(report.summary(snapshot, outcomes, elapsed=elapsed))
        if sha is not None:
            saved = neutralise(f"weights saved to {args.save} (sha256 {sha})", newlines=False)
            console.print(saved, soft_wrap=True, markup=False)
    elif args.check:
        for outcome in outcomes:
            say(report.outcome_line(outcome))
    if session.blowup:
        say(report.blowup_warning(snapshot), err=True)
    if args.check:
        failed = any(not o.passed for o in outcomes)
        return EXIT_FAILED if failed or session.blowup else EXIT_OK
    return EXIT_OK


DUMB_TERMINALS = ("dumb", "unknown")
"""TERM values of terminals that cannot move the cursor (Rich treats them the same way)."""


def _dumb_terminal_message(name: str) -> str:
    term = os.environ.get("TERM", "")
    return (
        f"tui-nn: TERM={term} cannot draw the trainer (it needs cursor movement and colours); "
        f"run it in a terminal such as xterm (TERM=xterm-256color), or train headless with "
        f"`tui-nn run {name}`"
    )


def _not_interactive_message(name: str) -> str:
    via_ssh = bool(os.environ.get("SSH_CONNECTION"))
    where = "this SSH session has no terminal" if via_ssh else "stdin or stdout is not a terminal"
    hint = "reconnect with `ssh -t` or " if via_ssh else "use a terminal (over SSH: `ssh -t`) or "
    return (
        f"tui-nn: the trainer needs an interactive terminal ({where}); "
        f"{hint}train headless with `tui-nn run {name}`"
    )


def cmd_app(argv: list[str]) -> int:
    """Bare `tui-nn [SCENARIO]`: validate, then open the interactive trainer."""
    args = app_parser().parse_args(argv)
    _, scenario = load(args.scenario)
    session = Session(scenario)  # builds the data too: a bad CSV is reported before the app
    served = bool(os.environ.get("TEXTUAL_DRIVER"))  # `tui-nn serve` runs us behind a browser
    if not served and not (sys.stdin.isatty() and sys.stdout.isatty()):
        say(_not_interactive_message(args.scenario), err=True)
        return EXIT_USAGE
    if not served and os.environ.get("TERM", "").lower() in DUMB_TERMINALS:
        say(_dumb_terminal_message(args.scenario), err=True)
        return EXIT_USAGE
    from tui_nn.app import (
        UnknownTheme,
        run_app,  # only here: headless commands never import Textual
    )

    try:
        return int(
            run_app(
                session,
                color=args.color,
                mouse=not args.no_mouse,
                fps=args.fps,
                keymap=args.keymap,
                theme=args.theme,
            )
        )
    except UnknownTheme as exc:
        raise CliError([str(exc)]) from None


def cmd_sweep(argv: list[str]) -> int:
    """`tui-nn sweep SCENARIO --set KEY=V1,V2,...`: see ``tui_nn.sweep``."""
    from tui_nn.sweep import main as sweep

    return sweep(argv)


def cmd_serve(argv: list[str]) -> int:
    """`tui-nn serve [SCENARIO]`: the trainer in a web browser, one copy per browser tab."""
    parser = argparse.ArgumentParser(
        prog="tui-nn serve",
        description="Serve the trainer to web browsers (each tab runs its own trainer).",
    )
    add_scenario_argument(parser)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: everyone "
        "who can reach it)",
    )
    parser.add_argument("--port", type=_int_in(1, 65535), default=8000, help="default 8000")
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help="the address browsers use, when it is not http://HOST:PORT",
    )
    args = parser.parse_args(argv)
    path, scenario = load(args.scenario)
    Session(scenario)  # a bad scenario or CSV is reported here, not in every browser tab
    try:
        from tui_nn.serve import serve  # only here: it needs the optional web server
    except ImportError as exc:
        missing = f"the web server is not installed ({exc.name})"
        hint = "install it with `pip install 'tui-nn[web]'`"
        raise CliError([f"tui-nn serve: {missing}; {hint}"]) from None
    return serve(path.resolve(), host=args.host, port=args.port, public_url=args.public_url)
