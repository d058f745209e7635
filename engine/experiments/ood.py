"""Out-of-distribution confidence: how sure the baseline is far from every training point.

ReLU networks are piecewise linear, so along almost any ray their logit grows without bound
and a sigmoid output heads to 0 or 1 (Hein et al., 2019). This samples random directions
from the training data's centroid at several radii and measures the confidence there.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.experiments.common import number_key
from engine.metrics import confidence
from engine.network import Network
from engine.scenario import OODConfig

METRICS = {
    "ood.share_confident.r<R>": "share of random directions at radius R from the training "
    "centroid where the baseline's confidence exceeds the threshold",
    "ood.mean_confidence.r<R>": "mean confidence of the baseline over those directions",
}


def directions(count: int, seed: int) -> npt.NDArray[np.float64]:
    """``count`` seeded random unit vectors in the plane, uniform in angle."""
    v = np.random.default_rng(seed).standard_normal((count, 2))
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms == 0, 1.0, norms)


def confidences_at(
    network: Network, centre: npt.NDArray[np.float64], radius: float, units: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The network's confidence at ``centre + radius * unit`` for each unit vector."""
    points = centre + radius * units
    with np.errstate(all="ignore"):
        return confidence(network.predict(points.astype(network.dtype)))


def measure_ood(
    network: Network, x_train: npt.NDArray[np.float64], config: OODConfig
) -> dict[str, float]:
    """The ``ood.*`` metrics of one network and its training inputs."""
    centre = x_train.mean(axis=0) if len(x_train) else np.zeros(2)
    units = directions(config.directions, config.seed)
    out: dict[str, float] = {}
    for radius in config.radii:
        conf = confidences_at(network, centre, radius, units)
        key = number_key(radius)
        out[f"ood.share_confident.r{key}"] = float(np.mean(conf > config.threshold))
        out[f"ood.mean_confidence.r{key}"] = float(np.mean(conf))
    return out
