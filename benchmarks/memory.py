"""Memory of a long run: resident size and what the session keeps, as the epochs go by.

    python benchmarks/memory.py [SCENARIO] [EPOCHS]

Prints, every tenth of the way, the epoch, the process's resident memory, the rows its
histories hold and the checkpoints kept. The history and checkpoints are bounded (see the
README), so after the first few thousand epochs the figures stop growing.
"""

from __future__ import annotations

import resource
import sys
import time

from engine.session import Session
from tui_nn.catalog import resolve


def rss_mb() -> float:
    """Resident set size now, in MB (Linux: /proc; elsewhere the peak)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "moons"
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 300_000
    session = Session.from_file(resolve(name))
    chunk = max(1, epochs // 10)
    start = time.perf_counter()
    print(f"{name}: {epochs:,} epochs")
    print(f"{'epoch':>12} {'RSS MB':>8} {'rows':>7} {'checkpoints':>12} {'ckpt MB':>8} {'ep/s':>8}")
    while session.epoch < epochs:
        session.step(min(chunk, epochs - session.epoch))
        session.snapshot(grid=(60, 40))
        traces = [*session._traces.values(), *session._drift_traces.values()]
        rows = sum(len(t) for t in traces)
        rate = session.epoch / (time.perf_counter() - start)
        print(
            f"{session.epoch:>12,} {rss_mb():>8.1f} {rows:>7,} {len(session.timeline):>12,} "
            f"{session.timeline.nbytes / 1e6:>8.2f} {rate:>8,.0f}"
        )


if __name__ == "__main__":
    main()
