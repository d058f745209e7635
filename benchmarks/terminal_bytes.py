"""Bytes per second the trainer writes to its terminal while training, per size and colour mode.

Starts the real program (``python -m tui_nn SCENARIO``) in a pseudo-terminal of each size, closes
the story card, starts training, waits for it to settle and counts every byte the terminal
receives over a few seconds: what an SSH link has to carry. Each colour mode is set the way a
terminal announces it (``COLORTERM=truecolor``, or only ``TERM=xterm-256color`` as over SSH);
the 'ssh' rows also set ``SSH_CONNECTION``, which the trainer reads as a remote terminal. The
last column zlib-compresses the captured stream, as ``ssh -C`` does (level 6, one stream).
Targets at 120x40: at most 32 KB/s in 256 colours over SSH, at most 64 KB/s locally.

Run: python benchmarks/terminal_bytes.py [--seconds S] [--sizes 120x40 ...] [--scenario NAME]
     [--modes truecolor 256 ssh] [--dump PREFIX]   (PREFIX-WxH-MODE.bin: the raw stream)
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
import zlib

MODES = {
    "truecolor": {"TERM": "xterm-256color", "COLORTERM": "truecolor"},
    "256": {"TERM": "xterm-256color", "COLORTERM": None},
    "ssh": {
        "TERM": "xterm-256color",
        "COLORTERM": None,
        "SSH_CONNECTION": "10.0.0.2 50000 10.0.0.1 22",
    },
}
"""Colour mode name -> the environment a terminal of that kind gives (None: unset)."""
SIZES = ("80x24", "120x40", "200x60")
START_SECONDS = 3.0
"""Time for the program to start and draw its first screen."""
SETTLE_SECONDS = 2.0
"""Time after Space before counting: the first frames of a run redraw everything."""


def _environment(mode: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SSH_CONNECTION", None)
    env.pop("SSH_CLIENT", None)
    for key, value in MODES[mode].items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def capture(scenario: str, cols: int, rows: int, mode: str, seconds: float) -> bytes:
    """The bytes the terminal receives over ``seconds`` of training (after start and settle)."""
    command = [sys.executable, "-m", "tui_nn", scenario]
    pid, fd = pty.fork()
    if pid == 0:  # the child: the program, on the pty
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.execvpe(command[0], command, _environment(mode))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def pump(duration: float, keep: bool = False) -> bytes:
        data = bytearray()
        end = time.monotonic() + duration
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([fd], [], [], min(left, 0.05))
            if ready:
                try:
                    chunk = os.read(fd, 1 << 16)
                except OSError:
                    break
                if keep:
                    data += chunk
        return bytes(data)

    try:
        pump(START_SECONDS)
        os.write(fd, b"\x1b")  # close the story card
        pump(0.3)
        os.write(fd, b" ")  # train
        pump(SETTLE_SECONDS)
        return pump(seconds, keep=True)
    finally:
        try:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
        except OSError:
            pass
        os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--sizes", nargs="+", default=list(SIZES))
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--scenario", default="moons")
    parser.add_argument("--dump", default="", help="write each raw stream to PREFIX-WxH-MODE.bin")
    args = parser.parse_args()
    print(f"{args.scenario}, training at its default speed, {args.seconds:g} s counted per row")
    print(f"{'size':>8} {'mode':>10} {'KB/s':>9} {'zlib KB/s':>10} {'ratio':>6}")
    for size in args.sizes:
        cols, rows = (int(v) for v in size.lower().split("x"))
        for mode in args.modes:
            data = capture(args.scenario, cols, rows, mode, args.seconds)
            if args.dump:
                with open(f"{args.dump}-{size}-{mode}.bin", "wb") as f:
                    f.write(data)
            packed = len(zlib.compress(data, 6))
            rate = len(data) / args.seconds / 1000
            ratio = len(data) / packed if packed else 0.0
            print(
                f"{size:>8} {mode:>10} {rate:9.1f} {packed / args.seconds / 1000:10.1f} "
                f"{ratio:5.1f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
