"""Training a session headless to its scenario's epochs, checking expectations on the way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.experiments.expectations import Outcome, check, checkpoints, evaluate
from engine.experiments.measure import measure
from engine.session import Session

CHUNKS = 200
"""About how many pieces a run is trained in (each ends with a progress report)."""


@dataclass(frozen=True)
class Result:
    """What a headless run found."""

    metrics: dict[str, float]
    """The final measurements."""
    outcomes: list[Outcome]
    """One per expectation, in file order (one whose epoch was never reached fails)."""


def train(session: Session, progress: Callable[[int], object] | None = None) -> Result:
    """Train the session to ``training.epochs``, measuring at every expectation's epoch.

    Training stops early when a run produces NaN or inf. Moments reached on the way are
    recorded in ``session.moments``; a headless run does not pause for them.

    Args:
        session: A freshly built (or freshly loaded) session.
        progress: Called with the epoch after every chunk of training.
    """
    scenario = session.scenario
    total = scenario.training.epochs
    stops = [e for e in checkpoints(scenario) if 0 < e < total]
    chunk = max(1, total // CHUNKS)
    outcomes: list[Outcome] = []
    if 0 in checkpoints(scenario):
        outcomes += evaluate(scenario.expect, measure(session), 0)
    while session.epoch < total and not session.blowup:
        target = min(total, session.epoch + chunk, *(e for e in stops if e > session.epoch))
        while session.epoch < target and not session.blowup:
            session.step(target - session.epoch)  # returns early at each moment
        if progress is not None:
            progress(session.epoch)
        if session.epoch in stops:
            outcomes += evaluate(scenario.expect, measure(session), session.epoch)
    metrics = measure(session)
    if session.epoch == total and total in checkpoints(scenario):
        outcomes += evaluate(scenario.expect, metrics, total)
    outcomes += evaluate(scenario.expect, metrics, None)
    checked = {id(o.expectation) for o in outcomes}
    for e in scenario.expect:
        if id(e) not in checked:
            reason = f"not reached: training stopped at epoch {session.epoch}"
            outcomes.append(Outcome(e, None, False, reason))
    order = {id(e): i for i, e in enumerate(scenario.expect)}
    return Result(metrics, sorted(outcomes, key=lambda o: order[id(o.expectation)]))


def unknown_metrics(session: Session) -> list[str]:
    """One line per expectation naming a metric this scenario does not measure."""
    scenario = session.scenario
    if not scenario.expect:
        return []
    known = measure(session)
    src = scenario.source or scenario.name
    return [
        f"{src}: expect[{i}].metric: {outcome.detail}"
        for i, e in enumerate(scenario.expect)
        if (outcome := check(e, known)).value is None
    ]
