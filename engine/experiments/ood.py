"""Out-of-distribution confidence: how sure the baseline is far from every training point.

ReLU networks are piecewise linear, so along almost any ray their logit grows without bound
and a sigmoid output heads to 0 or 1 (Hein et al., 2019). This samples random directions
from the training data's centroid at several radii and measures the confidence there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.experiments.common import number_key, sure
from engine.experiments.view import ExperimentView, Figure, Mark, percent
from engine.metrics import confidence
from engine.network import Network
from engine.scenario import OODConfig

if TYPE_CHECKING:
    from engine.session import Session

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


def centroid(x_train: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The centre the radii are measured from: the training inputs' mean."""
    return x_train.mean(axis=0) if len(x_train) else np.zeros(2)


def measure_ood(
    network: Network, x_train: npt.NDArray[np.float64], config: OODConfig
) -> dict[str, float]:
    """The ``ood.*`` metrics of one network and its training inputs."""
    centre = centroid(x_train)
    units = directions(config.directions, config.seed)
    out: dict[str, float] = {}
    for radius in config.radii:
        conf = confidences_at(network, centre, radius, units)
        key = number_key(radius)
        out[f"ood.share_confident.r{key}"] = float(np.mean(conf > config.threshold))
        out[f"ood.mean_confidence.r{key}"] = float(np.mean(conf))
    return out


def view(session: Session) -> ExperimentView:
    """The OOD panel: the output at each probe, and the share of sure answers per radius."""
    config = session.scenario.experiments.ood
    assert config is not None
    metrics = measure_ood(session.baseline.network, session.data.x_train, config)
    figures = []
    for i, probe in enumerate(session.scenario.probes):
        out = session.probe(*probe.point)
        conf = float(confidence(out.reshape(1, -1))[0])
        cls = int(out[0] > 0.5) if len(out) == 1 else int(out.argmax())
        figures.append(
            Figure(
                f"probe.{i}.confidence",
                f"at {probe.name}",
                conf,
                f"{sure(conf)} class {cls}",
                "how sure the network is of its answer at this probe point",
            )
        )
    n = config.directions
    for radius in config.radii:
        key = number_key(radius)
        share = metrics[f"ood.share_confident.r{key}"]
        figures.append(
            Figure(
                f"ood.share_confident.r{key}",
                f"sure at r={radius:g}",
                share,
                percent(share),
                f"share of {n:,} random directions, {radius:g} from the data's centre, "
                f"answered with confidence above {config.threshold:g}",
            )
        )
        mean = metrics[f"ood.mean_confidence.r{key}"]
        figures.append(
            Figure(
                f"ood.mean_confidence.r{key}",
                f"mean confidence r={radius:g}",
                mean,
                sure(mean),
                f"mean confidence over those {n:,} directions",
                shown=False,
            )
        )
    far = max(config.radii)
    headline = f"r={far:g}: {percent(metrics[f'ood.share_confident.r{number_key(far)}'])} sure"
    if figures and figures[0].key.startswith("probe."):
        headline = f"{figures[0].label}: {figures[0].text.split(' class')[0]} sure · {headline}"
    centre = centroid(session.data.x_train)
    marks = [Mark("point", p.point[0], p.point[1], p.name) for p in session.scenario.probes]
    marks += [
        Mark("circle", float(centre[0]), float(centre[1]), f"r={r:g}", radius=r)
        for r in config.radii
    ]
    return ExperimentView(
        name="ood",
        title="Far from the data",
        headline=headline,
        figures=tuple(figures),
        marks=tuple(marks),
        notes=(
            f"'sure' means a confidence above {config.threshold:g}. No training point lies "
            "out there: a ReLU network is piecewise linear, so far from the data its output "
            "grows along almost every ray and the sigmoid saturates.",
        ),
    )
