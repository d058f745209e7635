"""The runs of a session: the baseline and the twins an experiment trains beside it.

A twin starts from the baseline's initial weights and differs in one thing only: one weight
nudged (butterfly), a few labels flipped (poison), or the precision of its arithmetic. Every
run has a key (what `[display]` and expectations name it by) and a label (what people read).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.attacks import evasion
from engine.config import TrainConfig
from engine.experiments.common import safe_key
from engine.run import Array, Data, Run, flip_labels
from engine.scenario import Scenario

Weights = list[tuple[Array, Array | None]]

DIFFERENCE = "difference"
"""The `display.view` that shows where two runs disagree."""


@dataclass
class Slot:
    """One run of a session with its names."""

    key: str
    """e.g. 'baseline', 'clean', 'poisoned', 'nudged', 'float16', 'float16_master'."""
    label: str
    """e.g. 'poisoned (5 flips)', 'nudged +1e-14', 'float16 + f32 master'."""
    run: Run


def _precision_configs(scenario: Scenario) -> list[tuple[str, str, TrainConfig]]:
    """(key, label, training config) of every precision run, the first being the baseline."""
    precision = scenario.experiments.precision
    assert precision is not None
    train = scenario.training.model_copy(
        update={"dtype": precision.dtypes[0], "master_weights": False}
    )
    configs: list[tuple[str, str, TrainConfig]] = [
        (d, d, train.model_copy(update={"dtype": d})) for d in precision.dtypes
    ]
    if precision.master_weights:
        master = train.model_copy(update={"dtype": "float16", "master_weights": True})
        configs.append(("float16_master", "float16 + f32 master", master))
    seen: dict[str, int] = {}
    out = []
    for key, label, config in configs:
        seen[key] = seen.get(key, 0) + 1
        suffix = f"_{seen[key]}" if seen[key] > 1 else ""
        out.append((safe_key(key) + suffix, label + suffix.replace("_", " #"), config))
    return out


def run_keys(scenario: Scenario) -> list[str]:
    """The keys of a scenario's runs, baseline first (known before any data exists)."""
    ex = scenario.experiments
    if ex.precision is not None:
        return [key for key, _, _ in _precision_configs(scenario)]
    if ex.poison is not None:
        return ["clean", "poisoned"]
    if ex.butterfly is not None:
        return ["baseline", "nudged"]
    return [key for key, _, _ in _attack_configs(scenario)] or ["baseline"]


def _attack_configs(scenario: Scenario) -> list[tuple[str, str, TrainConfig]]:
    """(key, label, training config) of the runs of evasion, membership and backdoor."""
    ex, train = scenario.experiments, scenario.training
    if ex.evasion is not None:
        twin = [("adversarial", "adv. trained", train)] if ex.evasion.defence else []
        return [("baseline", "baseline", train), *twin]
    if (m := ex.membership) is not None:
        runs = [("overfit", "overfit", train)]
        if m.l2 > 0:
            runs.append(("regularised", f"L2 {m.l2:g}", train.model_copy(update={"l2": m.l2})))
        if m.dp is not None:
            label = f"DP-SGD sigma {m.dp.noise_multiplier:g}"
            runs.append(("dp", label, train.model_copy(update={"dp": m.dp})))
        return runs
    if (b := ex.backdoor) is not None:
        twin = [("finetuned", "fine-tuned", train)]
        return [("backdoored", "backdoored", train), *(twin if b.finetune_at else [])]
    return []


def choose_flips(scenario: Scenario, data: Data) -> npt.NDArray[np.int64]:
    """Indices into the training set whose labels the poisoned twin flips."""
    p = scenario.experiments.poison
    if scenario.experiments.backdoor is not None:  # the points that carry the trigger
        return np.flatnonzero(data.x_train[:, 2] == 1).astype(np.int64)
    if p is None:
        return np.zeros(0, dtype=np.int64)
    n = len(data.y_train)
    k = min(p.k, n)
    if p.mode == "indices":
        return np.array(sorted(set(p.indices)), dtype=np.int64)
    if p.mode == "random":
        return np.sort(np.random.default_rng(p.seed).choice(n, size=k, replace=False))
    # targeted: the k points of the chosen class nearest the target point
    candidates = np.flatnonzero(data.y_train == p.target_class)
    distance = np.linalg.norm(data.x_train[candidates] - np.array(p.target), axis=1)
    return np.sort(candidates[np.argsort(distance, kind="stable")[:k]])


def poison(run: Run, data: Data, flips: npt.NDArray[np.int64]) -> None:
    """From now on, train ``run`` on the labels with ``flips`` flipped."""
    run.set_train_labels(flip_labels(data.y_train, flips, data.n_classes))


def build_runs(
    scenario: Scenario, data: Data, initial_weights: Weights | None = None
) -> tuple[list[Slot], npt.NDArray[np.int64]]:
    """Build the baseline and its twins, all from the same initial weights.

    Args:
        scenario: The validated scenario (checked against ``data`` already).
        data: Its points.
        initial_weights: Start from these instead of the seeded initialisation.

    Returns:
        The runs, baseline first, and the training indices the poisoned twin flips (empty
        without a poison experiment). A twin poisoned at epoch 0 is poisoned already.
    """
    ex = scenario.experiments
    model, train = scenario.model, scenario.training
    flips = choose_flips(scenario, data)
    if ex.precision is not None:
        configs = _precision_configs(scenario)
        baseline = Run(data, model, configs[0][2], initial_weights)
        start = baseline.weights()
        slots = [Slot(configs[0][0], configs[0][1], baseline)]
        slots += [Slot(k, label, Run(data, model, c, start)) for k, label, c in configs[1:]]
        return slots, flips
    configs = _attack_configs(scenario)
    if configs:
        key, label, first = configs[0]
        slots = [Slot(key, label, Run(data, model, first, initial_weights))]
        start = slots[0].run.weights()
        slots += [Slot(k, lab, Run(data, model, c, start)) for k, lab, c in configs[1:]]
        if ex.evasion is not None and len(slots) > 1:
            evasion.defend(slots[1].run, ex.evasion)
        return slots, flips
    baseline = Run(data, model, train, initial_weights)
    start = baseline.weights()
    if ex.poison is not None:
        twin = Run(data, model, train, start)
        if ex.poison.at_epoch == 0:
            poison(twin, data, flips)
        label = f"poisoned ({len(flips)} flip{'s' if len(flips) != 1 else ''})"
        return [Slot("clean", "clean", baseline), Slot("poisoned", label, twin)], flips
    if ex.butterfly is not None:
        b = ex.butterfly
        nudged = [(w.copy(), None if bias is None else bias.copy()) for w, bias in start]
        w = nudged[b.layer][0]
        w[b.row, b.col] += w.dtype.type(b.epsilon)
        twin = Run(data, model, train, nudged)
        return [
            Slot("baseline", "baseline", baseline),
            Slot("nudged", f"nudged {b.epsilon:+.0e}", twin),
        ], flips
    return [Slot("baseline", "baseline", baseline)], flips
