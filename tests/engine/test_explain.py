"""The explained step: its gradients are the true ones, its update is the engine's."""

from __future__ import annotations

import re

import numpy as np
import pytest

from engine.network import Network
from engine.run import Data, Run
from engine.scenario import parse_scenario
from engine.session import Session
from engine.training import encode_targets

CASES: dict[str, dict[str, str]] = {
    "relu-sigmoid-bce": {},
    "tanh-squared-error": {
        "model": 'activation = "tanh"\nhidden = [4, 3]\n',
        "training": 'loss = "squared_error_mean"\n',
    },
    "softmax-three-classes": {
        "data": 'kind = "blobs"\ncenters = [[-1, -1], [1, 1], [1, -1]]\n',
        "model": 'output = "softmax"\n',
        "training": 'loss = "softmax_cross_entropy"\n',
    },
    "sigmoid-linear-sum": {
        "model": 'activation = "sigmoid"\noutput = "linear"\n',
        "training": 'loss = "squared_error_sum"\n',
    },
}
OPTIMISERS = {
    "sgd-l2": "learning_rate = 0.3\nl2 = 0.01\n",
    "momentum": 'optimizer = "momentum"\nlearning_rate = 0.1\n',
    "adam-l1": 'optimizer = "adam"\nlearning_rate = 0.01\nl1 = 0.001\n',
}


def session(case: dict[str, str] | None = None, training: str = "") -> Session:
    sections = {"data": "samples = 40\nseed = 3\n", "model": "", "training": "seed = 5\n"}
    for name, body in (case or {}).items():
        sections[name] += body
    sections["training"] += training
    text = "".join(f"[{name}]\n{body}" for name, body in sections.items())
    return Session(parse_scenario(text, "test.toml"))


def point_loss(network: Network, x: np.ndarray, target: np.ndarray) -> float:
    return network.loss.value(network.predict(x), target)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_its_gradients_equal_central_finite_differences(case: dict[str, str]) -> None:
    s = session(case)
    s.step(5)
    explained = s.explain((0.3, -0.2), label=1)
    net = s.baseline.network
    x = np.array([[0.3, -0.2]])
    target = encode_targets(np.array([1]), net)
    saved = net.flat_params.copy()
    grads = np.concatenate([g.ravel() for w, b in explained.grads for g in (w, b) if g is not None])
    h = 1e-4  # the losses here reach hundreds: a smaller step drowns in rounding
    numeric = np.empty_like(saved)
    for k in range(saved.size):
        net.flat_params[k] = saved[k] + h
        up = point_loss(net, x, target)
        net.flat_params[k] = saved[k] - h
        down = point_loss(net, x, target)
        net.flat_params[k] = saved[k]
        numeric[k] = (up - down) / (2 * h)
    np.testing.assert_allclose(grads, numeric, rtol=1e-5, atol=1e-7)
    assert not np.allclose(grads, 0)  # a negative control: the check has something to check


@pytest.mark.parametrize("optimiser", OPTIMISERS.values(), ids=OPTIMISERS.keys())
def test_its_update_is_the_engines_own(optimiser: str) -> None:
    s = session(None, optimiser)
    s.step(7)  # momentum and Adam carry state by now
    index = 11
    explained = s.explain((0.0, 0.0), training_point=index)
    base = s.baseline
    alone = Data(
        base.data.x_train[index : index + 1],
        base.data.y_train[index : index + 1],
        base.data.x_test,
        base.data.y_test,
    )
    one = Run(alone, s.scenario.model, base.train_config, base.weights())
    one.optimizer.set_state(base.optimizer.state())
    before = one.network.flat_params.copy()
    one.trainer.train_epoch()
    assert explained.old.tobytes() == before.tobytes()
    assert explained.new.tobytes() == one.network.flat_params.tobytes()
    assert base.network.flat_params.tobytes() == before.tobytes()  # the run is untouched


def test_every_stage_shows_the_real_numbers() -> None:
    s = session()
    s.step(3)
    explained = s.explain((0.5, 0.25))
    titles = [stage.title for stage in explained.stages]
    assert titles == ["Forward", "Loss", "Backward", "Update"]
    forward, loss, backward, update = (stage.lines for stage in explained.stages)
    assert forward[0] == "input x = (0.5, 0.25)"
    assert f"= {explained.loss:.5g}" in loss[1]
    assert backward[0].startswith("output: δ = ∂L/∂z = p − y")
    assert update[0].startswith("sgd: w ← w − 0.1·g")
    assert update[-1] == f"{explained.old.size} parameters updated; 0 steps rounded away"
    nearest = np.argmin(np.hypot(*(s.data.x_train - [0.5, 0.25]).T))
    assert explained.label == s.data.y_train[nearest]  # the probe takes its neighbour's label


def test_float16_shows_steps_that_round_away() -> None:
    s = session(None, 'dtype = "float16"\nlearning_rate = 1e-4\n')
    s.step(2)
    explained = s.explain((0.5, 0.25))
    assert "rounded away: no change" in "\n".join(explained.stages[3].lines)


NUMBER = r"\(?(-?[0-9.]+(?:e[-+][0-9]+)?)\)?"


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_line_of_the_backward_stage_adds_up(case: dict[str, str]) -> None:
    s = session(case)
    s.step(20)
    explained = s.explain((0.3, -0.2), label=1)
    backward = explained.stages[2].lines
    products = [
        re.search(rf"= {NUMBER}·{NUMBER} = {NUMBER}$", line) for line in backward if "·" in line
    ]
    checked = [m for m in products if m]
    assert len(checked) >= 6
    for m in checked:
        a, b, c = (float(v) for v in m.groups())
        assert a * b == pytest.approx(c, rel=1e-3, abs=1e-5), m.string
    deltas = [m for m in (re.search(rf"δ = .*= {NUMBER}$", ln) for ln in backward) if m]
    assert len(deltas) >= s.baseline.network.layers[0].n_out
