"""A deep ensemble: many seeds of one network, answering together, show where they do not know.

Far from the data a ReLU network is almost sure of its answer (the out-of-distribution
experiment), and a network from another seed is just as sure, often of the other class. An
ensemble of networks trained from different seeds answers with the mean of their probabilities
(Lakshminarayanan et al., 2017): where the members agree it is as sure as they are, where they
split it is unsure. The members train together as one population; the first is the scenario's
own network, the single network the ensemble is compared with. This measures, at several
radii from the training data, the share of random directions answered with confidence above
the threshold by the single network and by the ensemble, and draws the ensemble's answer
beside the single network's on the map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.experiments.cache import cached, measure_now
from engine.experiments.common import number_key, sure
from engine.experiments.ood import centroid, directions
from engine.experiments.view import ExperimentView, Figure, Mark, Plane, Table, percent
from engine.metrics import (
    Extent,
    GridOutputs,
    accuracy,
    confidence,
    grid_points,
    plane_inputs,
    predicted_classes,
)
from engine.population import MemberRun, Population

if TYPE_CHECKING:
    from engine.session import Session

METRICS = {
    "ensemble.members": "networks in the ensemble (the single network is the first)",
    "ensemble.share_confident.r<R>": "share of random directions at radius R from the training "
    "centroid where the ensemble's mean probability is sure (confidence above the threshold)",
    "ensemble.single_share_confident.r<R>": "the same share for the single network alone",
    "ensemble.unanimous.r<R>": "share of those directions where every member predicts the same "
    "class",
    "ensemble.probe.<i>.confidence": "the ensemble's confidence at probe i",
    "ensemble.test_accuracy": "test accuracy of the ensemble (the class of its mean probability)",
    "ensemble.member_test_accuracy_min": "the lowest test accuracy of one member",
    "ensemble.member_test_accuracy_max": "the highest test accuracy of one member",
}


def population(session: Session) -> Population:
    """The ensemble: the population the session's single network is the first member of."""
    run = session.baseline
    assert isinstance(run, MemberRun) and run.population is not None
    return run.population


def mean_outputs(members: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """The ensemble's answer: the mean of the members' outputs ``(K, n, outputs)``, float64."""
    return members.astype(np.float64).mean(axis=0)


def unanimous(members: npt.NDArray[np.floating]) -> npt.NDArray[np.bool_]:
    """Per point, whether every member predicts the same class."""
    classes = np.stack([predicted_classes(m) for m in members])
    return np.all(classes == classes[0], axis=0)


@dataclass(frozen=True)
class Far:
    """Single network and ensemble at one radius."""

    radius: float
    single: float
    """Share of directions the single network answers surely."""
    ensemble: float
    """Share the ensemble answers surely."""
    unanimous: float
    """Share where every member predicts the same class."""


@dataclass(frozen=True)
class Measured:
    far: tuple[Far, ...]
    probes: tuple[float, ...]
    """The ensemble's confidence at each probe point."""
    test_accuracy: float
    member_accuracy: npt.NDArray[np.float64]


def _measure(session: Session) -> Measured:
    config = session.scenario.experiments.ensemble
    assert config is not None
    pop = population(session)
    data = session.data
    centre = centroid(data.x_train)
    units = directions(config.directions, config.seed)
    far = []
    for radius in config.radii:
        members = pop.predict(centre + radius * units)
        single = confidence(members[0]) > config.threshold
        together = confidence(mean_outputs(members)) > config.threshold
        far.append(
            Far(
                radius,
                float(single.mean()),
                float(together.mean()),
                float(unanimous(members).mean()),
            )
        )
    probes: tuple[float, ...] = ()
    if session.scenario.probes:
        points = np.array([p.point for p in session.scenario.probes], dtype=np.float64)
        probes = tuple(confidence(mean_outputs(pop.predict(points))).tolist())
    test_accuracy, member_accuracy = float("nan"), np.full(pop.size, np.nan)
    if len(data.x_test):
        members = pop.predict(data.x_test)
        test_accuracy = float(accuracy(mean_outputs(members), data.y_test))
        member_accuracy = np.array([accuracy(m, data.y_test) for m in members], dtype=np.float64)
    return Measured(tuple(far), probes, test_accuracy, member_accuracy)


def ensemble_grid(pop: Population, extent: Extent, width: int, height: int) -> GridOutputs:
    """The ensemble's answer over a width x height grid of the plane."""
    points = plane_inputs(grid_points(extent, width, height), pop.network.layers[0].n_in)
    mean = mean_outputs(pop.predict(points))
    value = mean[:, 0] if mean.shape[1] == 1 else confidence(mean)
    return GridOutputs(
        extent=extent,
        output=value.reshape(height, width),
        classes=predicted_classes(mean).reshape(height, width),
        hidden=(),
    )


def _plane(session: Session) -> Plane | None:
    """The ensemble's answer over the picture the session's snapshot draws, if it draws one
    (measured again as the session changes, and at once for a new picture)."""
    if session.picture is None:
        return None
    extent, (width, height) = session.picture

    def measure(s: Session) -> GridOutputs:
        return ensemble_grid(population(s), extent, width, height)

    grid = cached(session, "ensemble.plane", measure)
    if grid.extent != extent or grid.output.shape != (height, width):  # another picture
        grid = measure_now(session, "ensemble.plane", measure)
    return Plane(f"ensemble of {population(session).size}", grid, tracks=True)


def view(session: Session) -> ExperimentView:
    """The ensemble panel: sure far away, single network against ensemble, radius by radius."""
    config = session.scenario.experiments.ensemble
    assert config is not None
    m = cached(session, "ensemble", _measure)
    k = population(session).size
    n = config.directions
    figures = [
        Figure("ensemble.members", "members", float(k), str(k),
               f"networks trained from {k} seeds, the single network first", shown=False),
    ]  # fmt: skip
    for i, (probe, conf) in enumerate(zip(session.scenario.probes, m.probes, strict=True)):
        figures.append(
            Figure(f"ensemble.probe.{i}.confidence", f"ensemble at {probe.name}", conf,
                   sure(conf), "how sure the ensemble's mean answer is at this probe point")
        )  # fmt: skip
    for f in m.far:
        key = number_key(f.radius)
        figures += [
            Figure(f"ensemble.single_share_confident.r{key}", f"single sure at r={f.radius:g}",
                   f.single, percent(f.single),
                   f"share of {n:,} random directions, {f.radius:g} from the data's centre, "
                   f"the single network answers with confidence above {config.threshold:g}"),
            Figure(f"ensemble.share_confident.r{key}", f"ensemble sure at r={f.radius:g}",
                   f.ensemble, percent(f.ensemble),
                   "the same share for the ensemble's mean probability"),
            Figure(f"ensemble.unanimous.r{key}", f"unanimous at r={f.radius:g}", f.unanimous,
                   percent(f.unanimous),
                   f"share of those directions where all {k} members predict one class",
                   shown=False),
        ]  # fmt: skip
    accuracies = m.member_accuracy
    low = float(accuracies.min()) if len(accuracies) else float("nan")
    high = float(accuracies.max()) if len(accuracies) else float("nan")
    figures += [
        Figure("ensemble.test_accuracy", "ensemble test accuracy", m.test_accuracy,
               percent(m.test_accuracy), "test accuracy of the class of the mean probability"),
        Figure("ensemble.member_test_accuracy_min", "worst member", low, percent(low),
               "the lowest test accuracy of one member", shown=False),
        Figure("ensemble.member_test_accuracy_max", "best member", high, percent(high),
               "the highest test accuracy of one member", shown=False),
    ]  # fmt: skip
    last = m.far[-1]
    headline = (
        f"r={last.radius:g}: single network sure in {percent(last.single)} of directions, "
        f"the {k} together in {percent(last.ensemble)}"
    )
    rows = tuple(
        (f"{f.radius:g}", percent(f.single), percent(f.ensemble), percent(f.unanimous))
        for f in m.far
    )
    centre = centroid(session.data.x_train)
    marks = [Mark("point", p.point[0], p.point[1], p.name) for p in session.scenario.probes]
    marks += [
        Mark("circle", float(centre[0]), float(centre[1]), f"r={r:g}", radius=r)
        for r in config.radii
    ]
    plane = _plane(session)
    return ExperimentView(
        name="ensemble",
        title="A deep ensemble far from the data",
        headline=headline,
        figures=tuple(figures),
        table=Table(("radius", "single sure", "ensemble sure", "unanimous"), rows),
        marks=tuple(marks),
        planes=() if plane is None else (plane,),
        notes=(
            f"{k} networks from {k} seeds train together; the ensemble answers with the mean "
            f"of their probabilities, so it is sure (above {config.threshold:g}) only where "
            "they agree. The map shows the single network (the first member) and the "
            "ensemble side by side: pale where the members split. Members' test accuracy: "
            f"{percent(low)} to {percent(high)}.",
        ),
    )
