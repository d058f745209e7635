"""Model extraction on known answers."""

from __future__ import annotations

import numpy as np

from engine.attacks.extraction import agreement, ask, extract, fit
from engine.experiments.measure import measure
from engine.metrics import Extent, grid_points
from engine.scenario import ExtractionConfig, parse_scenario
from engine.session import Session

SCENARIO = """
[data]
samples = 120
seed = 1
[model]
hidden = [8]
[training]
learning_rate = 0.5
epochs = 300
[display]
x_range = [-2.0, 3.0]
y_range = [-1.5, 2.0]
"""


def trained() -> Session:
    session = Session(parse_scenario(SCENARIO, "t.toml"))
    session.step(300)
    return session


def test_a_copy_of_the_victims_own_architecture_on_a_dense_grid_reaches_fidelity_0_99() -> None:
    session = trained()
    victim = session.baseline.network
    extent = session.extent
    x = grid_points(extent, 40, 40)
    config = ExtractionConfig(hidden=(8,), epochs=1500, learning_rate=0.02)
    copy = fit(victim, x, ask(victim, x, "probabilities"), config, seed=0)
    check = grid_points(extent, 97, 97)  # other points than the ones asked
    assert agreement(victim, copy, check) >= 0.99
    assert agreement(victim, copy, session.data.x_test) >= 0.99


def test_labels_reveal_less_than_probabilities_and_queries_never_touch_the_victim() -> None:
    session = trained()
    victim = session.baseline.network
    before = victim.flat_params.copy()
    x = np.array([[0.0, 0.0], [1.0, 0.5]])
    probabilities = ask(victim, x, "probabilities")
    labels = ask(victim, x, "labels")
    assert set(labels.ravel().tolist()) <= {0.0, 1.0}
    assert np.array_equal(labels.ravel(), (probabilities.ravel() > 0.5).astype(float))
    assert np.array_equal(victim.flat_params, before)


def test_every_strategy_spends_exactly_its_budget() -> None:
    session = trained()
    extent = Extent(-2, 3, -1.5, 2)
    for strategy in ("random", "grid", "boundary"):
        config = ExtractionConfig(strategy=strategy, epochs=50)  # type: ignore[arg-type]
        result = extract(session.baseline.network, 49, extent, session.data.x_test, 16, config)
        assert len(result.queries) == 49
        assert 0 <= result.grid_fidelity <= 1


def test_the_experiment_reports_fidelity_per_budget_and_a_plane() -> None:
    text = SCENARIO + "[experiments.extraction]\nqueries = [10, 40]\nepochs = 100\n"
    session = Session(parse_scenario(text, "t.toml"))
    session.step(50)
    metrics = measure(session)
    assert {"extraction.fidelity.q10", "extraction.fidelity.q40"} <= metrics.keys()
    view = next(v for v in session.snapshot().experiments if v.name == "extraction")
    assert len(view.planes) == 1 and view.planes[0].grid.extent == session.extent
