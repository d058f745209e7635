"""Command line: `tui-nn [SCENARIO]` (headless summary for now)."""

from __future__ import annotations

import argparse
import sys

from engine.scenario import ScenarioError
from engine.session import Session
from tui_nn.catalog import DEFAULT_SCENARIO, resolve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tui-nn", description="Train tiny neural networks.")
    parser.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO)
    args = parser.parse_args(argv)
    try:
        session = Session.from_file(resolve(args.scenario))
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    session.step(session.scenario.training.epochs)
    run = session.snapshot().baseline
    print(f"{session.scenario.name}: epoch {run.epoch}, train loss {run.train_loss:.4f}, "
          f"test accuracy {run.test_accuracy:.3f}")
    return 0
