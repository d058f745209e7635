"""The deep ensemble: K seeds trained as one population, answering with their mean."""

from __future__ import annotations

import numpy as np
import pytest

from engine.experiments.ensemble import ensemble_grid, population
from engine.experiments.measure import measure
from engine.experiments.ood import centroid, directions
from engine.metrics import Extent, confidence
from engine.population import MemberRun
from engine.run import Run
from engine.scenario import ScenarioError, parse_scenario
from engine.session import Session

SMALL = """
[data]
samples = 80
noise = 0.15
seed = 3
[model]
hidden = [6]
[training]
learning_rate = 0.5
epochs = 100
seed = 5
"""
ENSEMBLE = "[experiments.ensemble]\nmembers = 5\nradii = [4.0]\ndirections = 200\n"
EPOCHS = 60


def session(extra: str = ENSEMBLE) -> Session:
    return Session(parse_scenario(SMALL + extra, "ensemble.toml"))


def test_the_single_network_is_the_scenarios_network_and_members_are_later_seeds() -> None:
    s = session()
    assert s.keys() == ["single"] and isinstance(s.baseline, MemberRun)
    pop = population(s)
    assert pop.size == 5
    sc = s.scenario
    alone = [
        Run(s.data, sc.model, sc.training.model_copy(update={"seed": sc.training.seed + k}))
        for k in range(5)
    ]
    plain = session("")  # the same scenario without an ensemble
    s.step(EPOCHS)
    plain.step(EPOCHS)
    for run in alone:
        for _ in range(EPOCHS):
            run.step()
    assert s.baseline.weights_sha256() == plain.baseline.weights_sha256()
    for k, run in enumerate(alone):
        assert pop.params(k).tobytes() == run.network.flat_params.tobytes(), f"member {k}"
    ours, theirs = s.history("single", None), plain.history("baseline", None)
    assert ours.test_loss.tobytes() == theirs.test_loss.tobytes()


def test_the_ensemble_answers_with_the_mean_of_its_members() -> None:
    s = session()
    s.step(EPOCHS)
    pop = population(s)
    config = s.scenario.experiments.ensemble
    assert config is not None
    points = centroid(s.data.x_train) + 4.0 * directions(config.directions, config.seed)
    outputs = np.stack([pop.predict(points)[k] for k in range(pop.size)]).astype(np.float64)
    mean = outputs.mean(axis=0)
    m = measure(s)
    assert m["ensemble.share_confident.r4"] == np.mean(confidence(mean) > config.threshold)
    assert m["ensemble.single_share_confident.r4"] == np.mean(
        confidence(outputs[0]) > config.threshold
    )
    votes = (outputs[:, :, 0] > 0.5).sum(axis=0)
    assert m["ensemble.unanimous.r4"] == np.mean((votes == 0) | (votes == pop.size))
    # The members disagree somewhere out there: the ensemble is sure less often than one net.
    assert m["ensemble.share_confident.r4"] < m["ensemble.single_share_confident.r4"]
    grid = ensemble_grid(pop, Extent(-8, 8, -8, 8), 12, 10)
    corner = pop.predict(np.array([[-8 + 16 / 24, 8 - 16 / 20]]))
    assert grid.output[0, 0] == pytest.approx(float(corner.astype(np.float64).mean()))


def test_the_plane_is_drawn_for_the_picture_a_snapshot_asks_for() -> None:
    s = session()
    s.step(10)
    assert not next(v for v in s.snapshot().experiments if v.name == "ensemble").planes
    far = Extent(-20, 20, -20, 20)
    view = next(v for v in s.snapshot((16, 12), far).experiments if v.name == "ensemble")
    (plane,) = view.planes
    assert plane.tracks and plane.label == "ensemble of 5"
    assert plane.grid.extent == far and plane.grid.output.shape == (12, 16)
    assert s.picture is None  # only while the snapshot measures


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[experiments.ensemble]\nmembers = 1\n", "experiments.ensemble.members"),
        ("[experiments.ensemble]\n[experiments.poison]\n", "at most one of"),
    ],
)
def test_bad_ensembles_are_refused_with_one_line(extra: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(SMALL + extra, "bad.toml")
    assert any(message in line for line in err.value.errors)


def test_seeds_past_the_largest_are_refused() -> None:
    text = SMALL.replace("seed = 5", "seed = 4294967290") + ENSEMBLE.replace("5", "9")
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, "seeds.toml")
    assert any("experiments.ensemble.members: seeds past" in line for line in err.value.errors)


def test_live_edits_reach_every_member() -> None:
    s = session()
    pop = population(s)
    sc = s.scenario
    other = Run(s.data, sc.model, sc.training.model_copy(update={"seed": sc.training.seed + 3}))
    s.step(10)
    for _ in range(10):
        other.step()
    s.set_training(learning_rate=0.2)
    other.set_train_config(other.train_config.model_copy(update={"learning_rate": 0.2}))
    s.add_point(0.3, 0.9, 0)
    other.set_data(s.data)
    s.step(10)
    for _ in range(10):
        other.step()
    assert pop.train_config.learning_rate == 0.2 and len(pop.trainer.x) == len(s.data.x_train)
    assert pop.params(3).tobytes() == other.network.flat_params.tobytes()
    assert population(s) is pop  # the single network is still its first member
