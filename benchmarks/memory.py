"""Memory of a long run: resident size and what the session keeps, as the epochs go by.

    python benchmarks/memory.py [SCENARIO] [EPOCHS] [--app] [--reports N]

Headless, the session is driven through ``Session.step`` directly, so a run may go past the
1,000,000 epochs a scenario's ``training.epochs`` allows; a snapshot with the map's grid is
taken at every report, as a view would. With ``--app`` the trainer itself runs at 120x40 at top
speed (every panel live, its BLAS thread cap) until the session reaches EPOCHS. Prints, N times
over the run, the epoch, the process's resident memory, the rows its histories hold, the
checkpoints kept, the bytes of both, and the epochs per second so far. The histories and
checkpoints are bounded (see the README), so after the first few thousand epochs the counted
figures stop growing, and the resident size with them.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time

from engine.session import Session
from tui_nn.catalog import resolve

BOUND_MB = 150
"""The resident size the README promises a session stays under, however long it trains."""


def rss_mb() -> float:
    """Resident set size now, in MB (Linux: /proc; elsewhere the peak)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def header() -> None:
    print(
        f"{'epoch':>12} {'RSS MB':>8} {'rows':>7} {'of':>7} {'checkpoints':>12} "
        f"{'kept MB':>8} {'ep/s':>8}"
    )


def report(session: Session, epoch0: int, start: float) -> float:
    """Print one line of figures; returns the resident size."""
    kept = session.retained()
    rate = (session.epoch - epoch0) / max(time.perf_counter() - start, 1e-9)
    rss = rss_mb()
    print(
        f"{session.epoch:>12,} {rss:>8.1f} {kept.rows:>7,} {kept.row_capacity:>7,} "
        f"{kept.checkpoints:>12,} {kept.nbytes / 1e6:>8.2f} {rate:>8,.0f}",
        flush=True,
    )
    return rss


def headless(name: str, epochs: int, reports: int) -> float:
    """Train headless to ``epochs``; returns the largest resident size seen."""
    session = Session.from_file(resolve(name))
    chunk = max(1, epochs // reports)
    start, peak = time.perf_counter(), 0.0
    print(f"{name} headless: {epochs:,} epochs (Session.step)")
    header()
    while session.epoch < epochs:
        goal = min(session.epoch + chunk, epochs)
        while session.epoch < goal and not session.blowup:
            session.step(goal - session.epoch)  # returns early at each moment
        session.snapshot(grid=(60, 40))
        peak = max(peak, report(session, 0, start))
        if session.blowup:
            print(f"stopped: {session.blowup}")
            break
    return peak


async def in_app(name: str, epochs: int, reports: int, size: tuple[int, int]) -> float:
    """Train in the app at top speed to ``epochs``; returns the largest resident size seen."""
    from tui_nn.app import TuiNN, limit_blas_threads
    from tui_nn.training import SPEEDS

    session = Session.from_file(resolve(name))
    target = session.scenario.training.epochs
    while session.epoch < target and not session.blowup:  # past the pause at the target
        session.step(target - session.epoch)
    app = TuiNN(session, story=False, fps=15)
    chunk = max(1, epochs // reports)
    peak = 0.0
    print(f"{name} in the app at {size[0]}x{size[1]}, top speed: {epochs:,} epochs")
    with limit_blas_threads():
        async with app.run_test(size=size) as pilot:
            screen = app.trainer
            screen.epochs_per_frame = SPEEDS[-1]
            header()
            start, epoch0 = time.perf_counter(), session.epoch
            next_report = epoch0 + chunk
            await pilot.press("space")
            while session.epoch < epochs:
                await pilot.pause(0.5)
                if session.blowup:
                    print(f"stopped: {session.blowup}")
                    break
                if not screen.running:  # paused at a moment: go on
                    await pilot.press("space")
                if session.epoch >= next_report or session.epoch >= epochs:
                    peak = max(peak, report(session, epoch0, start))
                    next_report += chunk
            await pilot.press("space")
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", nargs="?", default="moons", help="Scenario (default moons).")
    parser.add_argument("epochs", nargs="?", type=int, default=300_000, help="Epochs to train.")
    parser.add_argument("--app", action="store_true", help="Train in the app, not headless.")
    parser.add_argument("--reports", type=int, default=10, help="Lines of figures printed.")
    parser.add_argument("--size", default="120x40", help="The app's size, COLSxROWS.")
    args = parser.parse_args()
    if args.app:
        cols, rows = (int(v) for v in args.size.split("x"))
        peak = asyncio.run(in_app(args.name, args.epochs, args.reports, (cols, rows)))
    else:
        peak = headless(args.name, args.epochs, args.reports)
    verdict = "under" if peak < BOUND_MB else "OVER"
    print(f"largest resident size {peak:.1f} MB: {verdict} the {BOUND_MB} MB bound")


if __name__ == "__main__":
    main()
