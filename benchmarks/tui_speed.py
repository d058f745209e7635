"""How fast the trainer trains while it draws, and how long the boundary map takes to draw.

Runs the app headless at 120x40 on the two-moons scenario with every panel live, trains at the
highest speed setting for a few seconds and reports epochs per second and redraws per second
(targets: >= 5,000 epochs/s while redrawing >= 10 times a second). Then times the decision
boundary alone: the session's grid evaluation for the map's size, turning a snapshot into a
frame, and rendering every line of the map from an empty cache (target: < 10 ms).
Run: python benchmarks/tui_speed.py [--seconds S] [--repeats R]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from engine.session import Session
from tui_nn.app import TuiNN
from tui_nn.catalog import shipped_dir
from tui_nn.training import SPEEDS


def mean_ms(repeats: int, work) -> float:
    """Mean milliseconds of one call of ``work`` over ``repeats`` calls."""
    start = time.perf_counter()
    for _ in range(repeats):
        work()
    return (time.perf_counter() - start) / repeats * 1e3


async def measure(seconds: float, repeats: int, size: tuple[int, int]) -> None:
    # Colour, as a terminal with colours draws it (a headless app would pick ASCII), and no
    # story card to close first.
    app = TuiNN(Session.from_file(shipped_dir() / "moons.toml"), fps=15, glyphs=False, story=False)
    async with app.run_test(size=size) as pilot:
        screen = app.trainer
        session = screen.session
        session.step(session.scenario.training.epochs)  # past the pause at the last epoch
        screen.epochs_per_frame = SPEEDS[-1]
        await pilot.press("space")
        await pilot.pause(0.5)  # settle: the first frames include start-up work
        epoch0, frames0, t0 = session.epoch, screen.frames_drawn, time.perf_counter()
        await pilot.pause(seconds)
        elapsed = time.perf_counter() - t0
        epochs, frames = session.epoch - epoch0, screen.frames_drawn - frames0
        await pilot.press("space")
        print(f"app at {size[0]}x{size[1]}, moons, all panels live, fps cap 15:")
        print(f"  training while drawing  {epochs / elapsed:10,.0f} epochs/s   (target >= 5,000)")
        print(f"  redraws                 {frames / elapsed:10.1f} per second (target >= 10)")

        boundary = screen.boundary
        grid, extent = boundary.grid_size(), boundary.extent
        w, h = boundary.size
        snapshot_ms = mean_ms(repeats, lambda: session.snapshot(grid=grid, extent=extent))
        no_grid_ms = mean_ms(repeats, lambda: session.snapshot())
        snapshot = session.snapshot(grid=grid, extent=extent)

        def build_frame() -> None:
            boundary._key = None
            boundary.show(snapshot)

        def render_all() -> None:
            boundary._rows.clear()
            for y in range(h):
                boundary.render_line(y)

        frame_ms = mean_ms(repeats, build_frame)
        render_ms = mean_ms(repeats, render_all)
        print(f"boundary map {w}x{h} cells ({grid[0]}x{grid[1]} pixels):")
        print(
            f"  snapshot with grid      {snapshot_ms:8.2f} ms  (without grid {no_grid_ms:.2f} ms)"
        )
        print(f"  snapshot -> frame       {frame_ms:8.2f} ms")
        print(f"  render every line       {render_ms:8.2f} ms")
        print(f"  frame + render          {frame_ms + render_ms:8.2f} ms  (target < 10)")
        boundary.glyphs = True
        render_ascii_ms = mean_ms(repeats, lambda: (build_frame(), render_all()))
        print(f"  ASCII frame + render    {render_ascii_ms:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="Seconds of training timed.")
    parser.add_argument("--repeats", type=int, default=50, help="Calls per rendering timing.")
    parser.add_argument("--size", default="120x40", help="Terminal size, COLSxROWS.")
    args = parser.parse_args()
    cols, rows = (int(v) for v in args.size.split("x"))
    asyncio.run(measure(args.seconds, args.repeats, (cols, rows)))


if __name__ == "__main__":
    main()
