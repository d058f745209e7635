"""What can only be checked once a scenario's data exists, and the data itself.

``engine.scenario`` validates a file on its own; this module builds the points and checks the
rules that need them (classes, training-set size, flips, the nudged weight, the work bounds,
the runs `[display]` names), reporting every problem at once in the same one-line form.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from engine.attacks import backdoor, hinges
from engine.config import (
    MAX_BATCH_VALUES,
    MAX_CLASSES,
    MAX_EPOCH_WORK,
    MAX_MEASURE_WORK,
    MAX_TOTAL_WORK,
)
from engine.datasets import DataError
from engine.network import output_units
from engine.run import Data, build_data
from engine.scenario import Scenario, ScenarioError
from engine.twins import DIFFERENCE, models_trained, run_keys

COMPARISON_POINTS = 64 * 64
"""At most how many points the session compares a twin with the baseline on (its grid)."""


def load_data(scenario: Scenario) -> Data:
    """Build a scenario's points and check every rule that needs them.

    Raises:
        ScenarioError: With one line per problem, naming the file and the key.
    """
    src = scenario.source or scenario.name
    try:
        data = build_data(scenario.data, Path(scenario.base_dir or "."))
    except DataError as exc:
        raise ScenarioError([f"{src}: data.path: {exc}"]) from None
    problems = check_against_data(scenario, data)
    if problems:
        raise ScenarioError([f"{src}: {line}" for line in problems])
    if scenario.experiments.backdoor is not None:
        data = backdoor.stamp(data, scenario.experiments.backdoor)
    return data


def check_against_data(scenario: Scenario, data: Data) -> list[str]:
    """Every rule of ``scenario`` that depends on its data; one 'key: problem' line each."""
    sc = scenario
    n = len(data.y_train)
    k = data.n_classes
    problems = []
    if n == 0:
        problems.append(
            f"data.test_fraction: nothing left to train on (got {sc.data.test_fraction:g} of "
            f"{len(data.y_test)} points held out, expected at least one training point)"
        )
    if k > MAX_CLASSES:
        problems.append(f"data: too many classes (got {k}, expected at most {MAX_CLASSES})")
    elif k != 2 and sc.model.output != "softmax":
        problems.append(
            f"model.output: {sc.model.output} separates two classes "
            f"(got {k} classes in the data, expected output = 'softmax')"
        )
    inputs = 3 if sc.experiments.backdoor is not None else data.x_train.shape[1]
    widths = [inputs, *sc.model.hidden, output_units(sc.model, k)]
    problems += _butterfly_problems(sc, widths)
    problems += _poison_problems(sc, data)
    problems += _attack_problems(sc, data)
    problems += _display_problems(sc)
    params = sum((i + 1) * o for i, o in itertools.pairwise(widths))
    runs = models_trained(sc)
    if n * params > MAX_EPOCH_WORK:
        problems.append(
            f"data.samples x model size: one epoch is too much work (got {n} training points x "
            f"{params} parameters, expected a product of at most {MAX_EPOCH_WORK:,})"
        )
    elif sc.training.epochs * n * params * _passes_per_epoch(sc, runs) > MAX_TOTAL_WORK:
        problems.append(
            f"training.epochs: too much work in all (got {sc.training.epochs} epochs x {n} "
            f"points x {params} parameters x {_passes_per_epoch(sc, runs)} passes per epoch "
            f"(the runs, and any attack inside training), expected a product of at most "
            f"{MAX_TOTAL_WORK:,})"
        )
    points = len(data.y_train) + len(data.y_test)
    problems += _measurement_problems(sc, points, len(data.y_test), widths, runs)
    return problems


PASS = 3
"""A forward and backward pass of one point costs about three forward passes (attacks)."""
PASS_OVERHEAD = 10_000
"""The least one pass of an attack's loop costs, in points x parameters: the NumPy calls of a
step on a handful of points cost the same as a step on thousands."""


def measurement_work(
    sc: Scenario, points: int, n_test: int, widths: list[int], runs: int
) -> tuple[int, int]:
    """(points x parameters evaluated in all, most points in one pass) by one measurement of
    every metric and view.

    Counted generously: every run's data, the twins' comparison grids, the display grid twice
    per run, the OOD directions at every radius (for every member of an ensemble), the data
    again for the side channel; the
    attacks' own loops: every PGD step of every point of the robustness curve (both runs), every
    epoch of every extraction surrogate on its queries, every step of every restart of the
    leakage reconstruction at every noise level.
    """
    params = _params(widths)
    ex = sc.experiments
    grid = sc.display.grid**2
    total = runs * points + (runs - 1) * COMPARISON_POINTS + 2 * runs * grid
    batch = max(points, grid, COMPARISON_POINTS)
    if ex.ood is not None:
        total += ex.ood.directions * len(ex.ood.radii)
        batch = max(batch, ex.ood.directions)
    if ex.side_channel is not None:
        total += points
    if (en := ex.ensemble) is not None:  # every member, and the single network, each direction
        total += (en.members + 1) * en.directions * len(en.radii)
        batch = max(batch, en.directions)
    work = total * params
    if (ev := ex.evasion) is not None:
        steps = 1 if ev.attack == "fgsm" else ev.iterations
        work += (1 + ev.defence) * ev.curve_points * steps * _passes(n_test * params)
    if (xt := ex.extraction) is not None:
        surrogate = _params([widths[0], *xt.hidden, widths[-1]])
        work += sum(q * params + xt.epochs * _passes(q * surrogate) for q in xt.queries)
        batch = max(batch, max(xt.queries))
    if xt is not None and xt.hinge_lines:  # the samples, then 6 per critical point found
        kinks = 2 * widths[1] if len(widths) > 2 else 0
        work += xt.hinge_lines * (hinges.SAMPLES + 6 * kinks) * params
        batch = max(batch, xt.hinge_lines * hinges.SAMPLES)
    if (lk := ex.leakage) is not None:
        work += len(lk.sigmas) * lk.restarts * lk.iterations * _passes(lk.batch * params)
    return work, batch


def _passes_per_epoch(sc: Scenario, runs: int) -> int:
    """Passes over the training points per epoch: one per run, plus an adversarially trained
    twin's PGD steps (a forward and backward pass each)."""
    ev = sc.experiments.evasion
    extra = ev.train_iterations * PASS if ev is not None and ev.defence else 0
    return runs + extra


def _passes(work: int) -> int:
    """One forward and backward pass of ``work`` points x parameters, at least the overhead."""
    return PASS * max(work, PASS_OVERHEAD)


def _params(widths: list[int]) -> int:
    return sum((i + 1) * o for i, o in itertools.pairwise(widths))


def _measurement_problems(
    sc: Scenario, points: int, n_test: int, widths: list[int], runs: int
) -> list[str]:
    """The work limits of measuring: the time of one measurement and the memory of one pass."""
    work, batch = measurement_work(sc, points, n_test, widths, runs)
    ex = sc.experiments
    kinds = ("evasion", "extraction", "leakage", "ood", "ensemble")
    heavy = [key for key in kinds if getattr(ex, key) is not None]
    key = f"experiments.{heavy[0]}" if heavy else "display.grid"
    if work > MAX_MEASURE_WORK:
        return [
            f"{key}: measuring is too much work (got {work:,} points x parameters evaluated, "
            f"expected at most {MAX_MEASURE_WORK:,}; use fewer directions, queries, iterations "
            "or epochs, a smaller grid or a smaller model)"
        ]
    if batch * sum(widths) > MAX_BATCH_VALUES:
        return [
            f"{key}: one measuring pass takes too much memory (got {batch:,} points x "
            f"{sum(widths):,} neurons, expected a product of at most {MAX_BATCH_VALUES:,})"
        ]
    return []


def _butterfly_problems(sc: Scenario, widths: list[int]) -> list[str]:
    b = sc.experiments.butterfly
    if b is None:
        return []
    layers = len(widths) - 1
    if b.layer >= layers:
        return [
            f"experiments.butterfly.layer: the model has {layers} layers "
            f"(got {b.layer}, expected 0..{layers - 1})"
        ]
    rows, cols = widths[b.layer], widths[b.layer + 1]
    if b.row >= rows or b.col >= cols:
        return [
            f"experiments.butterfly: no weight ({b.row}, {b.col}) in layer {b.layer} "
            f"(expected row 0..{rows - 1} and col 0..{cols - 1})"
        ]
    return []


def _poison_problems(sc: Scenario, data: Data) -> list[str]:
    p = sc.experiments.poison
    if p is None:
        return []
    n = len(data.y_train)
    problems = []
    if p.k > n:
        problems.append(
            f"experiments.poison.k: more flips than training points (got {p.k}, "
            f"expected at most {n})"
        )
    bad = [i for i in p.indices if not 0 <= i < n]
    if bad:
        problems.append(
            f"experiments.poison.indices: not a training point (got {bad[0]}, expected 0..{n - 1})"
        )
    if p.mode == "targeted" and not np.any(data.y_train == p.target_class):
        problems.append(
            f"experiments.poison.target_class: no training point has this class "
            f"(got {p.target_class})"
        )
    return problems


def _attack_problems(sc: Scenario, data: Data) -> list[str]:
    ex = sc.experiments
    n = len(data.y_train)
    problems = []
    if ex.leakage is not None and ex.leakage.example >= n:
        problems.append(
            f"experiments.leakage.example: not a training point (got {ex.leakage.example}, "
            f"expected 0..{n - 1})"
        )
    if ex.leakage is not None and ex.leakage.batch > n:
        problems.append(
            f"experiments.leakage.batch: more than the training points (got {ex.leakage.batch}, "
            f"expected at most {n})"
        )
    b = ex.backdoor
    if b is not None and not np.any(data.y_train != b.target_class):
        problems.append(
            f"experiments.backdoor.target_class: every training point already has it (got "
            f"{b.target_class}, expected a class some points do not have)"
        )
    if b is not None and b.target_class >= data.n_classes:
        problems.append(
            f"experiments.backdoor.target_class: no such class (got {b.target_class}, "
            f"expected 0..{data.n_classes - 1})"
        )
    return problems


def _display_problems(sc: Scenario) -> list[str]:
    keys = run_keys(sc)
    allowed = ", ".join(repr(k) for k in keys)
    problems = []
    view = sc.display.view
    if view and view not in keys and view != DIFFERENCE:
        problems.append(
            f"display.view: no such run (got {view!r}, expected {allowed} or {DIFFERENCE!r})"
        )
    if view == DIFFERENCE and len(keys) < 2:
        problems.append(
            "display.view: 'difference' compares two runs and this scenario trains one "
            "(expected an experiment with twins)"
        )
    for key in sc.display.compare or ():
        if key not in keys:
            problems.append(f"display.compare: no such run (got {key!r}, expected {allowed})")
    return problems
