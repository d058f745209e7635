"""Whether training speed holds over a long run, in the app and headless, and per scenario.

    python benchmarks/steady_speed.py [--minutes N] [--every S] [--seconds S] [SCENARIO ...]

First moons (trained past its scenario length, so nothing pauses) runs at top speed in the app
at 120x40 with every panel live for N minutes, printing the epochs per second of every S-second
interval and the resident memory (target: >= 5,000 epochs/s throughout); then the same session
trains headless (``Session.step`` in ~30 ms chunks, what ``tui-nn run`` does) for N minutes,
printed the same way. Then a table: each scenario's epochs per second headless and in the app,
a shorter run each (target: the app at least half the headless speed). The app is drawn as for
a truecolour terminal (COLORTERM=truecolor unless set), with the trainer's BLAS thread cap.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

os.environ.setdefault("COLORTERM", "truecolor")  # before Textual reads the terminal

from app_speed import headless_rate, trained_session
from memory import rss_mb

from engine.session import Session
from tui_nn.app import TuiNN, limit_blas_threads
from tui_nn.catalog import shipped_names
from tui_nn.training import SPEEDS

SIZE = (120, 40)
TARGET = 5000
"""Epochs per second moons must hold in the app at top speed."""


def line(elapsed: float, epoch: int, rate: float) -> str:
    mark = "" if rate >= TARGET else "  below target"
    return f"{elapsed:>8.0f} {epoch:>12,} {rate:>10,.0f} {rss_mb():>8.1f}{mark}"


async def app_over_time(session: Session, seconds: float, every: float) -> list[float]:
    """Train in the app at top speed for ``seconds``, printing each ``every``-second interval;
    returns the intervals' rates."""
    rates = []
    app = TuiNN(session, story=False, fps=15)
    with limit_blas_threads():  # as the trainer runs (run_app)
        async with app.run_test(size=SIZE) as pilot:
            screen = app.trainer
            screen.epochs_per_frame = SPEEDS[-1]
            await pilot.press("space")
            await pilot.pause(0.5)  # settle: the first frames include start-up work
            start = time.perf_counter()
            t0, e0 = start, session.epoch
            while t0 - start < seconds - 1e-6:
                await pilot.pause(every)
                t1, e1 = time.perf_counter(), session.epoch
                rates.append((e1 - e0) / (t1 - t0))
                print(line(t1 - start, e1, rates[-1]), flush=True)
                t0, e0 = t1, e1
            await pilot.press("space")
    return rates


def headless_over_time(session: Session, seconds: float, every: float) -> list[float]:
    """Train headless for ``seconds``, printing each ``every``-second interval's rate."""
    rates = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds - 1e-6:
        epoch0 = session.epoch
        rates.append(headless_rate(session, every))
        print(line(time.perf_counter() - start, session.epoch, rates[-1]), flush=True)
        assert session.epoch > epoch0
    return rates


def summary(label: str, rates: list[float]) -> None:
    low, high = min(rates), max(rates)
    mean = sum(rates) / len(rates)
    print(f"{label}: lowest {low:,.0f}, mean {mean:,.0f}, highest {high:,.0f} epochs/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="Scenarios of the table (default: all).")
    parser.add_argument("--minutes", type=float, default=10.0, help="Minutes of each long run.")
    parser.add_argument("--every", type=float, default=30.0, help="Seconds per printed line.")
    parser.add_argument("--seconds", type=float, default=5.0, help="Seconds per table timing.")
    parser.add_argument("--no-table", action="store_true", help="Only the long moons runs.")
    parser.add_argument("--no-long", action="store_true", help="Only the per-scenario table.")
    args = parser.parse_args()
    seconds = args.minutes * 60
    header = f"{'seconds':>8} {'epoch':>12} {'epochs/s':>10} {'RSS MB':>8}"
    if not args.no_long:
        session = trained_session("moons")
        print(f"moons in the app at {SIZE[0]}x{SIZE[1]}, top speed, {args.minutes:g} minutes")
        print(header)
        app = asyncio.run(app_over_time(session, seconds, args.every))
        print(f"moons headless, {args.minutes:g} minutes")
        print(header)
        headless = headless_over_time(session, seconds, args.every)
        summary("app", app)
        summary("headless", headless)
    if not args.no_table:
        print(f"\nepochs/s at top speed, app at {SIZE[0]}x{SIZE[1]}, {args.seconds:g} s each")
        print(f"{'scenario':22} {'headless':>10} {'app':>10} {'app/headless':>13}")
        for name in args.names or shipped_names():
            session = trained_session(name)
            headless_speed = headless_rate(session, args.seconds)
            app_speed = asyncio.run(app_over_time_quiet(session, args.seconds))
            ratio = app_speed / headless_speed
            mark = "" if ratio >= 0.5 else "  below half"
            print(f"{name:22} {headless_speed:10,.0f} {app_speed:10,.0f} {ratio:13.2f}{mark}")


async def app_over_time_quiet(session: Session, seconds: float) -> float:
    """Epochs per second of the app training ``session`` at top speed for ``seconds``."""
    app = TuiNN(session, story=False, fps=15)
    with limit_blas_threads():
        async with app.run_test(size=SIZE) as pilot:
            screen = app.trainer
            screen.epochs_per_frame = SPEEDS[-1]
            await pilot.press("space")
            await pilot.pause(0.5)
            epoch0, t0 = session.epoch, time.perf_counter()
            await pilot.pause(seconds)
            rate = (session.epoch - epoch0) / (time.perf_counter() - t0)
            await pilot.press("space")
    return rate


if __name__ == "__main__":
    main()
