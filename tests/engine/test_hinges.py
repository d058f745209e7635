"""Recovering a ReLU network's hinges from its raw output: against weights written out here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.attacks import hinges
from engine.config import ModelConfig
from engine.metrics import Extent
from engine.network import Network, build_network
from engine.scenario import ScenarioError, parse_scenario
from engine.session import Session
from tui_nn.plane import own_marks

EXTENT = Extent(-2.0, 2.0, -2.0, 2.0)

# Three units: hinges x = 0.5, y = -1 and x + y = 0. The fourth never changes the output
# (its outgoing weight is 0); the fifth's hinge x = 40 lies far outside the searched region.
W1 = np.array([[2.0, 0.0, 1.0, 1.0, 1.0], [0.0, -3.0, 1.0, 1.0, 0.0]])
B1 = np.array([-1.0, -3.0, 0.0, 0.5, -40.0])
W2 = np.array([[1.5], [-0.5], [2.0], [0.0], [1.0]])
B2 = np.array([0.25])


def hand_built() -> Network:
    net = build_network(ModelConfig(hidden=(5,)), "binary_cross_entropy", 2, seed=0)
    net.set_weights([(W1, B1), (W2, B2)])
    return net


def test_the_oracle_is_the_logit_the_victim_would_squash() -> None:
    net = hand_built()
    x = np.array([[0.3, -0.2], [1.5, 1.0], [-1.0, -1.9]])
    z = np.maximum(x @ W1 + B1, 0) @ W2 + B2
    assert np.allclose(hinges.logit(net, x), z[:, 0], rtol=0, atol=1e-12)
    p = net.predict(x)[:, 0]
    assert np.allclose(p, 1 / (1 + np.exp(-z[:, 0])), rtol=0, atol=1e-15)


def test_every_live_hinge_is_recovered_up_to_scale_and_sign() -> None:
    found = hinges.recover(hand_built(), EXTENT, lines=32, seed=0)
    assert found.live_units == 3 and found.matched == 3
    lines = {
        (round(h.normal[0], 6), round(h.normal[1], 6), round(h.offset, 6)) for h in found.hinges
    }
    r = 1 / math.sqrt(2)
    # x = 0.5; -3y - 3 = 0 written with a normal pointing up: y = -1; x + y = 0.
    assert lines == {(1.0, 0.0, 0.5), (0.0, 1.0, -1.0), (round(r, 6), round(r, 6), 0.0)}
    jumps = sorted(round(h.jump, 6) for h in found.hinges)
    assert jumps == sorted([1.5 * 2.0, 0.5 * 3.0, round(2.0 * math.sqrt(2), 6)])
    # The sides' gradients are finite differences: exact on a piece, up to rounding.
    assert found.angle_error < 1e-7 and found.offset_error < 1e-7 and found.jump_error < 1e-6


def test_each_critical_point_lies_on_a_true_hinge() -> None:
    found = hinges.recover(hand_built(), EXTENT, lines=16, seed=3)
    p = found.critical_points
    assert len(p) >= 16
    distance = np.stack([np.abs(p[:, 0] - 0.5), np.abs(p[:, 1] + 1), np.abs(p.sum(1)) / 2**0.5])
    assert float(distance.min(axis=0).max()) < 1e-9


def test_too_few_lines_find_fewer_hinges_and_say_so() -> None:
    found = hinges.recover(hand_built(), EXTENT, lines=1, seed=0)
    assert found.matched < 3 and found.live_units == 3
    assert found.queries >= hinges.SAMPLES


def test_the_search_asks_only_for_outputs() -> None:
    net = hand_built()
    before = net.flat_params.copy()
    hinges.recover(net, EXTENT, lines=8, seed=0)
    assert np.array_equal(net.flat_params, before)


@pytest.mark.parametrize(
    "model",
    ["hidden = [8, 8]", 'activation = "tanh"', 'output = "softmax"\nhidden = [8]'],
)
def test_a_victim_the_method_does_not_fit_is_refused_naming_the_key(model: str) -> None:
    text = f"[model]\n{model}\n[experiments.extraction]\nhinge_lines = 16\n"
    if "softmax" in model:
        text += '[training]\nloss = "softmax_cross_entropy"\n'
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, "h.toml")
    assert any("experiments.extraction.hinge_lines" in line for line in err.value.errors)


def test_the_shipped_scenario_draws_the_hinges_on_the_victim_only() -> None:
    text = (
        "[model]\nhidden = [6]\n[training]\nepochs = 50\n"
        "[experiments.extraction]\nqueries = [20]\nepochs = 20\nhinge_lines = 32\n"
    )
    session = Session(parse_scenario(text, "h.toml"))
    session.step(50)
    view = next(v for v in session.snapshot().experiments if v.name == "extraction")
    figures = view.metrics()
    assert figures["extraction.hinges.matched"] == 1.0
    lines = [m for m in view.marks if m.kind == "line"]
    assert 0 < len(lines) <= figures["extraction.hinges.found"]
    assert all(m.run == session.slots[0].key for m in lines)
    assert own_marks(view.marks) == []  # the copy's pane draws none of them
