"""The live controls: which settings can change while a session trains, and their ladders.

Settings of ``[training]`` that only steer the next updates (learning rate, optimiser,
momentum, penalties, batch size) change at the next epoch and training goes on. Everything
else (the network, the output and loss, the data, the initialiser) makes a new run: the
session resets. Every change is validated by the same pydantic models a scenario file is, so
a live change can never reach a state a file could not describe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from engine.config import MAX_HIDDEN_LAYERS, MAX_SEED, MAX_WIDTH, TrainConfig
from engine.scenario import Scenario, ScenarioError, format_error

if TYPE_CHECKING:
    from engine.session import Session

T = TypeVar("T")

LEARNING_RATES = (1e-5, 1e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
"""The learning-rate ladder `,` and `.` step along."""
OPTIMIZERS = ("sgd", "momentum", "adam")
MOMENTA = (0.5, 0.9, 0.99)
PENALTIES: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (0.0, 1e-4),
    (0.0, 1e-3),
    (0.0, 1e-2),
    (1e-4, 0.0),
    (1e-3, 0.0),
    (1e-2, 0.0),
)
"""(l1, l2) settings the regularisation control cycles through."""
BATCH_SIZES: tuple[int | None, ...] = (None, 1, 8, 32, 128)
"""Full batch, then mini-batches."""
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "linear")
OUTPUTS = (
    ("sigmoid", "binary_cross_entropy"),
    ("sigmoid", "squared_error_mean"),
    ("linear", "squared_error_mean"),
    ("softmax", "softmax_cross_entropy"),
)
"""(output activation, loss) pairs that work together."""
DATASETS = ("moons", "circles", "spiral", "xor_cloud", "blobs", "xor")
NOISES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
TEST_FRACTIONS = (0.0, 0.1, 0.2, 0.5)
INITIALISERS = ("he", "glorot", "normal", "uniform", "zeros")

LIVE = ("learning_rate", "optimizer", "momentum", "penalty", "batch_size")
"""Controls that apply at the next epoch without a reset."""
LIVE_KEYS = ("learning_rate", "optimizer", "momentum", "l1", "l2", "batch_size")
"""The [training] keys those controls set."""


@dataclass(frozen=True)
class Control:
    """One control as the controls dialog lists it."""

    name: str
    label: str
    value: str
    resets: bool


def step_ladder(ladder: Sequence[T], current: T, step: int, *, wrap: bool = True) -> T:
    """The entry ``step`` places from ``current`` (or from the nearest entry to it)."""
    if current in ladder:
        index = list(ladder).index(current)
    elif isinstance(current, int | float) and not isinstance(current, bool):
        index = min(
            range(len(ladder)),
            key=lambda i: abs(float(ladder[i]) - current),  # type: ignore[arg-type]
        )
    else:
        index = 0 if step > 0 else 1
        step = 0 if step > 0 else -1
    index += step
    if wrap:
        return ladder[index % len(ladder)]
    return ladder[min(max(index, 0), len(ladder) - 1)]


def _problems(exc: ValidationError, prefix: str) -> list[str]:
    lines = [line for err in exc.errors() for line in format_error(err)]
    return [line if line.startswith(prefix) else f"{prefix}{line}" for line in lines]


def changed_training(train: TrainConfig, changes: dict[str, Any], who: str = "") -> TrainConfig:
    """``train`` with ``changes``, validated as a scenario's [training] would be.

    Raises:
        ScenarioError: One line per problem, e.g. 'training.adam_eps: ...'.
    """
    try:
        return TrainConfig.model_validate({**train.model_dump(), **changes})
    except ValidationError as exc:
        where = f"{who}: " if who else ""
        raise ScenarioError([where + line for line in _problems(exc, "training.")]) from None


def changed_scenario(scenario: Scenario, changes: dict[str, dict[str, Any]]) -> Scenario:
    """The scenario with ``changes`` (section -> keys), validated as a file would be.

    The section 'init' names ``model.init``.

    Raises:
        ScenarioError: One line per problem.
    """
    raw = scenario.model_dump()
    for section, values in changes.items():
        if section == "init":
            raw["model"]["init"] = {**raw["model"]["init"], **values}
        else:
            raw[section] = {**raw[section], **values}
    raw["base_dir"], raw["source"] = scenario.base_dir, scenario.source
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError([line for err in exc.errors() for line in format_error(err)]) from None


def layers_changed(hidden: tuple[int, ...], layer: int, change: str) -> tuple[int, ...]:
    """Hidden widths after adding or removing a layer, or a neuron of hidden layer ``layer``.

    Args:
        hidden: The widths now.
        layer: The hidden layer a neuron change applies to (clamped into range).
        change: 'add_layer', 'remove_layer', 'add_neuron' or 'remove_neuron'.

    Raises:
        ScenarioError: When the change would leave the allowed range.
    """
    widths = list(hidden)
    if change == "add_layer":
        if len(widths) >= MAX_HIDDEN_LAYERS:
            raise ScenarioError([f"model.hidden: at most {MAX_HIDDEN_LAYERS} hidden layers"])
        widths.append(widths[-1] if widths else 4)
    elif change == "remove_layer":
        if not widths:
            raise ScenarioError(["model.hidden: no hidden layer left to remove"])
        widths.pop()
    else:
        if not widths:
            raise ScenarioError(["model.hidden: no hidden layer (add one first)"])
        i = min(max(layer, 0), len(widths) - 1)
        widths[i] += 1 if change == "add_neuron" else -1
        if not 1 <= widths[i] <= MAX_WIDTH:
            raise ScenarioError([f"model.hidden[{i}]: a layer has 1 to {MAX_WIDTH} neurons"])
    return tuple(widths)


def describe_controls(scenario: Scenario, train: TrainConfig) -> list[Control]:
    """Every control with its current value, in the order of the controls dialog."""
    m, d = scenario.model, scenario.data
    penalty = (
        "none"
        if not (train.l1 or train.l2)
        else " ".join(f"{k} {v:g}" for k, v in (("L1", train.l1), ("L2", train.l2)) if v)
    )
    return [
        Control("learning_rate", "learning rate", f"{train.learning_rate:g}", False),
        Control("optimizer", "optimiser", train.optimizer, False),
        Control("momentum", "momentum", f"{train.momentum:g}", False),
        Control("penalty", "L1/L2", penalty, False),
        Control("batch_size", "batch size", str(train.batch_size or "full"), False),
        Control("activation", "hidden activation", m.activation, True),
        Control("layers", "hidden layers", " ".join(map(str, m.hidden)) or "none", True),
        Control("output", "output / loss", f"{m.output} / {train.loss}", True),
        Control("dataset", "dataset", d.kind, True),
        Control("noise", "noise", f"{d.noise:g}", True),
        Control("test_fraction", "test fraction", f"{d.test_fraction:g}", True),
        Control("data_seed", "data seed", str(d.seed), True),
        Control("init", "initialiser", m.init.weights, True),
    ]


@dataclass(frozen=True)
class Change:
    """What a control did, in words for the screen."""

    text: str
    resets: bool


def change(session: Session, name: str, step: int = 1, layer: int = -1) -> Change:
    """Move one control a step along its ladder (or cycle it) and apply it to the session.

    Args:
        session: The session to change.
        name: A control name (``describe_controls``), or 'neurons'.
        step: +1 for the next setting, -1 for the previous one.
        layer: The hidden layer a neuron change applies to (-1: the last).

    Returns:
        What changed, and whether the run started again.

    Raises:
        ScenarioError: If the change would not validate (the session is unchanged).
        ValueError: For an unknown control name.
    """
    train = session.train_config()
    if name in LIVE:
        if name == "learning_rate":
            rate = step_ladder(LEARNING_RATES, train.learning_rate, step, wrap=False)
            if rate == train.learning_rate:
                end = "top" if step > 0 else "bottom"
                raise ValueError(f"the learning rate {rate:g} is at the {end} of the ladder")
            session.set_training(learning_rate=rate)
            return Change(f"learning rate {rate:g}", False)
        if name == "optimizer":
            kind = step_ladder(OPTIMIZERS, train.optimizer, step)
            session.set_training(optimizer=kind)
            return Change(f"optimiser {kind}", False)
        if name == "momentum":
            mu = step_ladder(MOMENTA, train.momentum, step)
            session.set_training(momentum=mu)
            note = (
                ""
                if train.optimizer == "momentum"
                else f" (used by momentum, not {train.optimizer})"
            )
            return Change(f"momentum {mu:g}{note}", False)
        if name == "penalty":
            l1, l2 = step_ladder(PENALTIES, (train.l1, train.l2), step)
            session.set_training(l1=l1, l2=l2)
            text = "no penalty" if not (l1 or l2) else f"L1 {l1:g}" if l1 else f"L2 {l2:g}"
            return Change(text, False)
        size = step_ladder(BATCH_SIZES, train.batch_size, step)
        session.set_training(batch_size=size)
        return Change(f"batch size {size or 'full'}", False)
    options = _options(name, session, step, layer)
    first: ScenarioError | None = None
    for changes, text in options:
        try:
            session.reconfigure(changes)
        except ScenarioError as exc:
            first = first or exc
            continue
        return Change(text, True)
    assert first is not None
    raise first


def _options(
    name: str, session: Session, step: int, layer: int
) -> list[tuple[dict[str, dict[str, Any]], str]]:
    """The reconfigurations to try in turn (the first that validates wins)."""
    sc = session.scenario
    m, d, t = sc.model, sc.data, sc.training

    def cycle(ladder: Sequence[T], current: T) -> list[T]:
        out, value = [], current
        for _ in range(len(ladder)):
            value = step_ladder(ladder, value, step)
            if value != current:
                out.append(value)
        return out

    if name == "activation":
        return [
            ({"model": {"activation": a}}, f"hidden activation {a}")
            for a in cycle(ACTIVATIONS, m.activation)
        ]
    if name in ("layers", "neurons"):
        what = (
            ("add_layer" if step > 0 else "remove_layer")
            if name == "layers"
            else ("add_neuron" if step > 0 else "remove_neuron")
        )
        hidden = layers_changed(m.hidden, layer if layer >= 0 else len(m.hidden) - 1, what)
        shown = "-".join(map(str, (2, *hidden, "out")))
        return [({"model": {"hidden": hidden}}, f"network {shown}")]
    if name == "output":
        pairs = cycle(OUTPUTS, (m.output, t.loss))
        return [
            ({"model": {"output": o}, "training": {"loss": loss}}, f"output {o}, loss {loss}")
            for o, loss in pairs
        ]
    if name == "dataset":
        return [
            ({"data": {"kind": k, "path": None}}, f"dataset {k}")
            for k in cycle(DATASETS, d.kind if d.kind in DATASETS else DATASETS[-1])
        ]
    if name == "noise":
        return [({"data": {"noise": n}}, f"noise {n:g}") for n in cycle(NOISES, d.noise)]
    if name == "test_fraction":
        return [
            ({"data": {"test_fraction": f}}, f"test fraction {f:g}")
            for f in cycle(TEST_FRACTIONS, d.test_fraction)
        ]
    if name == "data_seed":
        seed = (d.seed + step) % (MAX_SEED + 1)
        return [({"data": {"seed": seed}}, f"new data (seed {seed})")]
    if name == "init":
        return [
            ({"init": {"weights": w}}, f"initialiser {w}")
            for w in cycle(INITIALISERS, m.init.weights)
        ]
    raise ValueError(f"no control {name!r}")
