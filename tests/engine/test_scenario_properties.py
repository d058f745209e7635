"""Any scenario file either validates or is refused with exit 2, every line naming the file and
the key (or the line) at fault: never a traceback, never an internal error."""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import DataConfig, InitConfig, ModelConfig, TrainConfig
from engine.scenario import DisplayConfig, OODConfig, PoisonConfig
from tui_nn.cli import main

SECTIONS = {
    "data": DataConfig,
    "model": ModelConfig,
    "training": TrainConfig,
    "display": DisplayConfig,
}
EXPERIMENTS = {"ood": OODConfig, "poison": PoisonConfig}

scalars = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
    st.text(max_size=12),
)
values = st.one_of(
    scalars, st.lists(scalars, max_size=4), st.lists(st.lists(scalars, max_size=3), max_size=3)
)


def table(model: type) -> st.SearchStrategy[dict[str, Any]]:
    """A table of some of the section's keys (and now and then an unknown one)."""
    keys = st.sampled_from([*model.model_fields, "zzz", "learning_rat"])
    return st.dictionaries(keys, values, max_size=4)


scenarios = st.fixed_dictionaries(
    {},
    optional={
        "title": st.text(max_size=20),
        **{name: table(model) for name, model in SECTIONS.items()},
        "model_init": table(InitConfig),
        "experiments": st.fixed_dictionaries(
            {}, optional={name: table(model) for name, model in EXPERIMENTS.items()}
        ),
    },
)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, int) else json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


def toml_text(scenario: dict[str, Any]) -> str:
    lines = []
    if "title" in scenario:
        lines.append(f"title = {toml_value(scenario['title'])}")
    for name in SECTIONS:
        if name in scenario:
            lines.append(f"[{name}]")
            lines += [f'"{k}" = {toml_value(v)}' for k, v in scenario[name].items()]
    if "model_init" in scenario:
        lines.append("[model.init]")
        lines += [f'"{k}" = {toml_value(v)}' for k, v in scenario["model_init"].items()]
    for name, keys in scenario.get("experiments", {}).items():
        lines.append(f"[experiments.{name}]")
        lines += [f'"{k}" = {toml_value(v)}' for k, v in keys.items()]
    return "\n".join(lines) + "\n"


WHERE = re.compile(r"(line \d+, column \d+|[a-z_]+(\.[a-z_0-9]+|\[\d+\])*|\(top level\)): ")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios)
def test_any_file_validates_or_is_refused_naming_file_and_key(scenario: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "generated.toml"
        path.write_text(toml_text(scenario))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["validate", str(path)])
    if status == 0:
        assert out.getvalue() == f"{path}: ok\n" and err.getvalue() == ""
        return
    assert status == 2, err.getvalue()
    lines = err.getvalue().splitlines()
    assert lines
    for line in lines:
        assert line.startswith(f"{path}: "), line
        assert WHERE.match(line[len(str(path)) + 2 :]), line
