"""The trainer in odd terminals and with odd files: themes, 256 colours, fast keys, Ctrl+C, the
footer's last column, large screens, markup in titles, a FIFO next to the scenarios, SIGTERM."""

from __future__ import annotations

import fcntl
import math
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from rich.color import Color as RichColor
from rich.color import ColorSystem
from textual import events
from textual.color import Color, rgb_to_lab
from textual.content import Content
from textual.theme import BUILTIN_THEMES
from textual.widgets._footer import FooterKey

from engine.session import Session
from tui_nn.app import TuiNN, UnknownTheme, run_app
from tui_nn.catalog import shipped_dir
from tui_nn.plane import LEVELS
from tui_nn.screens.main import MainScreen
from tui_nn.screens.picker import PickerScreen
from tui_nn.screens.story_card import StoryCard
from tui_nn.widgets.palette import RGB, Palette, build_palette

MOONS = shipped_dir() / "moons.toml"


def hue(rgb: RGB) -> tuple[float, float]:
    """(chroma, hue angle in degrees) in CIELAB."""
    _, a, b = rgb_to_lab(Color(*rgb))
    return math.hypot(a, b), math.degrees(math.atan2(b, a))


def angle(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)


@pytest.mark.parametrize("theme", sorted(BUILTIN_THEMES))
def test_every_theme_keeps_the_classes_apart(theme: str) -> None:
    palette = build_palette(BUILTIN_THEMES[theme], "truecolor")
    first, second = (rgb_to_lab(Color(*c)) for c in palette.classes[:2])
    undecided = rgb_to_lab(Color(*palette.undecided))
    assert math.dist(first, second) > 30
    assert min(math.dist(first, undecided), math.dist(second, undecided)) > 25
    # The undecided grey sits near the theme's background: light on light themes.
    light = BUILTIN_THEMES[theme].dark is False
    assert (undecided[0] > 50) == light


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light", "nord", "gruvbox"])
def test_256_colour_ramps_show_no_fringes(theme: str) -> None:
    """Every step is a colour a 256-colour terminal shows as it is, and every coloured step
    keeps its class's hue: no purple, red or olive on the way from grey to blue or orange."""
    palette = build_palette(BUILTIN_THEMES[theme], "256")
    two_class = [Palette.rgb(c) for c in palette.pixel[: 2 * LEVELS]]
    for rgb in two_class:
        shown = RichColor.from_rgb(*rgb).downgrade(ColorSystem.EIGHT_BIT).get_truecolor()
        assert (shown.red, shown.green, shown.blue) == rgb
    for side, steps in ((0, two_class[:LEVELS]), (1, two_class[LEVELS:])):
        _, class_hue = hue(palette.classes[side])
        for rgb in steps:
            chroma, step_hue = hue(rgb)
            assert chroma < 8 or angle(step_hue, class_hue) < 15, (theme, side, rgb)


async def test_the_map_follows_a_theme_change() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.trainer
        before = screen.boundary.render_line(0)
        draws = screen.boundary.draws
        app.theme = "textual-light"
        await pilot.pause()
        assert screen.boundary.draws > draws
        after = screen.boundary.render_line(0)
        assert [s.style for s in before] != [s.style for s in after]


async def test_keys_typed_fast_at_the_story_card_close_it_once() -> None:
    app = TuiNN(Session.from_file(MOONS))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()  # the card opens after the first frame
        assert isinstance(app.screen, StoryCard)
        for _ in range(3):  # a paste, or a browser sending keys: all before the card is gone
            app.post_message(events.Key("N", "N"))
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("N")
        assert app.trainer.session.epoch == 100


async def test_ctrl_c_quits() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 0


@pytest.mark.parametrize("size", [(40, 12), (41, 12), (80, 24)])
async def test_the_palette_key_covers_the_footers_last_column(size: tuple[int, int]) -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        key = next(k for k in app.screen.query(FooterKey) if k.has_class("-command-palette"))
        assert key.region.right == size[0]


async def test_large_screens_give_the_neuron_maps_room() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(220, 60)) as pilot:
        await pilot.pause()
        neurons = app.screen.query_one("#neurons").region
        network = app.screen.query_one("#architecture").region
        panels = app.screen.query_one("#panels").region
        assert neurons.height >= panels.height * 3 // 8 - 1
        assert neurons.height > network.height


async def test_titles_are_text_never_markup(tmp_path: Path) -> None:
    path = tmp_path / "markup.toml"
    title = "[bold red]Moons[/] [link=https://example.com]here[/link]"
    path.write_text(f'title = "{title}"\n[training]\nepochs = 5\n')
    app = TuiNN(Session.from_file(path))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()  # the card opens after the first frame
        card = app.screen.query_one(".story-dialog")
        assert Content.from_markup(card.border_title or "").plain == title
        await pilot.press("escape")
        await pilot.pause()
        bar = app.trainer.query_one("#title")
        assert title in bar.render().plain


async def test_a_fifo_in_the_folder_does_not_freeze_the_picker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.mkfifo(tmp_path / "stuck.toml")
    monkeypatch.chdir(tmp_path)
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, PickerScreen)
        stuck = next(e for e in app.screen.entries if e.path.name == "stuck.toml")
        assert stuck.error is not None and "named pipe" in stuck.error
        await pilot.press("q")  # the picker does not take q: the app still answers keys
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


CONTROL = {chr(c) for c in range(32) if chr(c) != "\n"} | {"\x7f", "\x9b", "\u202e"}
"""Characters that must never reach the terminal from a file (the rows are joined by newlines)."""


def screen_text(app: TuiNN) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_file_names_reach_the_screen_neutralised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Names of files in the folder, in the picker, its path line, the caption and an error
    dialog: an escape sequence in a name is drawn as '?', never sent to the terminal."""
    (tmp_path / "evil\x1b]0;owned\x07.toml").write_text('title = "fine"\n')
    (tmp_path / "worse\x1b[2J\u202e.toml").write_text("[training]\nlearning_rat = 1\n")
    monkeypatch.chdir(tmp_path)
    app = TuiNN(Session.from_file(MOONS), story=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("o", "end", "up")  # onto the first file of the folder
        await pilot.pause()
        assert "evil?]0;owned?.toml" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert app.trainer.session.scenario.title == "fine"
        assert not CONTROL & set(screen_text(app))
        await pilot.press("o", "end", "enter")
        await pilot.pause()
        assert "worse?[2J?.toml is not a valid scenario" in screen_text(app)
        assert not CONTROL & set(screen_text(app))


def test_an_unknown_theme_is_refused_with_a_suggestion() -> None:
    with pytest.raises(
        UnknownTheme, match="no theme 'textual-lite' \\(did you mean 'textual-light'"
    ):
        run_app(Session.from_file(MOONS), theme="textual-lite")


def test_a_served_trainer_ends_when_its_server_goes() -> None:
    """A killed `tui-nn serve` closes each trainer's stdin; the trainer must not live on."""
    env = {
        **os.environ,
        "TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver",
        "COLUMNS": "100",
        "ROWS": "30",
    }
    trainer = subprocess.Popen(
        [sys.executable, "-m", "tui_nn", "moons"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert trainer.stdin is not None
    trainer.stdin.close()
    try:
        assert trainer.wait(60) == 0
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()


async def test_textual_run_can_build_the_app_without_arguments() -> None:
    """`textual run tui_nn.app:TuiNN` constructs the App with no arguments."""
    app = TuiNN()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape")
        assert app.trainer.session.scenario.name == "moons"


def read_terminal(controller: int, until: bytes | None, limit: float = 60) -> bytes:
    """What the program writes to its terminal: up to ``until``, or everything until it closes."""
    out, deadline = b"", time.monotonic() + limit
    while until is None or until not in out:
        left = deadline - time.monotonic()
        assert left > 0, f"gave up waiting; last output {out[-200:]!r}"
        ready, _, _ = select.select([controller], [], [], left)
        try:
            chunk = os.read(controller, 1 << 16) if ready else b""
        except OSError:  # EIO: every copy of the terminal's other end is closed
            break
        if ready and not chunk:
            break
        out += chunk
    return out


def trainer_in_a_terminal() -> tuple[int, subprocess.Popen[bytes]]:
    """`tui-nn moons` in a real 100x30 pseudo-terminal of its own; returns the terminal's
    controlling end and the process."""
    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    trainer = subprocess.Popen(
        [sys.executable, "-m", "tui_nn", "moons"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"},
        start_new_session=True,  # its own controlling terminal, as in a real one
    )
    os.close(terminal)
    return controller, trainer


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_give_the_terminal_back(signum: int) -> None:
    """`kill PID`: the trainer ends as on q, gives the terminal back (the main screen, no mouse
    reports, a cursor) and exits 128 + the signal, as the headless commands do."""
    controller, trainer = trainer_in_a_terminal()
    try:
        read_terminal(controller, b"i shows this again")  # the trainer and its story card
        trainer.send_signal(signum)
        after = read_terminal(controller, None)
        assert trainer.wait(60) == 128 + signum
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()
        os.close(controller)
    assert b"\x1b[?1049l" in after  # back from the alternate screen
    assert b"\x1b[?1000l" in after  # the mouse no longer reported
    assert b"\x1b[?25h" in after  # the cursor shown again


def test_a_trainer_whose_terminal_goes_away_ends() -> None:
    """The window closes (or the SSH link drops) while training runs: the terminal hangs up
    and writing to it fails. The trainer must end as a hang-up does (129), not wait forever
    for a terminal that will never take its output again."""
    controller, trainer = trainer_in_a_terminal()
    try:
        read_terminal(controller, b"i shows this again")
        os.write(controller, b"\x1b")  # close the story card
        read_terminal(controller, b"paused")
        os.write(controller, b" ")  # train
        read_terminal(controller, b"running")
        os.close(controller)  # the terminal goes away mid-frame
        controller = -1
        assert trainer.wait(60) == 128 + signal.SIGHUP
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()
        if controller >= 0:
            os.close(controller)
