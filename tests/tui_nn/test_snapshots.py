"""SVG snapshots of the trainer at fixed sizes, after a few epochs of the seeded moons run.

Update after an intended change with `pytest tests/tui_nn/test_snapshots.py --snapshot-update`
and look at the SVGs before committing them.
"""

from __future__ import annotations

from textual.pilot import Pilot

from engine.session import Session
from tui_nn.app import TuiNN
from tui_nn.catalog import shipped_dir

MOONS = shipped_dir() / "moons.toml"


async def train_a_little(pilot: Pilot[int]) -> None:
    await pilot.press("N", "n", "n", "right", "up")
    await pilot.pause()


def test_main_screen_80x24(snap_compare) -> None:
    app = TuiNN(Session.from_file(MOONS))
    assert snap_compare(app, terminal_size=(80, 24), run_before=train_a_little)


def test_main_screen_120x40(snap_compare) -> None:
    app = TuiNN(Session.from_file(MOONS))
    assert snap_compare(app, terminal_size=(120, 40), run_before=train_a_little)


def test_main_screen_ascii_100x30(snap_compare) -> None:
    app = TuiNN(Session.from_file(MOONS), glyphs=True)
    assert snap_compare(app, terminal_size=(100, 30), run_before=train_a_little)
