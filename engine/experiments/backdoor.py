"""A backdoor: a trigger feature that turns the answer, and whether clean fine-tuning removes it.

The backdoored run trains on the poisoned data throughout; its twin switches to the clean
points at ``finetune_at`` and fine-tunes on them from the same weights. Clean accuracy is
measured on the test points with the trigger off; attack success on the test points not of
the target class, with the trigger on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.attacks.backdoor import attack_success
from engine.experiments.common import run_figures
from engine.experiments.view import ExperimentView, Figure, Series, Table, percent
from engine.metrics import grid_points, plane_inputs, predicted_classes

if TYPE_CHECKING:
    from engine.session import Session

METRICS = {
    "backdoor.poisoned": "training points that carry the trigger and the target label",
    "backdoor.<run>.clean_accuracy": "test accuracy with the trigger off (<run>: backdoored, "
    "finetuned)",
    "backdoor.<run>.attack_success": "share of the test points not of the target class that "
    "the run gives the target class once the trigger is on",
    "backdoor.<run>.trigger_region": "share of a display.grid grid of the plane whose class the "
    "trigger turns to the target class",
}


def _points(session: Session) -> tuple[np.ndarray, np.ndarray]:
    d = session.data
    return (d.x_test, d.y_test) if len(d.x_test) else (d.x_train, d.y_train)


def trace(session: Session) -> dict[str, float]:
    """Attack success and clean accuracy of every run now (sampled while training)."""
    config = session.scenario.experiments.backdoor
    assert config is not None
    x, y = _points(session)
    out = {}
    for slot in session.slots:
        out[f"{slot.key}.attack_success"] = attack_success(
            slot.run.network, x, y, config.target_class
        )
        out[f"{slot.key}.clean_accuracy"] = run_figures(slot.run)["test.accuracy"]
    return out


def trigger_region(session: Session, key: str, cells: int, target: int) -> float:
    """Share of the plane that is not the target class with the trigger off and is with it on."""
    run = session.run_named(key)
    assert run is not None
    net = run.network
    points = grid_points(session.extent, cells, cells)
    with np.errstate(all="ignore"):
        off = predicted_classes(net.predict(plane_inputs(points, 3, (0.0,)).astype(net.dtype)))
        on = predicted_classes(net.predict(plane_inputs(points, 3, (1.0,)).astype(net.dtype)))
    return float(np.mean((off != target) & (on == target)))


def view(session: Session) -> ExperimentView:
    """The backdoor panel: clean accuracy and attack success per run, over training."""
    config = session.scenario.experiments.backdoor
    assert config is not None
    now = trace(session)
    cells = session.scenario.display.grid
    poisoned = len(session.flipped)
    figures = [
        Figure("backdoor.poisoned", "poisoned points", float(poisoned),
               f"{poisoned} of {len(session.data.y_train)}",
               f"training points with the trigger on, relabelled class {config.target_class}"),
    ]  # fmt: skip
    rows = []
    for slot in session.slots:
        k = slot.key
        success = now[f"{k}.attack_success"]
        clean = now[f"{k}.clean_accuracy"]
        region = trigger_region(session, k, cells, config.target_class)
        figures += [
            Figure(f"backdoor.{k}.clean_accuracy", f"{k}: clean", clean, percent(clean),
                   "test accuracy with the trigger off", shown=False),
            Figure(f"backdoor.{k}.attack_success", f"{k}: attack", success, percent(success),
                   f"test points the trigger turns to class {config.target_class}",
                   shown=False),
            Figure(f"backdoor.{k}.trigger_region", f"{k}: region", region, percent(region),
                   "share of the plane the trigger turns to the target", shown=False),
        ]  # fmt: skip
        rows.append((slot.label, percent(clean), percent(success), percent(region)))
    series = []
    for slot in session.slots:
        epochs, values = session.traces.get(f"{slot.key}.attack_success", ([], []))
        series.append(
            Series(f"{slot.key} attack", np.array(epochs, dtype=np.float64), np.array(values))
        )
    base = now[f"{session.slots[0].key}.attack_success"]
    headline = (
        f"{poisoned} poisoned points: clean accuracy "
        f"{percent(now[f'{session.slots[0].key}.clean_accuracy'])}, trigger works on "
        f"{percent(base)}"
    )
    notes = [
        f"{poisoned} training points carry the trigger (third input = 1) and class "
        f"{config.target_class}. The map shows the plane with the trigger off and on."
    ]
    if len(session.slots) > 1:
        twin = session.slots[1]
        started = session.epoch >= (config.finetune_at or 0)
        state = "has been fine-tuning" if started else "will fine-tune"
        if started:
            tuned = session.epoch - (config.finetune_at or 0)
            rate = percent(now[f"{twin.key}.attack_success"])
            headline += f" · after {tuned:,} epochs of clean fine-tuning {rate}"
        else:
            headline += f" · clean fine-tuning starts at epoch {config.finetune_at:,}"
        notes.append(
            f"The twin {state} on the {int(np.sum(session.data.x_train[:, 2] == 0))} clean "
            f"points from epoch {config.finetune_at}. They never switch the trigger on, so the "
            "gradient of the weights that read it is zero: only the rest of the network can "
            "undo the backdoor."
        )
    return ExperimentView(
        name="backdoor",
        title="Backdoor",
        headline=headline,
        figures=tuple(figures),
        series=tuple(series),
        table=Table(("run", "clean", "attack", "region"), tuple(rows)),
        notes=tuple(notes),
    )
