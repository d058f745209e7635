"""Evasion: adversarial examples against the baseline and an adversarially trained twin.

The gradients of the loss with respect to the input exist at inference time just as they
did in training; FGSM and PGD follow them to move each test point, within a ball of radius
eps, to where the network answers differently. The panel measures robust accuracy (the
accuracy that is left under the attack) against eps for each run, and each test point's
distance to the nearest change of class (DeepFool).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.attacks.evasion import (
    attack_outcome,
    configured_attack,
    minimal_flip,
    robust_accuracy_curve,
)
from engine.experiments.cache import cached
from engine.experiments.view import ExperimentView, Figure, Mark, Series, Table, number, percent
from engine.metrics import predicted_classes
from engine.network import Network
from engine.scenario import EvasionConfig

if TYPE_CHECKING:
    from engine.session import Session

METRICS = {
    "evasion.<run>.robust_accuracy": "test accuracy of that run under the scenario's attack "
    "(<run>: baseline, adversarial)",
    "evasion.<run>.clean_accuracy": "its test accuracy without attack",
    "evasion.<run>.flipped": "share of the test points it classifies right whose class the "
    "attack changes",
    "evasion.<run>.mean_distance": "mean L2 distance from a test point to the nearest change of "
    "class (DeepFool), over the points where one was found",
    "evasion.<run>.robust_auc": "mean robust accuracy over the curve's eps values",
    "evasion.aim.distance": "L2 distance from the aimed point to the nearest change of class",
}

SYMBOL = {"linf": "L∞", "l2": "L2"}


@dataclass(frozen=True)
class RunAttack:
    """One run's results."""

    key: str
    label: str
    clean: float
    robust: float
    flipped: float
    distances: npt.NDArray[np.float64]
    curve: npt.NDArray[np.float64]
    origins: npt.NDArray[np.float64]
    adversarial: npt.NDArray[np.float64]


def attack_points(session: Session) -> tuple[np.ndarray, np.ndarray]:
    """The points attacked: the test split, or the training set without one."""
    d = session.data
    return (d.x_test, d.y_test) if len(d.x_test) else (d.x_train, d.y_train)


def eps_values(config: EvasionConfig) -> npt.NDArray[np.float64]:
    """The eps values of the robustness curve, 0 to eps_max."""
    return np.linspace(0.0, config.eps_max or 2 * config.eps, config.curve_points)


def attack_run(
    key: str, label: str, network: Network, x: np.ndarray, y: np.ndarray, config: EvasionConfig
) -> RunAttack:
    """Every evasion measurement of one network."""
    attack = configured_attack(config)
    with np.errstate(all="ignore"):
        clean_classes = predicted_classes(network.predict(x.astype(network.dtype)))
    rng = np.random.default_rng(config.seed)
    adversarial, classes = attack_outcome(network, x, y, attack, rng)
    right = clean_classes == y
    flipped = float(np.mean(classes[right] != y[right])) if right.any() else float("nan")
    distances, _ = minimal_flip(network, x)
    curve = robust_accuracy_curve(network, x, y, attack, eps_values(config), config.seed)
    return RunAttack(
        key,
        label,
        float(np.mean(right)) if len(y) else float("nan"),
        float(np.mean(classes == y)) if len(y) else float("nan"),
        flipped,
        distances,
        curve,
        x,
        adversarial.astype(np.float64),
    )


def _measure(session: Session) -> tuple[list[RunAttack], tuple[float, float, float] | None]:
    config = session.scenario.experiments.evasion
    assert config is not None
    x, y = attack_points(session)
    runs = [attack_run(s.key, s.label, s.run.network, x, y, config) for s in session.slots]
    aimed = None
    if session.aim is not None:
        net = session.baseline.network
        point = np.array([session.aim], dtype=np.float64)
        if net.layers[0].n_in > 2:
            point = np.hstack([point, np.zeros((1, net.layers[0].n_in - 2))])
        distance, reached = minimal_flip(net, point)
        aimed = (float(distance[0]), float(reached[0, 0]), float(reached[0, 1]))
    return runs, aimed


def _mean(values: np.ndarray) -> float:
    found = values[np.isfinite(values)]
    return float(found.mean()) if len(found) else float("nan")


def view(session: Session) -> ExperimentView:
    """The evasion panel: robust accuracy against eps per run, distances, arrows on the map."""
    config = session.scenario.experiments.evasion
    assert config is not None
    runs, aimed = cached(session, "evasion", _measure)
    attack = configured_attack(config)
    name = "FGSM" if config.attack == "fgsm" else f"PGD-{attack.iterations}"
    ball = f"{SYMBOL[config.norm]} eps {config.eps:g}"
    figures: list[Figure] = []
    rows = []
    for r in runs:
        mean = _mean(r.distances)
        auc = float(np.mean(r.curve))
        prefix = f"evasion.{r.key}"
        figures += [
            Figure(f"{prefix}.robust_accuracy", f"{r.label}: robust", r.robust, percent(r.robust),
                   f"test accuracy left under {name} ({ball})"),
            Figure(f"{prefix}.clean_accuracy", f"{r.label}: clean", r.clean, percent(r.clean),
                   "test accuracy without attack", shown=False),
            Figure(f"{prefix}.flipped", f"{r.label}: flipped", r.flipped, percent(r.flipped),
                   "share of rightly classified test points the attack pushes to another class"),
            Figure(f"{prefix}.mean_distance", f"{r.label}: distance", mean, number(mean, ".3f"),
                   "mean L2 distance from a test point to the nearest change of class"),
            Figure(f"{prefix}.robust_auc", f"{r.label}: curve mean", auc, percent(auc),
                   "robust accuracy averaged over the curve's eps values", shown=False),
        ]  # fmt: skip
        rows.append((r.label, percent(r.clean), percent(r.robust), number(mean, ".3f")))
    if aimed is not None:
        figures.append(
            Figure("evasion.aim.distance", "at the probe", aimed[0], number(aimed[0], ".3f"),
                   "L2 distance from the aimed point to the nearest change of class (a)")
        )  # fmt: skip
    eps = eps_values(config)
    series = tuple(Series(r.label, eps, r.curve, x_label="eps") for r in runs)
    marks = [
        Mark("arrow", float(a[0]), float(a[1]), to=(float(b[0]), float(b[1])), run=r.key)
        for r in runs
        for a, b in zip(r.origins, r.adversarial, strict=True)
        if np.any(a[:2] != b[:2])
    ]
    if aimed is not None and session.aim is not None:
        marks.append(Mark("point", *session.aim, "aimed point"))
        if np.isfinite(aimed[0]):
            marks.append(Mark("arrow", *session.aim, to=(aimed[1], aimed[2]), label="to flip"))
    base = runs[0]
    headline = (
        f"{name} {ball}: robust accuracy {percent(base.robust)} (clean {percent(base.clean)})"
    )
    if len(runs) > 1:
        headline += f" · {runs[1].label}: {percent(runs[1].robust)}"
    return ExperimentView(
        name="evasion",
        title="Evasion: adversarial examples",
        headline=headline,
        figures=tuple(figures),
        series=series,
        table=Table(("run", "clean", "robust", "dist"), tuple(rows)),
        marks=tuple(marks),
        notes=(
            f"Each arrow moves a test point to its adversarial twin: {name} climbs the loss's "
            f"gradient with respect to the input, staying within {ball} of the point. The "
            "curve is the accuracy left as eps grows; the distance is DeepFool's estimate of "
            "the nearest change of class (L2).",
        ),
    )
