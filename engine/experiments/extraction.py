"""Model extraction: an attacker fits a copy of the baseline from its answers alone.

For each query budget the attacker asks the baseline (the victim, at its current weights)
and fits a network of its own architecture to the answers. The panel shows fidelity, the
agreement between copy and victim, against the number of queries, and the largest budget's
copy beside the victim on the map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.attacks import hinges
from engine.attacks.extraction import Extraction, extract
from engine.experiments.cache import cached
from engine.experiments.view import ExperimentView, Figure, Mark, Plane, Series, Table, percent
from engine.metrics import Extent, evaluate_grid, predicted_classes

if TYPE_CHECKING:
    from engine.session import Session

METRICS = {
    "extraction.fidelity.q<N>": "share of a display.grid x display.grid grid of the plane where "
    "the copy fitted from N queries predicts the victim's class",
    "extraction.test_fidelity.q<N>": "the same share over the test points",
    "extraction.fidelity": "grid fidelity of the copy from the largest budget",
    "extraction.test_fidelity": "test-point fidelity of the copy from the largest budget",
    "extraction.copy_accuracy": "test accuracy of that copy against the true labels",
    "extraction.hinges.found": "hinge lines the hinge search recovered (experiments.extraction."
    "hinge_lines > 0)",
    "extraction.hinges.matched": "share of the victim's live hidden units whose hinge line a "
    "recovered one matches (angle and offset within 1e-3)",
    "extraction.hinges.angle_error": "largest angle, in radians, between a matched hinge and the "
    "true one",
    "extraction.hinges.queries": "raw outputs the hinge search asked for",
}


def _measure(session: Session) -> list[Extraction]:
    config = session.scenario.experiments.extraction
    assert config is not None
    victim = session.baseline.network
    test = session.data.x_test if len(session.data.x_test) else session.data.x_train
    cells = session.scenario.display.grid
    return [extract(victim, b, session.extent, test, cells, config) for b in config.queries]


def _hinge_marks(found: hinges.HingeRecovery, extent: Extent, run: str) -> tuple[Mark, ...]:
    """Each recovered hinge as a segment across the display range (where it crosses it)."""
    marks = []
    for h in found.hinges:
        ends = _clip(h.normal, h.offset, extent)
        if ends is not None:
            (x0, y0), (x1, y1) = ends
            marks.append(Mark("line", x0, y0, to=(x1, y1), run=run))
    return tuple(marks)


def _clip(
    normal: tuple[float, float], offset: float, e: Extent
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """Where the line ``normal · x = offset`` enters and leaves the rectangle, or None."""
    a, b = normal
    hits: list[tuple[float, float]] = []
    if b != 0:
        for x in (e.x_min, e.x_max):
            y = (offset - a * x) / b
            if e.y_min <= y <= e.y_max:
                hits.append((x, y))
    if a != 0:
        for y in (e.y_min, e.y_max):
            x = (offset - b * y) / a
            if e.x_min <= x <= e.x_max:
                hits.append((x, y))
    if len(hits) < 2:
        return None
    far = max(hits[1:], key=lambda p: (p[0] - hits[0][0]) ** 2 + (p[1] - hits[0][1]) ** 2)
    return hits[0], far


def _hinge_figures(found: hinges.HingeRecovery) -> list[Figure]:
    share = found.matched / found.live_units if found.live_units else float("nan")
    return [
        Figure("extraction.hinges.found", "hinges recovered", float(len(found.hinges)),
               f"{len(found.hinges)}", "lines where a hidden unit switches, found from raw "
               "outputs along random query lines"),
        Figure("extraction.hinges.matched", "units matched", share,
               f"{found.matched} of {found.live_units}",
               "hidden units whose true hinge (weights up to scale) a recovered line matches"),
        Figure("extraction.hinges.angle_error", "largest angle error", found.angle_error,
               f"{found.angle_error:.1e} rad", "between a recovered hinge and the true one"),
        Figure("extraction.hinges.queries", "hinge queries", float(found.queries),
               f"{found.queries:,}", "raw outputs the search asked for", shown=False),
    ]  # fmt: skip


def view(session: Session) -> ExperimentView:
    """The extraction panel: fidelity against queries, and the copy beside its victim."""
    config = session.scenario.experiments.extraction
    assert config is not None
    results = cached(session, "extraction", _measure)
    figures: list[Figure] = []
    for r in results:
        figures += [
            Figure(f"extraction.fidelity.q{r.budget}", f"{r.budget} queries", r.grid_fidelity,
                   percent(r.grid_fidelity),
                   "share of the plane where the copy predicts the victim's class", shown=False),
            Figure(f"extraction.test_fidelity.q{r.budget}", f"{r.budget} queries, test",
                   r.test_fidelity, percent(r.test_fidelity),
                   "share of the test points where copy and victim agree", shown=False),
        ]  # fmt: skip
    last = results[-1]
    d = session.data
    with np.errstate(all="ignore"):
        classes = predicted_classes(last.copy.predict(d.x_test[:, :2])) if len(d.x_test) else None
    accuracy = float(np.mean(classes == d.y_test)) if classes is not None else float("nan")
    figures += [
        Figure("extraction.fidelity", "copy agrees (plane)", last.grid_fidelity,
               percent(last.grid_fidelity), f"fidelity of the copy from {last.budget} queries",
               shown=False),
        Figure("extraction.test_fidelity", "copy agrees (test)", last.test_fidelity,
               percent(last.test_fidelity), "the same on the test points", shown=False),
        Figure("extraction.copy_accuracy", "copy's test accuracy", accuracy, percent(accuracy),
               "the copy scored against the true labels (it never saw one)"),
    ]  # fmt: skip
    budgets = np.array([r.budget for r in results], dtype=np.float64)
    series = (
        Series("plane", budgets, np.array([r.grid_fidelity for r in results]), x_label="queries"),
        Series("test points", budgets, np.array([r.test_fidelity for r in results]),
               x_label="queries"),
    )  # fmt: skip
    cells = session.scenario.display.grid
    plane = Plane(
        f"copy, {last.budget} queries", evaluate_grid(last.copy, session.extent, cells, cells)
    )
    arch = "-".join(str(w) for w in (2, *config.hidden, last.copy.layers[-1].n_out))
    headline = (
        f"{last.budget} {config.strategy} queries ({config.access}) → a {arch} copy agrees on "
        f"{percent(last.grid_fidelity)} of the plane and scores {percent(accuracy)} on the "
        "test labels"
    )
    rows = tuple(
        (str(r.budget), percent(r.grid_fidelity), percent(r.test_fidelity)) for r in results
    )
    notes = [
        f"The attacker sees only the victim's {config.access} at points it chooses "
        f"({config.strategy}), then trains its own {arch} {config.activation} network on "
        "them. The map shows the copy from the largest budget beside the victim."
    ]
    marks: tuple[Mark, ...] = ()
    if config.hinge_lines:
        found = cached(
            session,
            "extraction.hinges",
            lambda s: hinges.recover(s.baseline.network, s.extent, config.hinge_lines, config.seed),
        )
        figures += _hinge_figures(found)
        marks = _hinge_marks(found, session.extent, session.slots[0].key)
        notes.append(
            f"Exact weights, not a copy: along {config.hinge_lines} random lines the victim's raw "
            f"output bends where a hidden unit switches. {found.queries:,} outputs give "
            f"{len(found.hinges)} hinge lines (drawn on the victim): {found.matched} of the "
            f"{found.live_units} units that switch somewhere in the searched region (three "
            "times the plane's size; a unit dead on the data may switch out there), weights up "
            f"to scale, to {found.angle_error:.0e} rad (Jagielski et al. 2020, Carlini et al. "
            "2020)."
        )
    return ExperimentView(
        name="extraction",
        title="Model extraction",
        headline=headline,
        figures=tuple(figures),
        series=series,
        table=Table(("queries", "plane", "test points"), rows),
        planes=(plane,),
        marks=marks,
        notes=tuple(notes),
    )
