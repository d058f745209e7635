"""Populations: K stacked models, each bit for bit the Run it would be on its own."""

from __future__ import annotations

import numpy as np
import pytest

from engine.config import DataConfig, InitConfig, ModelConfig, TrainConfig
from engine.network import Network, build_network, stack_networks
from engine.population import Population
from engine.run import Data, Run, build_data, flip_labels
from engine.training import encode_targets

MOONS = DataConfig(kind="moons", samples=60, noise=0.15, seed=4)
BLOBS = DataConfig(kind="blobs", centers=((0, 0), (2, 2), (0, 2)), samples=60, seed=1)


def member_weights(data: Data, model: ModelConfig, train: TrainConfig, k: int) -> list:
    return [
        build_network(model, train.loss, data.n_classes, 10 + s, train.dtype).weights()
        for s in range(k)
    ]


def poisoned(data: Data, k: int) -> list[np.ndarray]:
    """Every member's labels; member 1 sees some flipped (a poisoned twin)."""
    labels = [data.y_train.copy() for _ in range(k)]
    if k > 1:
        flips = np.arange(0, min(30, len(data.y_train)), 4)
        labels[1] = flip_labels(data.y_train, flips, data.n_classes)
    return labels


def assert_members_are_runs(
    model: ModelConfig,
    train: TrainConfig,
    data_config: DataConfig = MOONS,
    k: int = 3,
    epochs: int = 12,
) -> None:
    data = build_data(data_config)
    weights = member_weights(data, model, train, k)
    labels = poisoned(data, k)
    population = Population(data, model, train, weights, labels)
    runs = [Run(data, model, train, w) for w in weights]
    for run, y in zip(runs, labels, strict=True):
        run.set_train_labels(y)
    for _ in range(epochs):
        stats = population.step()
        for i, run in enumerate(runs):
            own = run.step()
            assert np.float64(own.train_loss).tobytes() == stats.train_loss[i].tobytes()
            assert own.noop_updates == stats.noop_updates[i]
            underflow = None if stats.underflow is None else int(stats.underflow[i])
            assert own.underflow == underflow
            assert (own.nonfinite, own.blowup) == (stats.nonfinite[i], stats.blowup[i])
    for i, run in enumerate(runs):
        assert population.params(i).tobytes() == run.network.flat_params.tobytes(), f"member {i}"


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_members_equal_separate_runs_for_each_optimizer_and_dtype(
    optimizer: str, dtype: str
) -> None:
    train = TrainConfig(
        optimizer=optimizer,  # type: ignore[arg-type]
        dtype=dtype,  # type: ignore[arg-type]
        learning_rate=0.05 if optimizer == "adam" else 0.3,
        adam_eps=1e-3,
        seed=2,
    )
    assert_members_are_runs(ModelConfig(hidden=(8,)), train)


@pytest.mark.parametrize(
    "train",
    [
        TrainConfig(dtype="float16", master_weights=True, learning_rate=0.3, seed=2),
        TrainConfig(l1=1e-3, l2=1e-2, batch_size=16, seed=2),
        TrainConfig(optimizer="adam", l2=1e-2, batch_size=7, learning_rate=0.02, seed=2),
        TrainConfig(batch_size=1, learning_rate=0.05, seed=2),
    ],
    ids=["float16-master", "l1-l2-minibatch", "adam-l2-minibatch", "batch-of-one"],
)
def test_members_equal_separate_runs_with_master_weights_penalties_and_batches(
    train: TrainConfig,
) -> None:
    assert_members_are_runs(ModelConfig(hidden=(6,)), train, epochs=8)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu", "linear"])
def test_members_equal_separate_runs_for_each_hidden_activation(activation: str) -> None:
    model = ModelConfig(hidden=(6, 5), activation=activation)  # type: ignore[arg-type]
    assert_members_are_runs(model, TrainConfig(optimizer="momentum", batch_size=16, seed=3))


@pytest.mark.parametrize(
    ("output", "loss", "dtype"),
    [
        ("softmax", "softmax_cross_entropy", "float64"),
        ("softmax", "softmax_cross_entropy", "float16"),
        ("softmax", "squared_error_mean", "float32"),
        ("linear", "squared_error_mean", "float64"),
        ("sigmoid", "squared_error_sum", "float32"),
    ],
)
def test_members_equal_separate_runs_for_each_output(output: str, loss: str, dtype: str) -> None:
    model = ModelConfig(hidden=(7,), activation="tanh", output=output)  # type: ignore[arg-type]
    train = TrainConfig(loss=loss, dtype=dtype, learning_rate=0.05, batch_size=20, seed=1)  # type: ignore[arg-type]
    assert_members_are_runs(model, train, BLOBS if output == "softmax" else MOONS)


def test_members_equal_separate_runs_without_biases_from_legacy_weights() -> None:
    model = ModelConfig(
        hidden=(4,),
        activation="sigmoid",
        bias=False,
        init=InitConfig(weights="uniform", legacy=True),
    )
    train = TrainConfig(loss="squared_error_sum", learning_rate=0.1, seed=42)
    assert_members_are_runs(model, train, DataConfig(kind="xor"), epochs=50)


def test_a_member_that_blows_up_is_counted_and_located_alone() -> None:
    model = ModelConfig(hidden=(8,), output="linear")
    train = TrainConfig(loss="squared_error_sum", learning_rate=20.0, seed=0)
    assert_members_are_runs(model, train, epochs=20)
    data = build_data(MOONS)
    weights = member_weights(data, model, train, 2)
    # Member 0 starts at zero and learns all-zero targets: its gradients stay zero.
    weights[0] = [(w * 0, None if b is None else b * 0) for w, b in weights[0]]
    labels = [np.zeros_like(data.y_train), data.y_train]
    population = Population(data, model, train, weights, labels)
    for _ in range(20):
        stats = population.step()
    assert stats.blowup[0] is None and stats.nonfinite[0] == 0
    assert stats.blowup[1] is not None and stats.nonfinite[1] > 0


def test_negative_control_a_one_ulp_difference_is_seen() -> None:
    """The comparison can tell: nudge one member's weight by one ulp and it no longer matches."""
    data = build_data(MOONS)
    model, train = ModelConfig(hidden=(8,)), TrainConfig(learning_rate=0.3, seed=2)
    weights = member_weights(data, model, train, 2)
    nudged = [(w.copy(), b) for w, b in weights[1]]
    nudged[0][0][0, 0] = np.nextafter(nudged[0][0][0, 0], np.inf)
    population = Population(data, model, train, [weights[0], nudged])
    run = Run(data, model, train, weights[1])
    for _ in range(5):
        population.step()
        run.step()
    assert population.params(1).tobytes() != run.network.flat_params.tobytes()


def test_labels_changed_mid_training_match_a_run_that_changes_them_too() -> None:
    data = build_data(MOONS)
    model, train = ModelConfig(hidden=(8,)), TrainConfig(learning_rate=0.3, seed=2)
    weights = member_weights(data, model, train, 2)
    population = Population(data, model, train, weights)
    run = Run(data, model, train, weights[1])
    flipped = flip_labels(data.y_train, np.array([3, 5, 8]), data.n_classes)
    for epoch in range(10):
        if epoch == 4:
            population.set_train_labels(1, flipped)
            run.set_train_labels(flipped)
        population.step()
        run.step()
    assert population.params(1).tobytes() == run.network.flat_params.tobytes()
    assert np.array_equal(population.train_labels[1], flipped)
    assert np.array_equal(population.train_labels[0], data.y_train)


def test_per_member_views_copies_and_predictions() -> None:
    data = build_data(BLOBS)
    model = ModelConfig(hidden=(5,), output="softmax")
    train = TrainConfig(loss="softmax_cross_entropy", seed=1)
    population = Population.from_seeds(data, model, train, [3, 4, 5, 6])
    runs = [Run(data, model, train.model_copy(update={"seed": s})) for s in [3, 4, 5, 6]]
    assert population.size == 4
    for _ in range(3):
        population.step()
        for run in runs:
            run.step()
    points = np.array([[0.3, -1.0], [2.5, 2.5], [10.0, -4.0]])
    predicted = population.predict(points)
    assert predicted.shape == (4, 3, 3)
    for i, run in enumerate(runs):
        assert predicted[i].tobytes() == run.network.predict(points).tobytes()
        single_point = population.predict(points[1:2])[i]
        assert single_point.tobytes() == run.network.predict(points[1:2]).tobytes()
        copies = population.weights(i)
        for (w, b), (rw, rb) in zip(copies, run.network.weights(), strict=True):
            assert np.array_equal(w, rw) and b is not None and np.array_equal(b, rb)
    copies[0][0][...] = 0.0  # a copy: the population is untouched
    assert np.any(population.network.layers[0].weight[3] != 0)
    view = population.params(2)
    view[0] = 123.0  # a view: the member's first weight changes
    assert population.network.layers[0].weight[2, 0, 0] == 123.0


def test_population_refuses_labels_of_the_wrong_shape() -> None:
    data = build_data(MOONS)
    model, train = ModelConfig(), TrainConfig()
    weights = member_weights(data, model, train, 2)
    with pytest.raises(ValueError, match="train_labels"):
        Population(data, model, train, weights, [data.y_train])


def stacked(activation: str, output: str, loss: str, k: int = 3) -> Network:
    model = ModelConfig(
        hidden=(5, 4),
        activation=activation,  # type: ignore[arg-type]
        output=output,  # type: ignore[arg-type]
        init=InitConfig(weights="normal", std=0.8, bias=0.1),
    )
    return stack_networks([build_network(model, loss, 3, seed) for seed in range(k)])


def max_relative_error_per_member(net: Network, x: np.ndarray, t: np.ndarray, eps: float) -> float:
    """Finite differences of each member's own loss against the stacked backward pass."""
    net.forward(x)
    net.backward(t)
    analytic = net.flat_grads.copy()
    numeric = np.empty_like(analytic)
    params = net.flat_params
    for k in range(params.shape[0]):
        for i in range(params.shape[1]):
            old = params[k, i]
            params[k, i] = old + eps
            up = net.loss.values(net.predict(x), t)[k]
            params[k, i] = old - eps
            down = net.loss.values(net.predict(x), t)[k]
            params[k, i] = old
            numeric[k, i] = (up - down) / (2 * eps)
    scale = np.maximum(1.0, np.abs(analytic) + np.abs(numeric))
    return float(np.max(np.abs(analytic - numeric) / scale))


@pytest.mark.parametrize(
    ("activation", "output", "loss"),
    [
        ("relu", "sigmoid", "binary_cross_entropy"),
        ("tanh", "softmax", "softmax_cross_entropy"),
        ("sigmoid", "linear", "squared_error_mean"),
    ],
)
def test_stacked_backprop_matches_finite_differences(
    activation: str, output: str, loss: str
) -> None:
    net = stacked(activation, output, loss)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 2))
    labels = rng.integers(0, 3 if output == "softmax" else 2, size=(3, 7))
    assert max_relative_error_per_member(net, x, encode_targets(labels, net), 1e-6) < 1e-6


def test_negative_control_stacked_gradient_check_fails_on_a_wrong_gradient() -> None:
    """The stacked check can tell: corrupt one member's gradient and it fails."""
    net = stacked("tanh", "sigmoid", "binary_cross_entropy")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 2))
    targets = encode_targets(rng.integers(0, 2, size=(3, 7)), net)
    backward = net.backward

    def wrong_backward(y: np.ndarray) -> None:
        backward(y)
        net.flat_grads[1] *= 1.5

    net.backward = wrong_backward  # type: ignore[method-assign]
    assert max_relative_error_per_member(net, x, targets, 1e-6) > 1e-2
