"""One training run built from configuration: its data, network, optimiser and history."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from engine import datasets
from engine.config import DataConfig, ModelConfig, TrainConfig, data_path_problem
from engine.dp import DPSGD, epsilon
from engine.metrics import accuracy
from engine.network import Network, build_network
from engine.optim import Optimizer
from engine.training import EpochStats, Trainer, encode_targets

Array = npt.NDArray[np.floating]
Labels = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Data:
    """Train and test points (float64) and integer labels."""

    x_train: npt.NDArray[np.float64]
    y_train: Labels
    x_test: npt.NDArray[np.float64]
    y_test: Labels

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(initial=0), self.y_test.max(initial=0))) + 1


def data_file(path: str, base_dir: Path) -> Path:
    """The file ``data.path`` names, refused if it lies outside the scenario's folder.

    Raises:
        datasets.DataError: If the path (symlinks followed) leaves ``base_dir``.
    """
    if problem := data_path_problem(path):
        raise datasets.DataError(problem)
    target = base_dir / path
    try:
        inside = target.resolve().is_relative_to(base_dir.resolve())
    except (OSError, RuntimeError):  # a symlink loop, a name too long
        inside = True  # reading it reports the actual problem
    if not inside:
        raise datasets.DataError(
            f"{target}: is a link to a file outside the scenario's folder (expected a file in "
            "that folder or below it)"
        )
    return target


def build_data(config: DataConfig, base_dir: Path | None = None) -> Data:
    """Generate or read the points, then split them, all from ``config.seed``.

    Args:
        config: The data section.
        base_dir: Folder a relative CSV path is resolved against (the scenario's folder).

    Returns:
        The split data.

    Raises:
        datasets.DataError: If a CSV file is missing or malformed.
    """
    rng = np.random.default_rng(config.seed)
    match config.kind:
        case "xor":
            x, y = datasets.make_xor()
        case "xor_cloud":
            x, y = datasets.make_xor_cloud(config.samples, config.noise, rng)
        case "moons":
            x, y = datasets.make_moons(config.samples, config.noise, rng)
        case "circles":
            x, y = datasets.make_circles(config.samples, config.noise, config.factor, rng)
        case "spiral":
            x, y = datasets.make_spiral(config.samples, config.noise, rng, turns=config.turns)
        case "blobs":
            x, y = datasets.make_blobs(config.samples, config.centers, config.std, rng)
        case "csv":
            assert config.path is not None
            x, y = datasets.load_csv(data_file(config.path, base_dir or Path(".")))
    if config.kind == "xor" or config.test_fraction == 0:
        # The four truth-table points are the whole problem: nothing is held out.
        return Data(x, y, np.zeros((0, 2)), np.zeros(0, dtype=np.int64))
    if config.split == "ordered":
        n_train = len(x) - round(len(x) * config.test_fraction)
        return Data(x[:n_train], y[:n_train], x[n_train:], y[n_train:])
    return Data(*datasets.train_test_split(x, y, config.test_fraction, rng))


MEASURES = (
    "train_loss",
    "test_loss",
    "train_accuracy",
    "test_accuracy",
    "noop_share",
    "underflow",
    "nonfinite",
)
"""What a run measures every epoch, in the order of a ``Measurement``."""


class Measurement(NamedTuple):
    """One epoch's measurements, in the order of ``MEASURES``.

    Training loss and accuracy come from the epoch's own forward pass, made before its update
    (for mini-batches: the batch-weighted loss, and the accuracy after the epoch); test loss and
    accuracy are measured after the epoch's last update (NaN without a test split).
    """

    train_loss: float
    test_loss: float
    train_accuracy: float
    test_accuracy: float
    noop_share: float
    underflow: int
    nonfinite: int


@dataclass(frozen=True)
class RunState:
    """Everything a run's next epoch depends on, copied: restoring it replays identically."""

    train: TrainConfig
    data: Data
    """The run's data (never changed in place, so states share it)."""
    params: Array
    optimizer: dict[str, object]
    trainer: dict[str, Any]
    batch_size: int | None
    last: EpochStats | None
    latest: Measurement | None
    noop_total: float
    blowup: str | None
    underflow_total: int = 0
    random: tuple[Mapping[str, Any], ...] = ()
    """The states of the run's other random sources (DP noise, adversarial starts)."""
    dp_counts: tuple[int, int] | None = None

    @property
    def nbytes(self) -> int:
        """Bytes of the copied arrays (the data is shared, so not counted)."""
        arrays = [self.params, *(a for a in self.optimizer.values() if isinstance(a, np.ndarray))]
        return sum(a.nbytes for a in arrays) + 1024


class Run:
    """A network, its data and optimiser, trained epoch by epoch with a recorded history.

    Two runs built from the same configuration produce byte-identical weights.
    """

    def __init__(
        self,
        data: Data,
        model: ModelConfig,
        train: TrainConfig,
        initial_weights: list[tuple[Array, Array | None]] | None = None,
    ) -> None:
        self.data = data
        self.model_config = model
        self.train_config = train
        self.network: Network = build_network(
            model, train.loss, data.n_classes, train.seed, train.dtype, data.x_train.shape[1]
        )
        if initial_weights is not None:
            self.network.set_weights(initial_weights)
        self.optimizer = Optimizer(train, self.network.flat_params, self.network.is_weight)
        self.trainer = Trainer(
            self.network,
            self.optimizer,
            data.x_train,
            data.y_train,
            train.batch_size,
            np.random.default_rng([train.seed, 1]),
        )
        self.random_sources: list[np.random.Generator] = []
        """Generators besides the batch order that training draws from (saved with the state,
        so a replay draws the same numbers)."""
        self.dp: DPSGD | None = None
        """The DP-SGD gradient hook, when the run trains with ``training.dp``."""
        if train.dp is not None:
            self.dp = DPSGD(train.dp, np.random.default_rng([train.seed, 2]))
            self.trainer.gradient_hook = self.dp
            self.random_sources.append(self.dp.rng)
        self.x_test = data.x_test.astype(self.network.dtype)
        self.test_targets = encode_targets(data.y_test, self.network)
        self.latest: Measurement | None = None
        """The measurements of the epoch just trained (None at epoch 0)."""
        self.noop_total = 0.0
        """Sum of every epoch's no-op share (for the mean over the whole run)."""
        self.underflow_total = 0
        """Gradient entries that underflowed, summed over every epoch."""
        self.last: EpochStats | None = None
        self.blowup: str | None = None
        """Where training first produced NaN or inf, with the epoch; None while all is finite."""

    @property
    def epoch(self) -> int:
        return self.trainer.epoch

    def frozen(self) -> Run:
        """A copy to read from another thread while this run trains on: a network of its own,
        the same data and settings. Not for training."""
        twin = copy.copy(self)
        twin.network = self.network.copy()
        twin.trainer = copy.copy(self.trainer)
        return twin

    def step(self) -> EpochStats:
        """Train one epoch and record its measurements.

        Overflow to inf and the NaN that follows are results here, counted and located in the
        epoch's statistics, so NumPy's warnings about them are silenced.
        """
        with np.errstate(all="ignore"):
            return self._step()

    def _step(self) -> EpochStats:
        stats = self.trainer.train_epoch()
        net = self.network
        # Full batch: the epoch's own forward pass gives the training accuracy for free.
        full_batch = self.trainer.batch_size is None and net.layers[-1].a is not None
        p_train = net.layers[-1].a if full_batch else net.predict(self.trainer.x)
        assert p_train is not None
        return self.record(stats, p_train)

    def record(self, stats: EpochStats, p_train: Array) -> EpochStats:
        """Take in an epoch just trained: its statistics, the training accuracy from the
        outputs ``p_train`` on the training points, and the test loss and accuracy.

        ``step`` calls it; a population (``engine.population``) calls it for its members.
        """
        net = self.network
        test_loss = test_accuracy = float("nan")
        if len(self.x_test):
            p_test = net.predict(self.x_test)
            test_loss = net.loss.value(p_test, self.test_targets)
            test_accuracy = accuracy(p_test, self.data.y_test)
        noop = stats.noop_updates / stats.updates
        self.latest = Measurement(
            train_loss=stats.train_loss,
            test_loss=test_loss,
            train_accuracy=accuracy(p_train, self.data.y_train),
            test_accuracy=test_accuracy,
            noop_share=noop,
            underflow=stats.underflow or 0,
            nonfinite=stats.nonfinite,
        )
        self.noop_total += noop
        self.underflow_total += stats.underflow or 0
        if stats.blowup and self.blowup is None:
            self.blowup = f"{stats.blowup} at epoch {stats.epoch}"
        self.last = stats
        return stats

    @property
    def noop_mean(self) -> float:
        """The no-op share averaged over every epoch so far (0 at epoch 0)."""
        return self.noop_total / self.epoch if self.epoch else 0.0

    # -- state -----------------------------------------------------------------------

    def state(self) -> RunState:
        """A copy of everything the next epoch depends on."""
        return RunState(
            train=self.train_config,
            data=self.data,
            params=self.network.flat_params.copy(),
            optimizer=self.optimizer.state(),
            trainer=self.trainer.state(),
            batch_size=self.train_config.batch_size,
            last=self.last,
            latest=self.latest,
            noop_total=self.noop_total,
            blowup=self.blowup,
            underflow_total=self.underflow_total,
            random=tuple(rng.bit_generator.state for rng in self.random_sources),
            dp_counts=None if self.dp is None else (self.dp.clipped, self.dp.examples),
        )

    def set_state(self, state: RunState) -> None:
        """Put the run back exactly as it was when ``state`` was taken."""
        if state.train != self.train_config:
            self.set_train_config(state.train)
        if state.data is not self.data:
            self.set_data(state.data)
        self.network.flat_params[...] = state.params
        self.optimizer.set_state(state.optimizer)
        self.trainer.set_state(state.trainer)
        self.last, self.latest = state.last, state.latest
        self.noop_total, self.blowup = state.noop_total, state.blowup
        self.underflow_total = state.underflow_total
        for rng, saved in zip(self.random_sources, state.random, strict=False):
            rng.bit_generator.state = saved
        if self.dp is not None and state.dp_counts is not None:
            self.dp.clipped, self.dp.examples = state.dp_counts

    def set_train_config(self, train: TrainConfig) -> None:
        """Train on with another learning rate, optimiser, penalty or batch size.

        The optimiser's state carries over when its kind stays the same (a new learning rate
        keeps the momentum); a new kind starts from zero velocity or moments. The dtype, the
        loss and the seed are not live settings and must not change here.
        """
        old = self.optimizer
        self.train_config = train
        self.optimizer = Optimizer(train, self.network.flat_params, self.network.is_weight)
        saved = old.state()
        if train.optimizer != old.config.optimizer:
            saved = {"master": saved["master"], "t": 0}
        self.optimizer.set_state(saved)
        self.trainer.optimizer = self.optimizer
        self._fit_batch_size()

    def sync_master(self) -> None:
        """After weights were changed by hand: float32 master weights take their values."""
        self.optimizer.sync_master()

    def set_data(self, data: Data) -> None:
        """Train on from now on with these points and labels (an edit of the data)."""
        self.data = data
        self.trainer.set_points(data.x_train, data.y_train)
        self.x_test = data.x_test.astype(self.network.dtype)
        self.test_targets = encode_targets(data.y_test, self.network)
        self._fit_batch_size()

    def _fit_batch_size(self) -> None:
        size = self.train_config.batch_size
        self.trainer.batch_size = size if size and size < len(self.trainer.x) else None

    def set_train_labels(self, y: Labels) -> None:
        """Train from now on with different labels for the same points (label poisoning)."""
        self.set_data(Data(self.data.x_train, y, self.data.x_test, self.data.y_test))

    def set_train_data(self, x: npt.NDArray[np.float64], y: Labels) -> None:
        """Train from now on on other points (a clean set to fine-tune on)."""
        self.data = Data(x, y, self.data.x_test, self.data.y_test)
        self.trainer.set_points(x, y)

    @property
    def steps_per_epoch(self) -> int:
        """Updates per epoch: one per batch."""
        size = self.trainer.batch_size
        n = len(self.trainer.x)
        return 1 if size is None else -(-n // size)

    def privacy_epsilon(self) -> float:
        """epsilon spent so far at ``training.dp.delta`` (NaN for a run without DP-SGD)."""
        dp = self.train_config.dp
        if dp is None:
            return float("nan")
        n = len(self.trainer.x)
        rate = 1.0 if self.trainer.batch_size is None else self.trainer.batch_size / n
        return epsilon(dp.noise_multiplier, rate, self.epoch * self.steps_per_epoch, dp.delta)

    def weights(self) -> list[tuple[Array, Array | None]]:
        """Copies of (weight, bias) per layer."""
        return [(w.copy(), None if b is None else b.copy()) for w, b in self.network.weights()]

    def weights_sha256(self) -> str:
        """Hash of every parameter's bytes in layer order: equal hashes mean identical weights."""
        return hashlib.sha256(self.network.flat_params.tobytes()).hexdigest()


def flip_labels(y: Labels, indices: npt.NDArray[np.int64], n_classes: int) -> Labels:
    """A copy of y with the labels at ``indices`` moved to the next class (0 <-> 1 for two)."""
    flipped = y.copy()
    flipped[indices] = (flipped[indices] + 1) % n_classes
    return flipped
