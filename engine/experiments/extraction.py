"""Model extraction: an attacker fits a copy of the baseline from its answers alone.

For each query budget the attacker asks the baseline (the victim, at its current weights)
and fits a network of its own architecture to the answers. The panel shows fidelity, the
agreement between copy and victim, against the number of queries, and the largest budget's
copy beside the victim on the map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.attacks.extraction import Extraction, extract
from engine.experiments.cache import cached
from engine.experiments.view import ExperimentView, Figure, Plane, Series, Table, percent
from engine.metrics import evaluate_grid, predicted_classes

if TYPE_CHECKING:
    from engine.session import Session

METRICS = {
    "extraction.fidelity.q<N>": "share of a display.grid x display.grid grid of the plane where "
    "the copy fitted from N queries predicts the victim's class",
    "extraction.test_fidelity.q<N>": "the same share over the test points",
    "extraction.fidelity": "grid fidelity of the copy from the largest budget",
    "extraction.test_fidelity": "test-point fidelity of the copy from the largest budget",
    "extraction.copy_accuracy": "test accuracy of that copy against the true labels",
}


def _measure(session: Session) -> list[Extraction]:
    config = session.scenario.experiments.extraction
    assert config is not None
    victim = session.baseline.network
    test = session.data.x_test if len(session.data.x_test) else session.data.x_train
    cells = session.scenario.display.grid
    return [extract(victim, b, session.extent, test, cells, config) for b in config.queries]


def view(session: Session) -> ExperimentView:
    """The extraction panel: fidelity against queries, and the copy beside its victim."""
    config = session.scenario.experiments.extraction
    assert config is not None
    results = cached(session, "extraction", lambda: _measure(session))
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
    return ExperimentView(
        name="extraction",
        title="Model extraction",
        headline=headline,
        figures=tuple(figures),
        series=series,
        table=Table(("queries", "plane", "test points"), rows),
        planes=(plane,),
        notes=(
            f"The attacker sees only the victim's {config.access} at points it chooses "
            f"({config.strategy}), then trains its own {arch} {config.activation} network on "
            "them. The map shows the copy from the largest budget beside the victim.",
        ),
    )
