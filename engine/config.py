"""Validated, frozen configuration of one training run: data, model and training.

These pydantic models are the single source of truth for what a run can be configured to do.
Scenario files (``engine.scenario``) are made of these sections plus experiments; the limits
below stop a hostile file from exhausting the machine.
"""

from __future__ import annotations

from pathlib import PureWindowsPath
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from engine.text import describe_character, first_unsafe

MAX_WIDTH = 256
"""Most neurons in one layer."""
MAX_HIDDEN_LAYERS = 8
"""Most hidden layers."""
MAX_SAMPLES = 100_000
"""Most data points, generated or read from CSV."""
MAX_EPOCHS = 1_000_000
"""Most epochs one run may train."""
MAX_SEED = 2**32 - 1
"""Largest seed (the legacy RandomState accepts 32-bit seeds only)."""
MAX_DATA_PATH = 1000
"""Longest `data.path`."""
MAX_CLASSES = 16
"""Most classes in the data (a softmax output has one unit per class)."""
MAX_EPOCH_WORK = 200_000_000
"""Most training points x parameters: bounds the time and memory of one epoch."""
MAX_TOTAL_WORK = 2_000_000_000_000
"""Most epochs x training points x parameters x runs one headless run may do."""
MAX_MEASURE_WORK = 2_000_000_000
"""Most points x parameters one measurement of every metric may evaluate (a second or so)."""
MAX_BATCH_VALUES = 20_000_000
"""Most points x neurons one forward pass may hold (bounds the memory a measurement takes)."""
MAX_GRID_WORK = 50_000_000
"""Most grid points x parameters x runs one picture of the plane evaluates; a larger picture
is drawn from a coarser grid (see ``fit_grid``)."""


def fit_grid(grid: tuple[int, int], params: int, runs: int = 1) -> tuple[int, int]:
    """``grid`` (width, height), shrunk with its aspect kept until it fits MAX_GRID_WORK.

    Args:
        grid: The grid wanted (at least 1 x 1).
        params: Parameters of the network evaluated over it.
        runs: How many networks are evaluated over it.
    """
    width, height = max(1, grid[0]), max(1, grid[1])
    budget = MAX_GRID_WORK // max(1, params * runs)
    if width * height <= budget:
        return width, height
    scale = (budget / (width * height)) ** 0.5
    return max(1, int(width * scale)), max(1, int(height * scale))


Dtype = Literal["float64", "float32", "float16"]
HiddenActivation = Literal["sigmoid", "tanh", "relu", "leaky_relu", "linear"]
OutputActivation = Literal["sigmoid", "softmax", "linear"]
LossName = Literal[
    "squared_error_sum", "squared_error_mean", "binary_cross_entropy", "softmax_cross_entropy"
]


def _tuples(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_tuples(v) for v in value)
    return value


LOADER_FIELDS = ("base_dir", "source")
"""Fields the loader sets (from the file's path), not the file: not checked as file text."""


class Section(BaseModel):
    """Base of every configuration section: immutable, strict, and unknown keys are errors.

    Strict: an integer key takes only an integer (not ``10.0`` or ``'10'``), a boolean only
    ``true``/``false`` (not ``1``), a string only a string; a float key takes an integer.
    Arrays (lists) are taken as the tuples the fields hold. Every string must be plain
    printable text: a control or format character (an escape sequence) is refused.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _arrays_as_tuples(cls, data: Any) -> Any:
        """Lists (TOML arrays, or values built in Python) as the tuples the fields hold."""
        if isinstance(data, dict):
            return {key: _tuples(value) for key, value in data.items()}
        return data

    @field_validator("*", mode="after")
    @classmethod
    def _printable(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name in LOADER_FIELDS:
            return value
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, str) and (bad := first_unsafe(item)) is not None:
                position, ch = bad
                raise ValueError(
                    f"control character {describe_character(ch)} at position {position} "
                    "(expected printable text)"
                )
        return value


def data_path_problem(path: str) -> str | None:
    """Why ``path`` may not name a scenario's data file, or None.

    The policy: a scenario reads data only from its own folder or below it, so a file from
    elsewhere cannot make tui-nn read (and report on) any file of the machine. The path is
    relative, uses '/' between parts, and has no '..' part; the file it names, symlinks
    followed, must lie inside the folder too (checked when the data is read).
    """
    parts = path.split("/")
    if path.startswith(("/", "~")) or PureWindowsPath(path).drive or "\\" in path:
        return f"must be relative to the scenario's folder (got {path!r})"
    if ".." in parts:
        return f"may not leave the scenario's folder with '..' (got {path!r})"
    if not path.strip() or path.endswith("/"):
        return f"must name a file (got {path!r})"
    return None


class DataConfig(Section):
    """Where the points come from and how they are split."""

    kind: Literal["xor", "xor_cloud", "moons", "circles", "spiral", "blobs", "csv"] = Field(
        "moons", description="Dataset generator, or csv to read `path`."
    )
    samples: int = Field(250, ge=4, le=MAX_SAMPLES, description="Points to generate.")
    noise: float = Field(0.1, ge=0, le=10, description="Standard deviation of Gaussian noise.")
    factor: float = Field(0.5, gt=0, lt=1, description="circles: inner radius / outer radius.")
    turns: float = Field(1.5, gt=0, le=10, description="spiral: turns of each arm.")
    centers: tuple[tuple[float, float], ...] = Field(
        ((-1.0, -1.0), (1.0, 1.0)), min_length=2, max_length=16, description="blobs: centres."
    )
    std: float = Field(0.5, gt=0, le=10, description="blobs: standard deviation of each blob.")
    path: str | None = Field(
        None,
        max_length=MAX_DATA_PATH,
        description="csv: file of x1,x2,label rows in the scenario's folder or below it.",
    )
    test_fraction: float = Field(0.2, ge=0, lt=1, description="Share of points held out.")
    split: Literal["random", "ordered"] = Field(
        "random",
        description="random: the held-out points are drawn with `seed`; ordered: the last "
        "rows are held out and the rest train in file order.",
    )
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of data generation and split.")

    @model_validator(mode="after")
    def _csv_needs_path(self) -> DataConfig:
        if self.kind == "csv" and not self.path:
            raise ValueError("kind 'csv' needs `path` (a CSV file of x1,x2,label)")
        if self.kind != "csv" and self.path is not None:
            raise ValueError(f"`path` is only read when kind is 'csv' (kind is {self.kind!r})")
        if self.path is not None and (problem := data_path_problem(self.path)):
            raise ValueError(f"data.path: {problem}")
        return self


class InitConfig(Section):
    """How the initial weights and biases are drawn."""

    weights: Literal["uniform", "normal", "he", "glorot", "zeros"] = Field(
        "he", description="Weight initialiser."
    )
    low: float = Field(0.0, ge=-100, le=100, description="uniform: lower bound.")
    high: float = Field(1.0, ge=-100, le=100, description="uniform: upper bound (exclusive).")
    std: float = Field(0.1, gt=0, le=100, description="normal: standard deviation.")
    bias: float = Field(0.0, ge=-100, le=100, description="Constant initial bias.")
    legacy: bool = Field(
        False,
        description="Draw from np.random.RandomState(seed) in layer order, like old scripts.",
    )

    @model_validator(mode="after")
    def _ordered_bounds(self) -> InitConfig:
        if self.weights == "uniform" and not self.low < self.high:
            raise ValueError(f"uniform init needs low < high (got {self.low} and {self.high})")
        return self


class ModelConfig(Section):
    """The network: 2 inputs, hidden layers, one output layer."""

    hidden: tuple[Annotated[int, Field(ge=1, le=MAX_WIDTH)], ...] = Field(
        (10,), max_length=MAX_HIDDEN_LAYERS, description="Width of each hidden layer."
    )
    activation: HiddenActivation = Field("relu", description="Activation of the hidden layers.")
    leaky_slope: float = Field(0.01, gt=0, lt=1, description="leaky_relu: negative slope.")
    output: OutputActivation = Field("sigmoid", description="Activation of the output layer.")
    bias: bool = Field(True, description="Whether layers have biases.")
    init: InitConfig = Field(default_factory=InitConfig)


class DPConfig(Section):
    """DP-SGD: each example's gradient clipped to norm ``clip``, then Gaussian noise added."""

    clip: float = Field(1.0, gt=0, le=1e6, description="Largest norm of one example's gradient.")
    noise_multiplier: float = Field(
        1.0, ge=0, le=1000, description="Noise standard deviation as a multiple of `clip`."
    )
    delta: float = Field(1e-5, gt=0, lt=1, description="The delta the epsilon is stated at.")


class TrainConfig(Section):
    """Loss, optimiser, precision and schedule."""

    loss: LossName = Field("binary_cross_entropy", description="Loss function.")
    optimizer: Literal["sgd", "momentum", "adam"] = Field("sgd", description="Update rule.")
    learning_rate: float = Field(0.1, gt=0, le=100, description="Step size.")
    momentum: float = Field(0.9, ge=0, lt=1, description="momentum: velocity decay.")
    beta1: float = Field(0.9, ge=0, lt=1, description="adam: first-moment decay.")
    beta2: float = Field(0.999, ge=0, lt=1, description="adam: second-moment decay.")
    adam_eps: float = Field(1e-8, gt=0, le=1, description="adam: denominator guard.")
    l1: float = Field(0.0, ge=0, le=10, description="L1 penalty weight on weights.")
    l2: float = Field(0.0, ge=0, le=10, description="L2 penalty weight on weights.")
    batch_size: int | None = Field(
        None, ge=1, le=MAX_SAMPLES, description="Mini-batch size; absent means full batch."
    )
    epochs: int = Field(1000, ge=0, le=MAX_EPOCHS, description="Epochs a headless run trains.")
    dtype: Dtype = Field("float64", description="Precision of all arithmetic.")
    master_weights: bool = Field(
        False, description="Keep float32 master weights for a float16 run."
    )
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of initial weights and batches.")
    dp: DPConfig | None = Field(None, description="Train with DP-SGD (absent: plain updates).")

    @model_validator(mode="after")
    def _master_weights_need_low_precision(self) -> TrainConfig:
        if self.master_weights and self.dtype != "float16":
            raise ValueError(f"master_weights only applies to float16 (dtype is {self.dtype!r})")
        tiny = float(np.finfo(np.float16).smallest_normal)
        plain_float16 = self.dtype == "float16" and not self.master_weights
        if self.optimizer == "adam" and plain_float16 and self.adam_eps < tiny:
            # Below float16's smallest normal the guard rounds towards 0 and m / (sqrt(v) + eps)
            # divides by zero as soon as a gradient's square underflows.
            raise ValueError(
                f"adam_eps {self.adam_eps:g} is lost in float16 arithmetic (expected at least "
                f"{tiny:.3g}, or master_weights = true)"
            )
        return self
