"""Validated, frozen configuration of one training run: data, model and training.

These pydantic models are the single source of truth for what a run can be configured to do.
Scenario files (``engine.scenario``) are made of these sections plus experiments; the limits
below stop a hostile file from exhausting the machine.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

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
MAX_CLASSES = 16
"""Most classes in the data (a softmax output has one unit per class)."""
MAX_EPOCH_WORK = 200_000_000
"""Most training points x parameters: bounds the time and memory of one epoch."""
MAX_TOTAL_WORK = 2_000_000_000_000
"""Most epochs x training points x parameters x runs one headless run may do."""

Dtype = Literal["float64", "float32", "float16"]
HiddenActivation = Literal["sigmoid", "tanh", "relu", "leaky_relu", "linear"]
OutputActivation = Literal["sigmoid", "softmax", "linear"]
LossName = Literal[
    "squared_error_sum", "squared_error_mean", "binary_cross_entropy", "softmax_cross_entropy"
]


class Section(BaseModel):
    """Base of every configuration section: immutable, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


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
        None, description="csv: file of x1,x2,label rows, relative to the scenario file."
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
