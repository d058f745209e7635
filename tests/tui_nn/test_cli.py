"""The `tui-nn` command line: exit codes, reports, weights round trips, and clean errors."""

from __future__ import annotations

import gc
import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tui_nn import cli, launch
from tui_nn.catalog import shipped_dir, shipped_names
from tui_nn.cli import main

SHIPPED = sorted(shipped_dir().glob("*.toml"))

TINY = """
title = "Tiny moons"

[data]
kind = "moons"
samples = 40
seed = 3

[model]
hidden = [4]

[training]
learning_rate = 0.5
epochs = 30
seed = 1

[[probes]]
point = [0.5, 0.25]
label = "middle"

[[expect]]
metric = "train.loss"
op = "<"
value = 10

[[expect]]
metric = "epoch"
op = "=="
value = 10
epoch = 10
"""

FAILING = """
[data]
samples = 20

[model]
hidden = [2]

[training]
epochs = 3

[[expect]]
metric = "train.accuracy"
op = ">"
value = 1.5
"""

BLOWUP = """
[data]
samples = 40

[model]
hidden = [4]
output = "linear"

[training]
loss = "squared_error_mean"
learning_rate = 50
epochs = 100
"""

BUTTERFLY = """
[data]
samples = 30

[model]
hidden = [3]

[training]
epochs = 8

[experiments.butterfly]
layer = 0
row = 1
col = 2
epsilon = 1e-3
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write(tmp_path, "tiny.toml", TINY)


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real program in a child process, stdin not a terminal."""
    result = subprocess.run(
        [sys.executable, "-m", "tui_nn", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def read_json(path: Path) -> dict:
    # json.loads accepts NaN unless told not to; a report must be strict JSON.
    def refuse(token: str) -> None:
        raise AssertionError(f"non-standard JSON constant {token}")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_run_prints_summary_and_exits_0(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tiny)]) == 0
    out = capsys.readouterr().out
    assert "tiny: Tiny moons" in out
    assert "trained 30 epochs (seed 1)" in out
    assert "baseline" in out and "float64" in out
    assert "middle" in out  # the probe table
    assert "Decision boundary" in out and "+" + "-" * 60 + "+" in out
    assert "epoch" in out  # chart axis label
    assert "PASS train.loss < 10" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_quiet_prints_nothing(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tiny), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_check_passes_and_fails_with_exit_codes(
    tmp_path: Path, tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(tiny), "--check", "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith("PASS train.loss < 10: ")
    assert out[1] == "PASS epoch == 10 at epoch 10: 10 == 10"

    failing = write(tmp_path, "failing.toml", FAILING)
    assert main(["run", str(failing), "--check", "--quiet"]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("FAIL train.accuracy > 1.5: ")
    # Without --check a failed expectation is shown but does not fail the command.
    assert main(["run", str(failing), "--quiet"]) == 0


def test_expectation_beyond_the_trained_epochs_fails(
    tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(tiny), "--epochs", "5", "--check", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "FAIL epoch == 10 at epoch 10: not reached: training stopped at epoch 5" in out


def test_json_report_fields_and_types(tiny: Path, tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    weights = tmp_path / "w.safetensors"
    assert (
        main(["run", str(tiny), "--quiet", "--json", str(report_path), "--save", str(weights)]) == 0
    )
    report = read_json(report_path)
    assert report["scenario"] == "tiny"
    assert report["epochs"] == 30 and report["seed"] == 1
    for part in ("train", "test"):
        assert isinstance(report[part]["loss"], float)
        assert 0.0 <= report[part]["accuracy"] <= 1.0
    assert len(report["predictions"]) == 32  # 40 points, 20% held out
    assert all(isinstance(p, float) and 0 <= p <= 1 for p in report["predictions"])
    (probe,) = report["probes"]
    assert probe["label"] == "middle" and probe["point"] == [0.5, 0.25]
    assert isinstance(probe["output"], float)
    assert report["experiments"] == {}
    assert report["twins"] == []
    assert report["metrics"]["epoch"] == 30.0
    assert report["metrics"]["train.loss"] == report["train"]["loss"]
    checks = [(e["check"], e["passed"]) for e in report["expectations"]]
    assert checks == [("train.loss < 10", True), ("epoch == 10 at epoch 10", True)]
    assert report["expectations"][1]["value"] == 10.0
    assert report["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert report["blowup"] is None
    assert len(report["history"]["train_loss"]) == 30


def test_json_report_of_twins(tmp_path: Path) -> None:
    scenario = write(tmp_path, "bf.toml", BUTTERFLY)
    report_path = tmp_path / "bf.json"
    assert main(["run", str(scenario), "--quiet", "--json", str(report_path)]) == 0
    (twin,) = read_json(report_path)["twins"]
    assert twin["label"].startswith("nudged")
    assert twin["max_abs_dw"] > 0
    assert len(twin["per_epoch"]["max_abs_dw"]) == 8
    assert twin["max_abs_dw"] == twin["per_epoch"]["max_abs_dw"][-1]
    assert (
        isinstance(twin["loss_difference"], float)
        and len(twin["per_epoch"]["loss_difference"]) == 8
    )
    assert twin["disagreement"]["epochs"] == list(range(1, 9))  # 8 epochs: sampled every epoch
    figures = read_json(report_path)["experiments"]["butterfly"]["figures"]
    assert figures["butterfly.max_abs_dw"]["value"] == twin["max_abs_dw"]
    assert figures["butterfly.max_abs_dw"]["meaning"]


def test_softmax_predictions_are_lists(tmp_path: Path) -> None:
    scenario = write(
        tmp_path,
        "blobs.toml",
        '[data]\nkind = "blobs"\nsamples = 30\ncenters = [[0, 0], [2, 2], [0, 2]]\n'
        '[model]\noutput = "softmax"\nhidden = [3]\n'
        '[training]\nloss = "softmax_cross_entropy"\nepochs = 2\n'
        "[[probes]]\npoint = [1, 1]\n",
    )
    report_path = tmp_path / "r.json"
    assert main(["run", str(scenario), "--quiet", "--json", str(report_path)]) == 0
    report = read_json(report_path)
    assert all(len(row) == 3 and abs(sum(row) - 1) < 1e-9 for row in report["predictions"])
    assert len(report["probes"][0]["output"]) == 3


def test_blowup_is_reported_as_null_free_json_and_fails_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write(tmp_path, "blow.toml", BLOWUP)
    report_path = tmp_path / "blow.json"
    assert main(["run", str(scenario), "--quiet", "--json", str(report_path)]) == 0
    err = capsys.readouterr().err
    assert "training blew up" in err and "lower training.learning_rate than 50" in err
    report = read_json(report_path)
    assert "at epoch" in report["blowup"]
    assert report["epochs"] < 100  # stopped early
    assert report["train"]["loss"] is None  # inf -> null
    assert main(["run", str(scenario), "--quiet", "--check"]) == 1


def test_save_at_epoch_0_then_load_round_trip(tiny: Path, tmp_path: Path) -> None:
    initial = tmp_path / "initial.safetensors"
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert main(["run", str(tiny), "--epochs", "0", "--save", str(initial), "--quiet"]) == 0
    assert main(["run", str(tiny), "--epochs", "0", "--load", str(initial), "--quiet",
                 "--json", str(first)]) == 0  # fmt: skip
    assert read_json(first)["epochs"] == 0

    # Starting from the saved initial weights gives the same result as the seeded start...
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    assert main(["run", str(tiny), "--quiet", "--save", str(a)]) == 0
    assert main(["run", str(tiny), "--quiet", "--load", str(initial), "--save", str(b),
                 "--json", str(second)]) == 0  # fmt: skip
    assert a.read_bytes() == b.read_bytes()
    assert read_json(second)["weights_sha256"] == hashlib.sha256(b.read_bytes()).hexdigest()
    # ...and another seed does not.
    c = tmp_path / "c.safetensors"
    assert main(["run", str(tiny), "--quiet", "--seed", "2", "--save", str(c)]) == 0
    assert c.read_bytes() != a.read_bytes()


def test_same_seed_same_weights_and_predictions(tiny: Path, tmp_path: Path) -> None:
    reports = []
    for name in ("one", "two"):
        path = tmp_path / f"{name}.json"
        args = ["run", str(tiny), "--quiet", "--seed", "7", "--json", str(path)]
        assert main([*args, "--save", str(tmp_path / f"{name}.safetensors")]) == 0
        reports.append(read_json(path))
    assert reports[0]["weights_sha256"] == reports[1]["weights_sha256"]
    assert reports[0]["predictions"] == reports[1]["predictions"]
    assert reports[0]["seed"] == 7


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "no-such-scenario"], "no-such-scenario: no such file or shipped scenario"),
        (["run", "{tmp}/absent.toml"], "absent.toml: no such file"),
        (["run", "{bad}/unknown_key.toml"], "training.learning_rat: unknown key"),
        (["run", "{tiny}", "--load", "{tiny}"], "not a safetensors weight file"),
        (["run", "{tiny}", "--load", "{tmp}/none.st"], "none.st: no such file"),
        (["run", "{tiny}", "--json", "{tmp}/no/dir/r.json"], "cannot write report"),
        (["run", "{tiny}", "--save", "{tmp}/no/dir/w.st"], "cannot write weights"),
        (["run", "{tiny}", "--epochs", "-1"], "argument --epochs: expected 0..1000000"),
        (["run", "{tiny}", "--seed", "x"], "argument --seed: expected a whole number"),
        (["--fps", "0", "{tiny}"], "argument --fps: expected 1..60"),
        (["--fps", "61"], "argument --fps: expected 1..60"),
        (["--color", "rainbow"], "argument --color: invalid choice"),
        (["{bad}/missing_csv.toml"], "no-such-points.csv: no such file"),
    ],
)
def test_bad_input_exits_2_with_a_short_message(
    args: list[str], expected: str, tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = Path(__file__).resolve().parent.parent / "data" / "bad"
    argv = [a.format(tmp=tmp_path, tiny=tiny, bad=bad) for a in args]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if not line.startswith(("usage", " "))]) == 1


def test_list_shows_every_shipped_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == shipped_names() and sorted(names) == sorted(p.stem for p in SHIPPED)
    # The baseline first, then the ways it breaks, then the other problems.
    assert names[:3] == ["moons", "moons-ood", "moons-poison"] and names[-2:] == [
        "circles",
        "spiral",
    ]
    moons = next(line for line in lines if line.startswith("moons "))
    assert "Two moons" in moons
    # Names are padded so the descriptions line up.
    starts = {len(line) - len(line[len(line.split()[0]) :].lstrip()) for line in lines}
    assert len(starts) == 1


def test_validate_reports_each_file(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = Path(__file__).resolve().parent.parent / "data" / "bad"
    assert main(["validate", str(tiny), "moons"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{tiny}: ok" and out[1].endswith("moons.toml: ok")

    code = main(["validate", str(tiny), str(bad / "several.toml"), str(bad / "missing_csv.toml")])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out.splitlines() == [f"{tiny}: ok"]
    errors = captured.err.splitlines()
    assert len(errors) == 5  # four in several.toml, the missing CSV of the other
    assert sum(line.startswith(str(bad / "several.toml")) for line in errors) == 4
    assert errors[-1].startswith(f"{bad / 'missing_csv.toml'}: data.path: ")
    assert str(bad / "no-such-points.csv") in errors[-1]


def test_validate_catches_unknown_metric_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "typo.toml", '[[expect]]\nmetric = "test.acuracy"\nvalue = 0.9\n')
    assert main(["validate", str(path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"{path}: expect[0].metric: unknown metric 'test.acuracy'")
    assert "did you mean 'test.accuracy'?" in line
    assert main(["run", str(path), "--quiet"]) == 2  # refused before training


def test_subcommand_names_can_be_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "run", TINY)
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "./run"]) == 0
    assert capsys.readouterr().out == "run: ok\n"
    # Bare `tui-nn ./run` treats it as a scenario (no terminal here, so it says so).
    assert main(["./run"]) == 2
    assert "`tui-nn run ./run`" in capsys.readouterr().err


def test_bare_command_without_a_terminal_explains_itself(tiny: Path) -> None:
    result = run_cli(env={"SSH_CONNECTION": ""})
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "needs an interactive terminal" in line
    assert "`tui-nn run moons`" in line and "ssh -t" in line
    assert result.stdout == ""

    over_ssh = run_cli(str(tiny), env={"SSH_CONNECTION": "10.0.0.1 5000 10.0.0.2 22"})
    assert over_ssh.returncode == 2
    assert "this SSH session has no terminal" in over_ssh.stderr
    assert f"`tui-nn run {tiny}`" in over_ssh.stderr


def test_bare_command_validates_before_anything_else(tmp_path: Path) -> None:
    bad = Path(__file__).resolve().parent.parent / "data" / "bad"
    result = run_cli(str(bad / "several.toml"))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 4
    assert "interactive terminal" not in result.stderr


def test_real_program_run_check_and_pipe(tmp_path: Path) -> None:
    failing = write(tmp_path, "failing.toml", FAILING)
    result = run_cli("run", str(failing), "--check")
    assert result.returncode == 1
    assert "FAIL train.accuracy > 1.5" in result.stdout
    assert "\x1b[" not in result.stdout  # no colour codes when not a terminal
    assert result.stderr == ""  # no progress bar either

    report = tmp_path / "r.json"
    ok = run_cli("run", "xor", "--epochs", "20", "--quiet", "--json", str(report))
    assert ok.returncode == 0 and ok.stdout == ""
    assert read_json(report)["predictions"] and read_json(report)["epochs"] == 20


def test_report_into_a_folder_is_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "xor", "--json", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"{tmp_path}: cannot write report (is a folder, expected a file name)"


def test_validate_a_folder_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path)]) == 2
    assert f"{tmp_path}: is a directory" in capsys.readouterr().err


def test_epochs_override_is_validated_with_the_rest_of_the_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "late.toml"
    path.write_text("[training]\nepochs = 50\n[experiments.poison]\nat_epoch = 20\n")
    assert main(["run", str(path), "--epochs", "10", "--quiet"]) == 2
    assert "experiments.poison.at_epoch: never reached" in capsys.readouterr().err


def test_the_console_script_collects_again_before_a_headless_command_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`tui_nn.launch` starts with the collector off; a headless command runs with it on."""
    seen: list[bool] = []
    monkeypatch.setattr(cli, "cmd_list", lambda argv: seen.append(gc.isenabled()) or 0)
    try:
        assert launch.main(["list"]) == 0
        assert seen == [True] and gc.isenabled()
    finally:
        gc.enable()


def test_the_collector_is_on_again_when_the_trainer_cannot_start() -> None:
    """No terminal here (pytest's stdin is not one): the trainer refuses before its first frame,
    and the collector the launcher turned off is on again."""
    try:
        assert launch.main(["moons"]) == 2
        assert gc.isenabled()
    finally:
        gc.enable()


def test_the_console_script_is_the_launcher() -> None:
    entry = [
        point
        for point in importlib.metadata.entry_points(group="console_scripts")
        if point.name == "tui-nn"
    ]
    assert [point.value for point in entry] == ["tui_nn.launch:main"]
