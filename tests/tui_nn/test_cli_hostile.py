"""The command line against hostile files and output that cannot be written.

Each case runs the real program in a child process where the terminal, pipe or file matters;
none may end in a traceback, an internal error (exit 70), a hang, or a write outside a regular
file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine import files
from tui_nn import __version__
from tui_nn.cli import main

HOSTILE = Path(__file__).resolve().parent.parent / "data" / "hostile"
CONTROL = {chr(c) for c in range(32) if chr(c) != "\n"} | {"\x7f", "\u202e", "\x9b"}


def run(
    *args: str, stdout: int | None = subprocess.PIPE, env: dict[str, str] | None = None, **kw
) -> subprocess.CompletedProcess[str]:
    """The real program, stdin not a terminal, within a minute (a hang fails the test)."""
    return subprocess.run(
        [sys.executable, "-m", "tui_nn", *args],
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        **kw,
    )


def test_a_closed_pipe_ends_quietly() -> None:
    read, write = os.pipe()
    os.close(read)  # `tui-nn list | head -0`: nobody will ever read
    try:
        done = run("list", stdout=write)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")


def test_a_full_disk_is_one_clear_line() -> None:
    with open("/dev/full", "w") as full:
        done = run("list", stdout=full.fileno())
    assert done.returncode == 74
    assert done.stderr == "tui-nn: cannot write to standard output (No space left on device)\n"


def test_an_ascii_terminal_gets_escapes_not_an_error() -> None:
    done = run("run", "moons", "--epochs", "2", env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.isascii() and "\\u" in done.stdout  # e.g. the map's block characters


def test_nothing_a_file_names_reaches_the_terminal_raw(tmp_path: Path) -> None:
    name = tmp_path / "evil\x1b]0;owned\x07\u202e.toml"
    name.write_text((HOSTILE / "escape_key.toml").read_text())
    bad = run("validate", str(name), str(HOSTILE / "escape_title.toml"))
    assert bad.returncode == 2
    assert not CONTROL & set(bad.stdout + bad.stderr), repr(bad.stderr)
    assert "evil?]0;owned??.toml: ?[2J: unknown key" in bad.stderr
    name.write_text('title = "[bold red]not markup[/]"\n[training]\nepochs = 1\n')
    good = run("run", str(name))
    assert good.returncode == 0 and not CONTROL & set(good.stdout + good.stderr)
    assert "[bold red]not markup[/]" in good.stdout


def test_a_fifo_scenario_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    done = run("validate", str(fifo))
    assert (done.returncode, done.stderr) == (2, f"{fifo}: is a named pipe (FIFO), expected a "
                                                  "regular file\n")  # fmt: skip


@pytest.mark.parametrize("option", ["--json", "--save"])
def test_outputs_are_never_written_through_links_or_into_fifos(option: str, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "out"
    link.symlink_to(victim)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target, kind in ((link, "a symbolic link"), (fifo, "a named pipe (FIFO)")):
        done = run("run", "xor", "--epochs", "1", "--quiet", option, str(target))
        assert done.returncode == 2
        assert f"{target}: cannot write" in done.stderr and kind in done.stderr
    assert victim.read_text() == "precious" and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "out", "victim"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_a_save_leaves_no_temporary_file(
    signum: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kill PID` while the weights are being written: exit 128 + signal, and neither the
    target nor a `.NAME.tui-nn-PID-RANDOM.tmp` is left behind."""

    def signalled(fd: int) -> None:  # the real signal, at the worst moment: mid-write
        os.kill(os.getpid(), signum)

    monkeypatch.setattr(files.os, "fsync", signalled)
    before = signal.getsignal(signum)
    target = tmp_path / "w.safetensors"
    assert main(["run", "xor", "--epochs", "1", "--quiet", "--save", str(target)]) == 128 + signum
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signum) is before  # main() put the previous handler back


def test_a_name_too_long_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "b" * 300 + ".toml"]) == 2
    assert capsys.readouterr().err.endswith(": cannot read (File name too long)\n")
    assert main(["run", "c" * 300]) == 2
    assert "no such file or shipped scenario" in capsys.readouterr().err


@pytest.mark.parametrize(("option", "kind"), [("--json", "report"), ("--save", "weights")])
def test_an_output_name_too_long_is_one_line(
    option: str, kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / ("d" * 300 + ".out")
    assert main(["run", "xor", "--epochs", "1", "--quiet", option, str(target)]) == 2
    assert capsys.readouterr().err == f"{target}: cannot write {kind} (File name too long)\n"
    assert list(tmp_path.iterdir()) == []


def test_a_folder_named_like_a_shipped_scenario_does_not_hide_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "xor-classic").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "xor-classic"]) == 0
    assert capsys.readouterr().out.strip().endswith("xor-classic.toml: ok")


def test_a_misspelt_name_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "moons-poisson"]) == 2
    assert capsys.readouterr().err == (
        "moons-poisson: no such file or shipped scenario (did you mean 'moons-poison'?)\n"
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"tui-nn {__version__}\n"
    assert __version__[0].isdigit()


def test_a_dumb_terminal_is_refused_with_a_message() -> None:
    # A real pseudo-terminal: the program sees a terminal, but TERM says it cannot draw.
    controller, terminal = os.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tui_nn", "moons"],
            stdin=terminal,
            stdout=terminal,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TERM": "dumb"},
            timeout=60,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert done.returncode == 2
    assert done.stderr.startswith("tui-nn: TERM=dumb cannot draw the trainer")
    assert "`tui-nn run moons`" in done.stderr
