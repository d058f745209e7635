"""SVG snapshots of the trainer at fixed sizes and seeds.

Update after an intended change with `pytest tests/tui_nn/test_snapshots.py --snapshot-update`
and look at the SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot

from engine.session import Session
from tui_nn.app import TuiNN
from tui_nn.catalog import shipped_dir

SIZES = [(120, 40), (80, 24)]


def open_app(name: str, glyphs: bool = False) -> TuiNN:
    return TuiNN(Session.from_file(shipped_dir() / f"{name}.toml"), glyphs=glyphs, story=False)


def trained_to(epoch: int, *keys: str) -> Callable[[Pilot[int]], Awaitable[None]]:
    """Train headless to ``epoch`` (through the scenario's moments), then press ``keys``."""

    async def run_before(pilot: Pilot[int]) -> None:
        screen = pilot.app.trainer  # type: ignore[attr-defined]
        while screen.session.epoch < epoch:
            screen.session.step(epoch - screen.session.epoch)
        screen.redraw()
        await pilot.press(*keys)
        await pilot.pause()

    return run_before


def test_main_screen_80x24(snap_compare) -> None:
    app = open_app("moons")
    assert snap_compare(app, terminal_size=(80, 24), run_before=trained_to(102, "right", "up"))


def test_main_screen_120x40(snap_compare) -> None:
    app = open_app("moons")
    assert snap_compare(app, terminal_size=(120, 40), run_before=trained_to(102, "right", "up"))


def test_main_screen_ascii_100x30(snap_compare) -> None:
    app = open_app("moons", glyphs=True)
    assert snap_compare(app, terminal_size=(100, 30), run_before=trained_to(102, "right", "up"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_poison_opens_on_the_poisoned_run(snap_compare, size: tuple[int, int]) -> None:
    app = open_app("moons-poison")
    assert snap_compare(app, terminal_size=size, run_before=trained_to(3000))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_float16_shows_the_stall(snap_compare, size: tuple[int, int]) -> None:
    app = open_app("moons-float16")
    assert snap_compare(app, terminal_size=size, run_before=trained_to(1000))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_ood_zoomed_out_on_its_probe(snap_compare, size: tuple[int, int]) -> None:
    app = open_app("moons-ood")
    assert snap_compare(app, terminal_size=size, run_before=trained_to(3000, "p", "z"))
