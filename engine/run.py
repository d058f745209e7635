"""One training run built from configuration: its data, network, optimiser and history."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine import datasets
from engine.config import DataConfig, ModelConfig, TrainConfig, data_path_problem
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
    return Data(*datasets.train_test_split(x, y, config.test_fraction, rng))


@dataclass
class History:
    """Per-epoch measurements, index 0 = epoch 1.

    Training loss and accuracy come from the epoch's own forward pass, made before its update
    (for mini-batches: the batch-weighted loss, and the accuracy after the epoch); test loss and
    accuracy are measured after the epoch's last update.
    """

    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    noop_share: list[float] = field(default_factory=list)
    underflow: list[int] = field(default_factory=list)
    nonfinite: list[int] = field(default_factory=list)


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
            model, train.loss, data.n_classes, train.seed, train.dtype
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
        self.x_test = data.x_test.astype(self.network.dtype)
        self.test_targets = encode_targets(data.y_test, self.network)
        self.history = History()
        self.last: EpochStats | None = None
        self.blowup: str | None = None
        """Where training first produced NaN or inf, with the epoch; None while all is finite."""

    @property
    def epoch(self) -> int:
        return self.trainer.epoch

    def step(self) -> EpochStats:
        """Train one epoch and record its measurements.

        Overflow to inf and the NaN that follows are results here, counted and located in the
        epoch's statistics, so NumPy's warnings about them are silenced.
        """
        with np.errstate(all="ignore"):
            return self._step()

    def _step(self) -> EpochStats:
        stats = self.trainer.train_epoch()
        h = self.history
        net = self.network
        h.train_loss.append(stats.train_loss)
        # Full batch: the epoch's own forward pass gives the training accuracy for free.
        full_batch = self.trainer.batch_size is None and net.layers[-1].a is not None
        p_train = net.layers[-1].a if full_batch else net.predict(self.trainer.x)
        assert p_train is not None
        h.train_accuracy.append(accuracy(p_train, self.data.y_train))
        if len(self.x_test):
            with np.errstate(all="ignore"):
                p_test = net.predict(self.x_test)
                h.test_loss.append(net.loss.value(p_test, self.test_targets))
            h.test_accuracy.append(accuracy(p_test, self.data.y_test))
        h.noop_share.append(stats.noop_updates / stats.updates)
        h.underflow.append(stats.underflow or 0)
        h.nonfinite.append(stats.nonfinite)
        if stats.blowup and self.blowup is None:
            self.blowup = f"{stats.blowup} at epoch {stats.epoch}"
        self.last = stats
        return stats

    def set_train_labels(self, y: Labels) -> None:
        """Train from now on with different labels for the same points (label poisoning)."""
        self.data = Data(self.data.x_train, y, self.data.x_test, self.data.y_test)
        self.trainer.targets = encode_targets(y, self.network)

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
