"""Label poisoning: how far a twin trained on a few flipped labels moves from the clean run."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.metrics import predicted_classes
from engine.network import Network
from engine.run import Labels, flip_labels

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
