"""Scenario files: TOML (data only) -> a validated, frozen ``Scenario``.

Nothing in a scenario is evaluated as code. Validation reports every error of a file in one
pass, each as one line ``FILE: key.path: what is wrong (got X, expected Y)``.
"""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from engine.config import (
    MAX_EPOCHS,
    MAX_HIDDEN_LAYERS,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_WIDTH,
    DataConfig,
    DPConfig,
    Dtype,
    HiddenActivation,
    ModelConfig,
    Section,
    TrainConfig,
)
from engine.files import BadToml, FileRefused, TooDeep, parse_toml, read_limited
from engine.text import neutralise

MAX_SCENARIO_BYTES = 256 * 1024
"""Largest scenario file read."""
MAX_NAME = 60
"""Longest scenario name."""
MAX_PROBES = 32
MAX_EXPECTATIONS = 64
MAX_MOMENTS = 32
MAX_DIRECTIONS = 100_000
"""Most random directions the out-of-distribution probe samples."""
MAX_GRID = 400
"""Largest side of a measurement grid (cells)."""
MAX_EXTENT = 1e6
"""Largest absolute coordinate of the displayed plane."""


class ScenarioError(Exception):
    """A scenario file that cannot be used. ``errors`` holds one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class ProbeConfig(Section):
    """A point whose output is reported."""

    point: tuple[float, float] = Field(description="Coordinates (x1, x2).")
    label: str = Field("", max_length=40, description="Name in reports; defaults to the point.")

    @model_validator(mode="after")
    def _finite(self) -> ProbeConfig:
        if not all(math.isfinite(v) and abs(v) <= MAX_EXTENT for v in self.point):
            raise ValueError(f"point must be finite and within +-{MAX_EXTENT:g}")
        return self

    @property
    def name(self) -> str:
        return self.label or f"({self.point[0]:g}, {self.point[1]:g})"


class DisplayConfig(Section):
    """How the plane is shown, and how the trainer opens the scenario."""

    x_range: tuple[float, float] = Field((-2.0, 2.0), description="Shown x1 interval.")
    y_range: tuple[float, float] = Field((-2.0, 2.0), description="Shown x2 interval.")
    grid: int = Field(64, ge=8, le=MAX_GRID, description="Cells per side of measurement grids.")
    view: str = Field(
        "",
        max_length=40,
        description="What the main map opens on: a run's key, or 'difference'; default the "
        "first run.",
    )
    compare: tuple[str, str] | None = Field(
        None, description="The two runs the difference view compares (run keys)."
    )
    speed: int = Field(20, ge=1, le=5000, description="Epochs per frame when the trainer opens.")

    @model_validator(mode="after")
    def _ordered(self) -> DisplayConfig:
        for key in ("x_range", "y_range"):
            low, high = getattr(self, key)
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(f"{key} must be two finite numbers, low < high")
            if max(abs(low), abs(high)) > MAX_EXTENT:
                raise ValueError(f"{key} must lie within +-{MAX_EXTENT:g}")
        if self.compare is not None and self.compare[0] == self.compare[1]:
            raise ValueError(f"compare needs two different runs (got {self.compare[0]!r} twice)")
        return self


MomentEvent = Literal["twin_diverged", "nonfinite", "accuracy_reached"]


class MomentConfig(Section):
    """A point in training where the trainer pauses and shows a caption."""

    epoch: int | None = Field(None, ge=1, le=MAX_EPOCHS, description="Pause after this epoch.")
    event: MomentEvent | None = Field(None, description="Or pause when this first happens.")
    value: float | None = Field(
        None, gt=0, le=1, description="accuracy_reached: the test accuracy to reach."
    )
    caption: str = Field(min_length=1, max_length=300, description="What the screen says then.")

    @model_validator(mode="after")
    def _one_trigger(self) -> MomentConfig:
        if (self.epoch is None) == (self.event is None):
            raise ValueError("give exactly one of `epoch` or `event`")
        if (self.event == "accuracy_reached") != (self.value is not None):
            raise ValueError("`value` is needed for accuracy_reached, and only there")
        return self

    def describe(self) -> str:
        """'epoch 500', 'the twins diverge', ... for lists and reports."""
        if self.epoch is not None:
            return f"epoch {self.epoch}"
        if self.event == "accuracy_reached":
            return f"test accuracy reaches {self.value:g}"
        return {"twin_diverged": "the twins diverge", "nonfinite": "a value turns NaN/inf"}[
            str(self.event)
        ]


class OODConfig(Section):
    """Confidence far from the data (Hein et al., 2019)."""

    radii: tuple[Annotated[float, Field(gt=0, le=MAX_EXTENT, allow_inf_nan=False)], ...] = Field(
        (10.0, 100.0), min_length=1, max_length=8, description="Distances from the data."
    )
    directions: int = Field(1000, ge=1, le=MAX_DIRECTIONS, description="Random directions.")
    threshold: float = Field(0.99, gt=0.5, lt=1, description="Confidence counted as 'sure'.")
    seed: int = Field(0, ge=0, le=MAX_SEED)


class PoisonConfig(Section):
    """Label flips shown by a poisoned twin."""

    k: int = Field(5, ge=1, le=MAX_SAMPLES, description="Labels to flip.")
    mode: Literal["random", "indices", "targeted"] = Field("random")
    indices: tuple[int, ...] = Field((), max_length=MAX_SAMPLES, description="indices: which.")
    target: tuple[float, float] = Field((0.0, 0.0), description="targeted: flip near here.")
    target_class: int = Field(0, ge=0, le=255, description="targeted: class of flipped points.")
    at_epoch: int = Field(0, ge=0, description="Epoch at which the flips happen.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="random: seed of the choice.")

    @model_validator(mode="after")
    def _indices_match(self) -> PoisonConfig:
        if self.mode == "indices" and len(self.indices) != self.k:
            raise ValueError(
                f"mode 'indices' needs k = len(indices) ({self.k} != {len(self.indices)})"
            )
        return self


class ButterflyConfig(Section):
    """A twin whose one initial weight is nudged."""

    layer: int = Field(0, ge=0, description="Layer of the nudged weight.")
    row: int = Field(0, ge=0, description="Row (input) of the nudged weight.")
    col: int = Field(0, ge=0, description="Column (neuron) of the nudged weight.")
    epsilon: float = Field(
        1e-14, ge=-1, le=1, allow_inf_nan=False, description="Amount added to that weight."
    )


class PrecisionConfig(Section):
    """The same run in several precisions, side by side."""

    dtypes: tuple[Dtype, ...] = Field(("float64", "float32", "float16"), min_length=1)
    master_weights: bool = Field(True, description="Add a float16 run with float32 masters.")


class SideChannelConfig(Section):
    """Guessing the class from the count of active hidden units."""

    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of the attacker's fit/test split.")


MAX_MEMBERS = 256
"""Most members of an ensemble."""


class EnsembleConfig(Section):
    """Many seeds of the baseline trained together, answering by their mean (a deep ensemble)."""

    members: int = Field(
        32, ge=2, le=MAX_MEMBERS, description="Networks: the baseline and seeds after its own."
    )
    radii: tuple[Annotated[float, Field(gt=0, le=MAX_EXTENT, allow_inf_nan=False)], ...] = Field(
        (10.0, 100.0), min_length=1, max_length=8, description="Distances from the data."
    )
    directions: int = Field(1000, ge=1, le=MAX_DIRECTIONS, description="Random directions.")
    threshold: float = Field(0.99, gt=0.5, lt=1, description="Confidence counted as 'sure'.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of the directions.")


MAX_QUERIES = 100_000
"""Most queries an extraction attacker may make for one surrogate."""
MAX_HINGE_LINES = 4096
"""Most query lines a hinge search samples."""
MAX_SURROGATE_EPOCHS = 20_000
"""Most epochs one surrogate is fitted for."""
Budget = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


class EvasionConfig(Section):
    """Adversarial examples on the test points, and an adversarially trained twin."""

    attack: Literal["pgd", "fgsm"] = Field("pgd", description="PGD, or one FGSM step.")
    norm: Literal["linf", "l2"] = Field("linf", description="The ball the attack stays in.")
    eps: float = Field(0.2, gt=0, le=100, description="Radius of that ball.")
    step: float = Field(0.0, ge=0, le=100, description="PGD step; 0: 2.5 * eps / iterations.")
    iterations: int = Field(10, ge=1, le=1000, description="PGD steps.")
    random_start: bool = Field(False, description="PGD starts at a random point of the ball.")
    eps_max: float = Field(0.0, ge=0, le=100, description="Right end of the curve; 0: 2 * eps.")
    curve_points: int = Field(11, ge=2, le=101, description="Points of the robustness curve.")
    defence: bool = Field(True, description="Train an adversarially trained twin beside.")
    train_eps: float | None = Field(
        None, gt=0, le=100, description="The twin's training eps; absent: eps."
    )
    train_iterations: int = Field(7, ge=1, le=100, description="PGD steps inside training.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of random starts.")


class ExtractionConfig(Section):
    """An attacker who queries the model and fits a copy of it."""

    queries: tuple[Annotated[int, Field(ge=4, le=MAX_QUERIES)], ...] = Field(
        (25, 50, 100, 200, 400), min_length=1, max_length=12, description="Query budgets."
    )
    strategy: Literal["random", "grid", "boundary"] = Field(
        "random", description="Where the attacker asks."
    )
    access: Literal["labels", "probabilities"] = Field(
        "probabilities", description="What each answer reveals."
    )
    hidden: tuple[Annotated[int, Field(ge=1, le=MAX_WIDTH)], ...] = Field(
        (10,), max_length=MAX_HIDDEN_LAYERS, description="The surrogate's hidden layers."
    )
    activation: HiddenActivation = Field("relu", description="The surrogate's activation.")
    epochs: int = Field(
        400, ge=1, le=MAX_SURROGATE_EPOCHS, description="Epochs each surrogate is fitted."
    )
    learning_rate: float = Field(0.02, gt=0, le=10, description="The surrogate's Adam step.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of queries and surrogates.")
    hinge_lines: int = Field(
        0,
        ge=0,
        le=MAX_HINGE_LINES,
        description="Random query lines searched for the victim's ReLU hinges (0: no search).",
    )


class MembershipConfig(Section):
    """Guessing from the loss whether a point was in the training set."""

    l2: float = Field(0.01, ge=0, le=10, description="The regularised twin's L2; 0: no twin.")
    dp: DPConfig | None = Field(None, description="The DP-SGD twin's settings; absent: none.")


class LeakageConfig(Section):
    """Recovering training inputs from a shared gradient."""

    example: int = Field(0, ge=0, description="Training point whose gradient is shared.")
    batch: int = Field(4, ge=1, le=64, description="Size of the shared batch (mixtures).")
    clip: float = Field(1.0, gt=0, le=1e6, description="Defence: clip the gradient's norm.")
    sigmas: tuple[Budget, ...] = Field(
        (0.0, 1e-4, 1e-3, 1e-2, 1e-1),
        min_length=1,
        max_length=12,
        description="Defence: noise multipliers tried (std = sigma * clip).",
    )
    restarts: int = Field(4, ge=1, le=32, description="Random starts of the optimisation.")
    iterations: int = Field(300, ge=10, le=5000, description="Its evaluations per start.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of the batch, noise and starts.")


class BackdoorConfig(Section):
    """A trigger feature that some poisoned training points carry with the target label."""

    fraction: float = Field(0.05, gt=0, le=0.5, description="Share of training points poisoned.")
    target_class: int = Field(0, ge=0, le=255, description="The label the trigger asks for.")
    finetune_at: int | None = Field(
        None, ge=1, le=MAX_EPOCHS, description="Epoch a twin starts fine-tuning on clean data."
    )
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of the choice of points.")


class SupplyChainConfig(Section):
    """Weight files checked before anything is loaded."""

    files: tuple[Annotated[str, Field(min_length=1, max_length=200)], ...] = Field(
        (), max_length=8, description="Files offered as the model, relative to the scenario."
    )


TWIN_EXPERIMENTS = ("poison", "butterfly", "precision", "evasion", "membership", "backdoor")
"""Experiments that train twins beside the baseline."""
RUN_EXPERIMENTS = (*TWIN_EXPERIMENTS, "ensemble")
"""Experiments that decide which runs a session trains: a scenario runs at most one of them."""


class ExperimentsConfig(Section):
    ood: OODConfig | None = None
    poison: PoisonConfig | None = None
    butterfly: ButterflyConfig | None = None
    precision: PrecisionConfig | None = None
    side_channel: SideChannelConfig | None = None
    evasion: EvasionConfig | None = None
    extraction: ExtractionConfig | None = None
    membership: MembershipConfig | None = None
    leakage: LeakageConfig | None = None
    backdoor: BackdoorConfig | None = None
    supply_chain: SupplyChainConfig | None = None
    ensemble: EnsembleConfig | None = None

    @model_validator(mode="after")
    def _one_twin_kind(self) -> ExperimentsConfig:
        twins = [k for k in RUN_EXPERIMENTS if getattr(self, k) is not None]
        if len(twins) > 1:
            raise ValueError(
                f"at most one of {', '.join(RUN_EXPERIMENTS)} (got {', '.join(twins)})"
            )
        return self


METRIC_PATTERN = re.compile(r"^[a-z_]+(\.[A-Za-z0-9_+\-]+)*$")


class Expectation(Section):
    """A check a headless run evaluates: ``metric op value`` at ``epoch`` (default: the end)."""

    metric: str = Field(max_length=80, description="Metric name, e.g. test.accuracy.")
    op: Literal[">", ">=", "<", "<=", "=="] = Field(">=")
    value: float = Field(allow_inf_nan=False)
    epoch: int | None = Field(None, ge=0, description="Check at this epoch instead of the end.")

    @field_validator("metric")
    @classmethod
    def _metric_name(cls, metric: str) -> str:
        if not METRIC_PATTERN.match(metric):
            raise ValueError(f"metric names are dotted lowercase words (got {metric!r})")
        return metric

    def describe(self) -> str:
        when = f" at epoch {self.epoch}" if self.epoch is not None else ""
        return f"{self.metric} {self.op} {self.value:g}{when}"


class Scenario(Section):
    """A whole scenario file."""

    name: str = Field(
        "", max_length=MAX_NAME, description="Defaults to the file name (cut to 60 characters)."
    )
    title: str = Field("", max_length=120, description="One-line title.")
    description: str = Field("", max_length=4000, description="What a presenter reads out.")
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainConfig = Field(default_factory=TrainConfig)
    display: DisplayConfig = Field(default_factory=DisplayConfig)
    probes: tuple[ProbeConfig, ...] = Field((), max_length=MAX_PROBES)
    experiments: ExperimentsConfig = Field(default_factory=ExperimentsConfig)
    expect: tuple[Expectation, ...] = Field((), max_length=MAX_EXPECTATIONS)
    moments: tuple[MomentConfig, ...] = Field((), max_length=MAX_MOMENTS)
    weights: str | None = Field(
        None, min_length=1, max_length=200, description="Start from this safetensors file."
    )
    weights_sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="Refuse `weights` unless it has this hash."
    )
    base_dir: str = Field("", exclude=True, description="(set by the loader)")
    source: str = Field("", exclude=True, description="(set by the loader: how errors name it)")

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        """Rules between sections that need no data (those that do: engine.data_checks)."""
        problems = []
        p = self.experiments.poison
        if self.model.output != "sigmoid" and self.training.loss == "binary_cross_entropy":
            problems.append(
                "training.loss: binary_cross_entropy needs a sigmoid output "
                f"(got {self.model.output}, expected model.output = 'sigmoid')"
            )
        if self.model.output != "softmax" and self.training.loss == "softmax_cross_entropy":
            problems.append(
                f"training.loss: softmax_cross_entropy needs a softmax output "
                f"(got {self.model.output}, expected model.output = 'softmax')"
            )
        if p is not None and p.at_epoch and p.at_epoch >= self.training.epochs:
            problems.append(
                f"experiments.poison.at_epoch: never reached (got {p.at_epoch}, "
                f"expected less than training.epochs = {self.training.epochs})"
            )
        ex = self.experiments
        twins = any(getattr(ex, t) is not None for t in TWIN_EXPERIMENTS)
        for i, m in enumerate(self.moments):
            if m.event == "twin_diverged" and not twins:
                problems.append(
                    f"moments[{i}].event: twin_diverged needs twin runs (expected one of "
                    f"[experiments.{'], [experiments.'.join(TWIN_EXPERIMENTS)}])"
                )
        if self.weights_sha256 is not None and self.weights is None:
            problems.append("weights_sha256: pins nothing (expected `weights`, the file it pins)")
        b = ex.backdoor
        if b is not None and b.finetune_at is not None and b.finetune_at >= self.training.epochs:
            problems.append(
                f"experiments.backdoor.finetune_at: never reached (got {b.finetune_at}, "
                f"expected less than training.epochs = {self.training.epochs})"
            )
        xt = ex.extraction
        net = self.model
        hinged = len(net.hidden) == 1 and net.activation == "relu" and net.output != "softmax"
        if xt is not None and xt.hinge_lines and not (hinged and net.bias):
            problems.append(
                "experiments.extraction.hinge_lines: the hinge search needs one hidden ReLU "
                f"layer, one output unit and biases (got hidden {list(net.hidden)}, "
                f"{net.activation}, output {net.output}, bias {str(net.bias).lower()})"
            )
        e = ex.ensemble
        if e is not None and self.training.seed + e.members - 1 > MAX_SEED:
            problems.append(
                f"experiments.ensemble.members: seeds past the largest (got training.seed "
                f"{self.training.seed} + {e.members} members, expected seeds up to {MAX_SEED})"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed where ``loc`` points (for 'did you mean')."""
    model: Any = Scenario
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        ann = field.annotation
        for arg in getattr(ann, "__args__", (ann,)):
            inner = getattr(arg, "__args__", (arg,))[0]
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                model = inner
                break
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                model = arg
                break
        else:
            return []
    return [name for name in model.model_fields if name not in ("base_dir", "source")]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def format_error(err: Any) -> list[str]:
    """One or more 'key.path: what is wrong (got X, expected Y)' lines for a pydantic error."""
    loc = tuple(p for p in err["loc"] if p not in ("function-after",))
    where = _loc(loc)
    kind, msg = err["type"], err["msg"]
    got = _show(err.get("input"))
    if kind == "extra_forbidden":
        allowed = _fields_at(loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(allowed)}"
        return [f"{where}: unknown key ({hint})"]
    if kind == "missing":
        return [f"{where}: missing required key"]
    if kind == "value_error":
        text = msg.removeprefix("Value error, ")
        lines = text.split("\n")
        prefix = _loc(loc)
        return [
            line
            if line.startswith(
                ("experiments.", "training.", "model.", "data.", "moments[", "weights")
            )
            else f"{prefix}: {line}"
            for line in lines
        ]
    expected = msg.replace("Input should be ", "").replace("Input should have ", "")
    if kind == "literal_error":
        close = difflib.get_close_matches(str(err.get("input")), re.findall(r"'([^']+)'", msg), 1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return [f"{where}: not an allowed value (got {got}, expected {expected}){hint}"]
    problem = "out of range" if "than" in msg or "equal" in msg else "invalid value"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        problem = "wrong type"
    if kind in ("too_long", "too_short", "string_too_long", "string_too_short"):
        ctx = err.get("ctx", {})
        unit = "characters" if kind.startswith("string") else "items"
        bound = (
            f"at most {ctx.get('max_length')}"
            if kind.endswith("too_long")
            else f"at least {ctx.get('min_length')}"
        )
        size = len(err["input"]) if hasattr(err.get("input"), "__len__") else "?"
        return [f"{where}: wrong number of {unit} (got {size}, expected {bound})"]
    return [f"{where}: {problem} (got {got}, expected {expected})"]


def default_name(source: str) -> str:
    """The name of a scenario that sets none: its file name's stem, made a valid name."""
    stem = neutralise(Path(source).stem, newlines=False).lstrip(".")
    return stem[:MAX_NAME] or "scenario"


def parse_scenario(text: str, source: str, base_dir: Path | None = None) -> Scenario:
    """Validate TOML text as a scenario.

    Args:
        text: The file's contents.
        source: How errors name the file.
        base_dir: Folder relative CSV paths are resolved against.

    Returns:
        The frozen scenario.

    Raises:
        ScenarioError: With every problem found, one line each.
    """
    try:
        raw = parse_toml(text)
    except (TooDeep, BadToml) as exc:
        raise ScenarioError([f"{source}: {exc}"]) from None
    return validate_scenario(raw, source, base_dir)


def validate_scenario(raw: dict[str, Any], source: str, base_dir: Path | None = None) -> Scenario:
    """Validate a scenario's tables, as ``parse_toml`` reads them, into a frozen scenario.

    Args:
        raw: The file's top-level table (not changed).
        source: How errors name the file.
        base_dir: Folder relative CSV paths are resolved against.

    Raises:
        ScenarioError: With every problem found, one line each.
    """
    raw = {**raw, "base_dir": str(base_dir or ""), "source": source}
    raw.setdefault("name", default_name(source))
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        lines = [line for err in exc.errors() for line in format_error(err)]
        raise ScenarioError([f"{source}: {line}" for line in lines]) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (see ``parse_scenario``).

    Only a regular file of at most ``MAX_SCENARIO_BYTES`` is read (never a FIFO or a device).
    """
    path = Path(path)
    return parse_scenario(read_scenario_text(path), str(path), path.parent)


def read_scenario_text(path: Path) -> str:
    """A scenario file's text, read as ``load_scenario`` reads it (raises ScenarioError)."""
    try:
        return read_limited(path, MAX_SCENARIO_BYTES).decode("utf-8")
    except FileRefused as exc:
        raise ScenarioError([f"{path}: {exc.reason}"]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
