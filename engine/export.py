"""The live state of a session written as a scenario: TOML, the weights, and the edited data.

Opening the file starts where the session is now: the same network, settings and data, from
the weights it has now (saved beside it in safetensors), so it predicts exactly what the
session predicts. The optimiser's state and the batch order start afresh, as in any scenario.
Every file is written atomically.
"""

from __future__ import annotations

import io as text_io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from engine import controls
from engine.io import write_atomic
from engine.scenario import parse_scenario

if TYPE_CHECKING:
    from engine.session import Session

MAX_DESCRIPTION = 4000
"""The scenario format's limit on a description."""


@dataclass(frozen=True)
class Saved:
    """Where a session was saved."""

    scenario: Path
    weights: Path
    data: Path | None
    """The CSV of the points, when they were edited or came from a file."""


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_without_none(v) for v in value]
    return value


def scenario_dict(
    session: Session, stem: str, *, data_file: str | None, weights_sha256: str
) -> dict[str, Any]:
    """The session now as a scenario's plain data (what the TOML file holds)."""
    sc = session.scenario
    epoch = session.epoch
    raw = sc.model_dump()
    live = session.train_config().model_dump(include=set(controls.LIVE_KEYS))
    raw["training"].update(live)
    raw["weights"] = f"{stem}.safetensors"
    raw["weights_sha256"] = weights_sha256
    raw["name"] = stem[:60]
    raw["title"] = f"{sc.title or sc.name} (saved at epoch {epoch:,})"[:120]
    notes = [
        f"Saved from {sc.name} at epoch {epoch:,}: the network starts from the weights it had "
        "then; the optimiser's state and the batch order start afresh."
    ]
    if session.twins:
        notes.append("Twins start from these weights as a scenario's twins do.")
    edits = [(e, text) for e, text in session.edits() if e <= epoch]
    if edits:
        shown = "; ".join(f"epoch {e}: {text}" for e, text in edits[:20])
        more = f" (and {len(edits) - 20} more)" if len(edits) > 20 else ""
        notes.append(f"Edits made by hand: {shown}{more}.")
    description = (sc.description.strip() + "\n\n" + " ".join(notes)).strip()
    raw["description"] = description[:MAX_DESCRIPTION]
    if data_file is not None:
        data = session.data
        n_train, n_test = len(data.x_train), len(data.x_test)
        raw["data"].update(
            kind="csv",
            path=data_file,
            split="ordered",
            test_fraction=n_test / (n_train + n_test),
        )
    poisoning = sc.experiments.poison
    if poisoning is not None:
        flips = [int(i) for i in session.flipped]
        at = max(0, poisoning.at_epoch - epoch) if poisoning.at_epoch > epoch else 0
        raw["experiments"]["poison"].update(
            mode="indices", indices=flips, k=len(flips), at_epoch=at
        )
    raw.pop("expect", None)  # they describe the original run from its epoch 0
    raw.pop("moments", None)
    return _without_none(raw)


def data_csv(session: Session) -> str:
    """The training points, then the test points, as x1,x2,label rows (exact decimals)."""
    out = text_io.StringIO()
    out.write("x1,x2,label\n")
    d = session.data
    for xs, ys in ((d.x_train, d.y_train), (d.x_test, d.y_test)):
        for (x1, x2), label in zip(xs.tolist(), ys.tolist(), strict=True):
            out.write(f"{x1!r},{x2!r},{label}\n")
    return out.getvalue()


def save_scenario(session: Session, folder: str | Path = ".") -> Saved:
    """Write the session now as ``NAME-epochE.toml`` (and its weights and data) in ``folder``.

    The weights are written first (the scenario pins their sha256); the scenario is
    validated before it or its data is written.

    Raises:
        ScenarioError: If the result would not validate (a bug: the scenario is not written).
        OSError: If a file cannot be written.
    """
    folder = Path(folder)
    with session.lock:
        stem = f"{session.scenario.name}-epoch{session.epoch}"
        needs_data = session.edited or session.scenario.data.kind == "csv"
        if needs_data and session.data.x_train.shape[1] != 2:
            raise ValueError("points with a third input (a trigger) cannot be saved as x1,x2,label")
        csv_name = f"{stem}.csv" if needs_data else None
        weights = folder / f"{stem}.safetensors"
        sha = session.save_weights(weights)
        raw = scenario_dict(session, stem, data_file=csv_name, weights_sha256=sha)
        text = tomli_w.dumps(raw)
        parse_scenario(text, str(folder / f"{stem}.toml"), folder)
        data_path = None
        if csv_name is not None:
            data_path = folder / csv_name
            write_atomic(data_path, data_csv(session).encode())
        toml_path = folder / f"{stem}.toml"
        write_atomic(toml_path, text.encode())
        return Saved(toml_path, weights, data_path)
