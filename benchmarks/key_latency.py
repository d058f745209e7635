"""Key latency at top speed: milliseconds from a key press until its effect is on the screen.

Runs the real program (``python -m tui_nn SCENARIO``) in tmux at 120x40, closes the story card,
presses `+` up to the top speed, starts training and waits; then, per key, sends the key many
times and polls the screen (``tmux capture-pane``) until the part the key changes differs.
Keys: Space (run/pause in the title bar), `-`/`+` alternately (epochs per frame in the title
bar), `z` (the map's top-right corner, which the zoom moves), `t` (the map's title; scenarios
of several runs), `y` and `f` (the notice the data edit gives), `[` (the epoch shown).
Between samples training runs again (Space) where a key paused it. Target: p95 under 100 ms
on every shipped scenario.
Needs tmux. Run: python benchmarks/key_latency.py [--samples N] [SCENARIO ...]
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import time
import uuid

from engine.session import Session
from tui_nn.catalog import shipped_dir, shipped_names

SIZE = (120, 40)
TIMEOUT = 3.0
"""Seconds a key may take before it counts as showing nothing (reported as a miss)."""
WATCH = {
    "space": r"(running|paused|looking back)",
    "speed": r"([\d,]+) ep/frame",
    "z": r"\((-?[\d.e+-]+, -?[\d.e+-]+)\) ?│",
    "t": r"Map: ([^─]*)",
    "y": r"d adds class (\d)",
    "f": r"(\S+ the label[^.]*|[Ff]lipped[^.]*)",
    "[": r"epoch ([\d,]+)",
}
"""What each key changes on the screen (the first group of the first match)."""


class Terminal:
    """The program in a detached tmux session of its own."""

    def __init__(self, scenario: str) -> None:
        self.socket = f"key-latency-{uuid.uuid4().hex[:8]}"
        command = shlex.join([sys.executable, "-m", "tui_nn", scenario])
        env = "env TERM=xterm-256color COLORTERM=truecolor"
        cols, rows = SIZE
        self.tmux("new-session", "-d", "-s", "m", "-x", str(cols), "-y", str(rows),
                  f"{env} {command}")  # fmt: skip

    def tmux(self, *args: str) -> str:
        run = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True)
        return run.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "m")

    def send(self, key: str) -> None:
        self.tmux("send-keys", "-t", "m", key)

    def close(self) -> None:
        self.tmux("kill-server")


def watched(screen: str, pattern: re.Pattern[str]) -> str | None:
    match = pattern.search(screen)
    return None if match is None else (match.group(1) if match.groups() else match.group())


def press(term: Terminal, key: str, pattern: re.Pattern[str]) -> float | None:
    """Milliseconds until ``key`` changes what ``pattern`` watches (None: no change)."""
    before = watched(term.screen(), pattern)
    start = time.monotonic()
    term.send(key)
    while (elapsed := time.monotonic() - start) < TIMEOUT:
        if watched(term.screen(), pattern) != before:
            return elapsed * 1000
        time.sleep(0.003)
    return None


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(scenario: str, samples: int) -> dict[str, tuple[float, int]]:
    """Key -> (p95 ms, misses) on this scenario at top speed."""
    term = Terminal(scenario)
    results: dict[str, tuple[float, int]] = {}
    try:
        deadline = time.monotonic() + 20
        while "tui-nn" not in term.screen() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)
        term.send("Escape")
        for _ in range(12):
            term.send("+")
        time.sleep(0.3)

        def running() -> bool:
            return "running" in term.screen()

        def ensure_running() -> None:
            for _ in range(3):
                if running():
                    return
                term.send("Space")
                time.sleep(0.4)

        ensure_running()
        time.sleep(2)
        multi = len(Session.from_file(shipped_dir() / f"{scenario}.toml").slots) > 1
        plan = [("space", ["Space"]), ("speed", ["-", "+"]), ("z", ["z"]), ("y", ["y"]),
                ("f", ["f"]), ("[", ["["])]  # fmt: skip
        if multi:
            plan.insert(2, ("t", ["t"]))
        for name, keys in plan:
            pattern = re.compile(WATCH[name])
            times, misses = [], 0
            for i in range(samples):
                ensure_running()
                took = press(term, keys[i % len(keys)], pattern)
                if took is None:
                    misses += 1
                else:
                    times.append(took)
                time.sleep(0.25)
            results[name] = (p95(times) if times else float("nan"), misses)
    finally:
        term.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=12)
    parser.add_argument("scenarios", nargs="*")
    args = parser.parse_args()
    names = args.scenarios or shipped_names()
    keys = ["space", "speed", "t", "z", "y", "f", "["]
    print(f"p95 key latency in ms at top speed, {SIZE[0]}x{SIZE[1]}, {args.samples} presses each")
    print(f"{'scenario':20}" + "".join(f"{k:>8}" for k in keys) + "   worst")
    for name in names:
        results = measure(name, args.samples)
        cells = []
        for key in keys:
            if key not in results:
                cells.append(f"{'-':>8}")
                continue
            value, misses = results[key]
            cells.append(f"{value:7.0f}{'*' if misses else ' '}")
        worst = max(v for v, _ in results.values())
        print(f"{name:20}" + "".join(cells) + f"{worst:8.0f}", flush=True)
    print("* some presses showed no change within 3 s (not counted)")


if __name__ == "__main__":
    main()
