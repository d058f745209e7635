"""Command line: `tui-nn [SCENARIO]` opens the trainer; `run`, `list` and `validate` work headless.

Every bad input ends as one line per problem on stderr and a non-zero exit, never a traceback.
The interactive trainer is imported only when it is opened, so headless commands never load
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
from engine.io import WeightFileError
from engine.runner import unknown_metrics
from engine.scenario import Scenario, ScenarioError, format_error, load_scenario
from engine.session import Session
from tui_nn.catalog import DEFAULT_SCENARIO, entries, resolve

EXIT_OK = 0
EXIT_FAILED = 1
"""A --check found a failed expectation (or training blew up)."""
EXIT_USAGE = 2
"""Bad input: arguments, scenario, data or weights file."""
EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70

COMMANDS = ("run", "list", "validate", "sweep")
"""First arguments that name a subcommand rather than a scenario (use ./run for such a file)."""


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
            "  tui-nn sweep SCENARIO --set KEY=V1,V2,...   train every combination of settings\n"
            "(see `tui-nn run --help`; a scenario file named like a command: ./run)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_argument(parser)
    parser.add_argument(
        "--color",
        choices=("auto", "truecolor", "256", "16", "none"),
        default="auto",
        help="colours the terminal can show (default: guessed from the environment)",
    )
    parser.add_argument("--no-mouse", action="store_true", help="ignore the mouse")
    parser.add_argument(
        "--fps", type=_fps, default=15.0, help="screen updates per second while training (1..60)"
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
        print(f"{entry.name:<{width}}  {text}".rstrip())
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
            print(line, file=sys.stderr)
        if errors:
            status = EXIT_USAGE
        else:
            print(f"{path}: ok")
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


def cmd_run(argv: list[str]) -> int:
    """`tui-nn run SCENARIO`: train headless, print a summary, optionally check and save."""
    from rich.console import Console

    from engine import runner
    from tui_nn import report

    args = run_parser().parse_args(argv)
    for kind, target in (("report", args.json), ("weights", args.save)):
        if target is not None and not target.resolve().parent.is_dir():
            raise CliError([f"{target}: cannot write {kind} (no such folder {target.parent})"])
        if target is not None and target.is_dir():
            raise CliError([f"{target}: cannot write {kind} (is a folder, expected a file name)"])
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
        except OSError as exc:
            raise CliError([f"{args.json}: cannot write report ({exc.strerror or exc})"]) from None
    if not args.quiet:
        console = Console(highlight=False)
        console.print(report.summary(snapshot, outcomes, elapsed=elapsed))
        if sha is not None:
            console.print(f"weights saved to {args.save} (sha256 {sha})", soft_wrap=True)
    elif args.check:
        for outcome in outcomes:
            print(report.outcome_line(outcome))
    if session.blowup:
        print(report.blowup_warning(snapshot), file=sys.stderr)
    if args.check:
        failed = any(not o.passed for o in outcomes)
        return EXIT_FAILED if failed or session.blowup else EXIT_OK
    return EXIT_OK


def cmd_sweep(argv: list[str]) -> int:
    """`tui-nn sweep SCENARIO --set KEY=V1,V2,...`: see ``tui_nn.sweep``."""
    from tui_nn.sweep import main as sweep

    return sweep(argv)


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
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(_not_interactive_message(args.scenario), file=sys.stderr)
        return EXIT_USAGE
    from tui_nn.app import run_app  # only here: headless commands never import Textual

    return int(run_app(session, color=args.color, mouse=not args.no_mouse, fps=args.fps))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tui-nn` console script.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The exit status: 0 ok, 1 failed check, 2 bad input, 130 interrupted.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {"run": cmd_run, "list": cmd_list, "validate": cmd_validate, "sweep": cmd_sweep}
    command = commands.get(args[0]) if args else None
    try:
        return cmd_app(args) if command is None else command(args[1:])
    except ScenarioError as exc:
        lines = exc.errors
    except (WeightFileError, CliError) as exc:
        lines = exc.lines if isinstance(exc, CliError) else [str(exc)]
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except MemoryError:
        lines = ["tui-nn: out of memory (make the scenario smaller: data.samples, model.hidden)"]
    except Exception as exc:  # a bug: still one line, never a traceback, and a distinct status
        print(
            f"tui-nn: internal error ({type(exc).__name__}: {exc}); please report it",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    except BrokenPipeError:
        # The reader went away (`tui-nn run | head`): stop quietly, flushing nothing more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
    for line in lines:
        print(line, file=sys.stderr)
    return EXIT_USAGE
