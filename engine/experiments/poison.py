"""Label poisoning: how far a twin trained on a few flipped labels moves from the clean run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.experiments.common import run_figures
from engine.experiments.view import ExperimentView, Figure, percent
from engine.metrics import predicted_classes, region_changed
from engine.network import Network
from engine.run import Labels, flip_labels

if TYPE_CHECKING:
    from engine.session import Session

METRICS = {
    "poison.flips": "number of training labels the poisoned twin flips",
    "poison.test_accuracy_change": "poisoned twin's test accuracy minus the clean run's",
    "poison.region_changed": "share of the display grid where the twin's predicted class "
    "differs from the clean run's",
    "poison.flipped_fit": "share of flipped points the poisoned twin classifies with the "
    "flipped label",
    "poison.flipped_fit_clean": "the same share for the clean run (its reference)",
}


def flipped_fit(
    network: Network,
    x: npt.NDArray[np.float64],
    y: Labels,
    flipped: npt.NDArray[np.int64],
    n_classes: int,
) -> float:
    """Share of the flipped points the network assigns their flipped label (NaN for none)."""
    if len(flipped) == 0:
        return float("nan")
    wrong = flip_labels(y, flipped, n_classes)[flipped]
    with np.errstate(all="ignore"):
        predicted = predicted_classes(network.predict(x[flipped].astype(network.dtype)))
    return float(np.mean(predicted == wrong))


def _of(share: float, count: int) -> str:
    return "--" if not np.isfinite(share) else f"{round(share * count)} of {count}"


def view(session: Session) -> ExperimentView:
    """The poisoning panel: what the flips did to the boundary and to the test score."""
    clean, poisoned = session.slots[0].run, session.slots[1].run
    data = session.data
    flips = len(session.flipped)
    grid = session.scenario.display.grid
    change = (
        run_figures(poisoned)["test.accuracy"] - run_figures(clean)["test.accuracy"]
        if len(data.x_test)
        else float("nan")
    )
    region = region_changed(clean.network, poisoned.network, session.extent, grid)
    fit = flipped_fit(poisoned.network, data.x_train, data.y_train, session.flipped, data.n_classes)
    fit_clean = flipped_fit(
        clean.network, data.x_train, data.y_train, session.flipped, data.n_classes
    )
    figures = (
        Figure(
            "poison.flips",
            "labels flipped",
            float(flips),
            f"{flips} of {len(data.y_train)}",
            "training labels the poisoned run sees flipped (✖ on the map)",
        ),
        Figure(
            "poison.flipped_fit",
            "poisoned run fits",
            fit,
            _of(fit, flips),
            "flipped points the poisoned run now classifies with the wrong label",
        ),
        Figure(
            "poison.flipped_fit_clean",
            "clean run fits",
            fit_clean,
            _of(fit_clean, flips),
            "the same points classified with the wrong label by the clean run",
        ),
        Figure(
            "poison.region_changed",
            "plane changed",
            region,
            percent(region),
            f"share of a {grid}x{grid} grid of the plane where the two runs predict "
            "different classes",
        ),
        Figure(
            "poison.test_accuracy_change",
            "test accuracy change",
            change,
            "--" if not np.isfinite(change) else f"{change * 100:+.1f} points",
            "poisoned run's test accuracy minus the clean run's: the score hides the pocket",
        ),
    )
    headline = (
        f"poisoned run fits {_of(fit, flips)} flips (clean {_of(fit_clean, flips)}) · "
        f"{percent(region)} of the plane changed"
    )
    if np.isfinite(change):
        headline += f" · test acc {change * 100:+.1f} pts"
    return ExperimentView(
        name="poison",
        title="Label poisoning",
        headline=headline,
        figures=figures,
        notes=(
            "Both runs start from the same weights and see the same batches; only the "
            f"{flips} flipped labels differ.",
        ),
    )
