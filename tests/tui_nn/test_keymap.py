"""A user's keymap file remaps the trainer's keys by binding id, and bad files say why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.session import Session
from tui_nn.app import TuiNN, binding_ids, run_app
from tui_nn.catalog import shipped_dir
from tui_nn.keymap import KeymapError, default_keymap_path, load_keymap, parse_keymap
from tui_nn.screens.help import help_rows

MOONS = shipped_dir() / "moons.toml"


def test_every_trainer_binding_can_be_remapped() -> None:
    ids = binding_ids()
    assert {"trainer.run", "trainer.step", "trainer.quit", "probe.left", "app.quit_ctrl_c"} <= ids


def test_flat_and_grouped_ids_are_read() -> None:
    text = '"trainer.step" = "x"\n"probe.right" = "l, ctrl+right"\n[trainer]\nrun = "enter"\n'
    assert parse_keymap(text, "k.toml", binding_ids()) == {
        "trainer.step": "x",
        "probe.right": "l,ctrl+right",
        "trainer.run": "enter",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"trainer.stpe" = "x"', "k.toml: 'trainer.stpe': unknown binding id (did you mean "),
        ('"trainer.step" = 1', 'k.toml: trainer.step: expected keys as a string like "r"'),
        ('"trainer.step" = "two words"', "k.toml: trainer.step: 'two words' is not a key"),
        ('"trainer.step" = [', "k.toml: line 1, column"),
        ("a = " + "[" * 50 + "]" * 50, "k.toml: line 1, column 21: nested too deeply"),
    ],
)
def test_a_bad_keymap_is_one_line_naming_file_and_id(text: str, expected: str) -> None:
    with pytest.raises(KeymapError) as caught:
        parse_keymap(text, "k.toml", binding_ids())
    (line,) = caught.value.lines
    assert line.startswith(expected), line


def test_the_keymap_file_is_read_safely(tmp_path: Path) -> None:
    fifo = tmp_path / "keymap.toml"
    os.mkfifo(fifo)
    with pytest.raises(KeymapError, match="is a named pipe"):
        load_keymap(fifo, binding_ids())
    assert load_keymap(tmp_path / "absent.toml", binding_ids(), required=False) == {}
    with pytest.raises(KeymapError, match="no such file"):
        run_app(Session.from_file(MOONS), keymap=tmp_path / "absent.toml")


def test_the_default_keymap_lives_in_the_config_folder() -> None:
    path = default_keymap_path({"XDG_CONFIG_HOME": "/cfg"})
    assert path == Path("/cfg/tui-nn/keymap.toml")


async def test_a_remapped_key_trains_and_the_help_shows_it() -> None:
    app = TuiNN(Session.from_file(MOONS), story=False, keymap={"trainer.step": "x"})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("n")
        assert app.trainer.session.epoch == 0  # n no longer trains
        await pilot.press("x")
        assert app.trainer.session.epoch == 1
        rows = dict((text, keys) for _, keys, text in help_rows(app.trainer))
        assert rows["Train one epoch"] == "x"
