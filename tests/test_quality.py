"""The project's own rules, checked with its tools: lint, format, types, import boundaries."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / args[0]
    if not exe.exists() and shutil.which(args[0]) is None:
        pytest.fail(f"{args[0]} is not installed; install the project with its 'test' extra")
    command = [str(exe) if exe.exists() else args[0], *args[1:]]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_lint_is_clean() -> None:
    done = run_tool("ruff", "check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_is_clean() -> None:
    done = run_tool("ruff", "format", "--check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_engine_type_checks() -> None:
    done = run_tool("mypy", "--no-incremental", "--cache-dir", "/dev/null")
    assert done.returncode == 0, done.stdout + done.stderr


def test_engine_never_imports_the_app() -> None:
    done = run_tool("lint-imports", "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_headless_run_never_loads_textual() -> None:
    code = (
        "import sys\n"
        "from tui_nn.cli import main\n"
        "status = main(['run', 'moons-poison', '--epochs', '3', '--quiet'])\n"
        "names = ('textual', 'textual_plotext')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in names)\n"
        "print(status, loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "0 []", done.stdout + done.stderr


def test_the_trainer_starts_without_what_its_first_frame_does_not_need() -> None:
    # The loss chart's plotext, the web driver and the package metadata load on first use.
    code = (
        "import sys\n"
        "import tui_nn.cli, tui_nn.app\n"
        "from tui_nn.app import _ids\n"
        "_ids()\n"
        "late = ('plotext', 'textual_plotext', 'textual.drivers.web_driver', 'tui_nn.web_driver')\n"
        "print(sorted(m for m in late if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
