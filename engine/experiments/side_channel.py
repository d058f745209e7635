"""An activation-count side channel: guessing the class from how many ReLUs fire.

The attacker never sees the input or the output, only the number of hidden units active for
each input (what a power or timing trace of a sparse implementation could reveal). It learns,
on one seeded half of the training inputs, the majority class of each count value (a count it
never saw takes the guess of the nearest count it did see), and is scored on the other half
against an attacker who always guesses the majority class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.experiments.view import ExperimentView, Figure, percent
from engine.metrics import active_unit_counts
from engine.run import Labels

if TYPE_CHECKING:
    from engine.session import Session

METRICS = {
    "side_channel.mean_active.<c>": "mean number of active hidden units over training inputs "
    "of class c",
    "side_channel.more_active_class": "class with the highest mean active count (lowest on a tie)",
    "side_channel.attacker_accuracy": "held-out accuracy of guessing the class from the "
    "active count alone (fit on one seeded half of the training inputs, scored on the other)",
    "side_channel.baseline_accuracy": "held-out accuracy of always guessing the majority class",
    "side_channel.advantage": "attacker accuracy minus baseline accuracy",
}


def majority(y: Labels) -> int:
    """The most frequent label (the lowest on a tie; 0 for no labels)."""
    return int(np.bincount(y).argmax()) if len(y) else 0


def attack(counts: npt.NDArray[np.int64], y: Labels, seed: int) -> tuple[float, float]:
    """Fit the count -> class guess on one seeded half, score it on the other.

    Args:
        counts: Active hidden units per input.
        y: Class per input.
        seed: Seed of the split.

    Returns:
        (attacker accuracy, majority-guess accuracy) on the held-out half; NaN for under two
        inputs.
    """
    n = len(y)
    if n < 2:
        return float("nan"), float("nan")
    order = np.random.default_rng(seed).permutation(n)
    fit, test = order[: n // 2], order[n // 2 :]
    seen = np.unique(counts[fit])
    guess = np.array([majority(y[fit][counts[fit] == c]) for c in seen], dtype=np.int64)
    # Counts are ordered, so an unseen count is read like its nearest neighbour (lower on a tie).
    nearest = np.abs(counts[test][:, None] - seen[None, :]).argmin(axis=1)
    predicted = guess[nearest]
    always = majority(y[fit])
    return float(np.mean(predicted == y[test])), float(np.mean(y[test] == always))


def measure_side_channel(
    counts: npt.NDArray[np.int64], y: Labels, n_classes: int, seed: int
) -> dict[str, float]:
    """The ``side_channel.*`` metrics from per-input active counts and labels."""
    out: dict[str, float] = {}
    means = np.full(n_classes, -np.inf)
    for c in range(n_classes):
        members = counts[y == c]
        if len(members):
            means[c] = members.mean()
            out[f"side_channel.mean_active.{c}"] = float(means[c])
    out["side_channel.more_active_class"] = float(np.argmax(means))
    attacker, baseline = attack(counts, y, seed)
    out["side_channel.attacker_accuracy"] = attacker
    out["side_channel.baseline_accuracy"] = baseline
    out["side_channel.advantage"] = attacker - baseline
    return out


def histogram(
    counts: npt.NDArray[np.int64], y: Labels, n_classes: int
) -> dict[int, tuple[int, ...]]:
    """histogram[c][k] = inputs of class c with exactly k active hidden units."""
    width = max(int(counts.max(initial=0)) + 1, 1)
    return {
        c: tuple(int(v) for v in np.bincount(counts[y == c], minlength=width))
        for c in range(n_classes)
    }


def view(session: Session) -> ExperimentView:
    """The side-channel panel: active-unit counts per class, and what they give away."""
    config = session.scenario.experiments.side_channel
    assert config is not None
    data = session.data
    counts = active_unit_counts(session.baseline.network, data.x_train)
    metrics = measure_side_channel(counts, data.y_train, data.n_classes, config.seed)
    figures = [
        Figure(
            f"side_channel.mean_active.{c}",
            f"class {c} mean active",
            metrics[f"side_channel.mean_active.{c}"],
            f"{metrics[f'side_channel.mean_active.{c}']:.2f} units",
            f"hidden units that fire, on average, for a training input of class {c}",
        )
        for c in range(data.n_classes)
        if f"side_channel.mean_active.{c}" in metrics
    ]
    attacker = metrics["side_channel.attacker_accuracy"]
    guess = metrics["side_channel.baseline_accuracy"]
    figures += [
        Figure(
            "side_channel.more_active_class",
            "busier class",
            metrics["side_channel.more_active_class"],
            f"class {metrics['side_channel.more_active_class']:.0f}",
            "the class whose inputs switch on more hidden units",
            shown=False,
        ),
        Figure(
            "side_channel.attacker_accuracy",
            "attacker",
            attacker,
            percent(attacker),
            "held-out accuracy of naming the class from the count of active units alone",
        ),
        Figure(
            "side_channel.baseline_accuracy",
            "majority guess",
            guess,
            percent(guess),
            "held-out accuracy of always guessing the commoner class",
        ),
        Figure(
            "side_channel.advantage",
            "advantage",
            metrics["side_channel.advantage"],
            f"{metrics['side_channel.advantage'] * 100:+.1f} points",
            "what the count is worth to the attacker over guessing",
        ),
    ]
    return ExperimentView(
        name="side_channel",
        title="Side channel: active units",
        headline=(
            f"the active-unit count names the class {percent(attacker)} of the time "
            f"(majority guess {percent(guess)})"
        ),
        figures=tuple(figures),
        histogram=histogram(counts, data.y_train, data.n_classes),
        notes=(
            "The attacker sees only how many hidden ReLUs fire per input; it learns which "
            "count goes with which class on one half of the training inputs and is scored on "
            "the other half.",
        ),
    )
