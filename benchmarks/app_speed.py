"""Epochs per second of each scenario in the app at top speed, against the same session headless.

For each scenario: a session is trained headless to its scenario's length (so neither run pauses
at a moment or at the last epoch), then timed twice in alternation: ``Session.step`` in
30 ms chunks with nothing else running (headless), and the app at 120x40 training at the top
speed setting with every panel live (app, with the trainer's BLAS thread cap). The figure the
app must meet is at least half the headless speed.
Run: python benchmarks/app_speed.py [--seconds S] [--rounds R] [SCENARIO ...]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from engine.session import Session
from tui_nn.app import TuiNN, limit_blas_threads
from tui_nn.catalog import shipped_dir, shipped_names
from tui_nn.training import SPEEDS


def trained_session(name: str) -> Session:
    """The scenario's session, trained headless past its last epoch and every moment."""
    session = Session.from_file(shipped_dir() / f"{name}.toml")
    target = session.scenario.training.epochs
    while session.epoch < target and not session.blowup:
        session.step(target - session.epoch)
    return session


def headless_rate(session: Session, seconds: float) -> float:
    """Epochs per second of ``Session.step`` in ~30 ms chunks for ``seconds``."""
    chunk = 1
    start = time.perf_counter()
    epoch0 = session.epoch
    while (now := time.perf_counter()) - start < seconds:
        t0 = now
        session.step(chunk)
        chunk = max(1, int(chunk * 0.03 / max(time.perf_counter() - t0, 1e-6)))
    return (session.epoch - epoch0) / (time.perf_counter() - start)


async def app_rate(session: Session, seconds: float, size: tuple[int, int]) -> float:
    """Epochs per second of the app training ``session`` at top speed for ``seconds``."""
    app = TuiNN(session, story=False, fps=15)
    with limit_blas_threads():  # as the trainer runs (run_app)
        return await _app_rate(app, session, seconds, size)


async def _app_rate(app: TuiNN, session: Session, seconds: float, size: tuple[int, int]) -> float:
    async with app.run_test(size=size) as pilot:
        screen = app.trainer
        screen.epochs_per_frame = SPEEDS[-1]
        await pilot.press("space")
        await pilot.pause(0.5)  # settle: the first frames include start-up work
        epoch0, t0 = session.epoch, time.perf_counter()
        await pilot.pause(seconds)
        rate = (session.epoch - epoch0) / (time.perf_counter() - t0)
        await pilot.press("space")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="Scenarios (default: every shipped one).")
    parser.add_argument("--seconds", type=float, default=3.0, help="Seconds per timing.")
    parser.add_argument("--rounds", type=int, default=2, help="Alternations of the two.")
    parser.add_argument("--size", default="120x40", help="Terminal size, COLSxROWS.")
    args = parser.parse_args()
    cols, rows = (int(v) for v in args.size.split("x"))
    print(f"epochs/s at top speed, app at {cols}x{rows} (best of {args.rounds} alternations)")
    print(f"{'scenario':22} {'headless':>10} {'app':>10} {'app/headless':>13}")
    for name in args.names or shipped_names():
        session = trained_session(name)
        headless, app = 0.0, 0.0
        for _ in range(args.rounds):
            headless = max(headless, headless_rate(session, args.seconds))
            app = max(app, asyncio.run(app_rate(session, args.seconds, (cols, rows))))
        print(f"{name:22} {headless:10,.0f} {app:10,.0f} {app / headless:13.2f}")


if __name__ == "__main__":
    main()
