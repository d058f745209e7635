"""Training behaviour: determinism, optimisers, penalties, precision and its counters."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from engine.activations import ReLU, Sigmoid
from engine.config import DataConfig, ModelConfig, TrainConfig
from engine.layers import Dense
from engine.losses import LOSSES
from engine.network import Network
from engine.optim import Optimizer
from engine.run import Measurement, Run, build_data
from engine.training import Trainer

MOONS = DataConfig(kind="moons", samples=120, noise=0.1, seed=4)


def trained(train: TrainConfig, epochs: int = 40, model: ModelConfig | None = None) -> Run:
    run, _ = measured(train, epochs, model)
    return run


def measured(
    train: TrainConfig, epochs: int = 40, model: ModelConfig | None = None
) -> tuple[Run, list[Measurement]]:
    """A run trained ``epochs`` epochs and the measurements of each epoch."""
    run = Run(build_data(MOONS), model or ModelConfig(), train)
    history = []
    for _ in range(epochs):
        run.step()
        assert run.latest is not None
        history.append(run.latest)
    return run, history


@pytest.mark.parametrize(
    "train",
    [
        TrainConfig(seed=5),
        TrainConfig(seed=5, optimizer="momentum", batch_size=16),
        TrainConfig(seed=5, optimizer="adam", learning_rate=0.01, batch_size=10, l2=1e-3),
        TrainConfig(seed=5, dtype="float16", master_weights=True),
    ],
    ids=["sgd", "momentum-minibatch", "adam-l2", "float16-master"],
)
def test_two_runs_give_byte_identical_weights(train: TrainConfig) -> None:
    (a, ha), (b, hb) = measured(train), measured(train)
    assert a.weights_sha256() == b.weights_sha256()
    assert [m.train_loss for m in ha] == [m.train_loss for m in hb]


def test_a_different_seed_gives_different_weights() -> None:
    assert (
        trained(TrainConfig(seed=5)).weights_sha256()
        != trained(TrainConfig(seed=6)).weights_sha256()
    )


def test_training_reduces_loss_and_learns_moons() -> None:
    _, history = measured(TrainConfig(learning_rate=0.5, seed=1), epochs=1500)
    assert history[-1].train_loss < 0.5 * history[0].train_loss
    assert history[-1].test_accuracy >= 0.9


def flat_optimizer(train: TrainConfig, params: list[float], weights: list[bool]) -> Optimizer:
    return Optimizer(train, np.array(params), np.array(weights))


def test_sgd_step_is_lr_times_gradient() -> None:
    opt = flat_optimizer(TrainConfig(learning_rate=0.5), [1.0, 2.0], [True, False])
    opt.step(np.array([0.2, -0.4]))
    assert opt.params.tolist() == [1.0 - 0.5 * 0.2, 2.0 + 0.5 * 0.4]


def test_momentum_accumulates_velocity() -> None:
    opt = flat_optimizer(
        TrainConfig(optimizer="momentum", learning_rate=0.1, momentum=0.5), [0.0], [True]
    )
    opt.step(np.array([1.0]))  # v = 1, w = -0.1
    opt.step(np.array([1.0]))  # v = 1.5, w = -0.25
    assert opt.params[0] == pytest.approx(-0.25, abs=1e-15)


def test_adam_first_step_has_size_lr() -> None:
    opt = flat_optimizer(
        TrainConfig(optimizer="adam", learning_rate=0.01), [0.0, 0.0], [True, True]
    )
    opt.step(np.array([3.0, -1e-3]))
    np.testing.assert_allclose(opt.params, [-0.01, 0.01], rtol=1e-4)


def test_penalties_apply_to_weights_not_biases() -> None:
    opt = flat_optimizer(TrainConfig(learning_rate=1.0, l2=0.1, l1=0.01), [2.0, 2.0], [True, False])
    opt.step(np.zeros(2))
    assert opt.params[0] == pytest.approx(2.0 - (0.1 * 2.0 + 0.01))
    assert opt.params[1] == 2.0


def test_float16_noop_updates_and_master_weights_fix() -> None:
    plain = Optimizer(
        TrainConfig(dtype="float16", learning_rate=1e-4),
        np.ones(1, dtype=np.float16),
        np.array([True]),
    )
    master = Optimizer(
        TrainConfig(dtype="float16", learning_rate=1e-4, master_weights=True),
        np.ones(1, dtype=np.float16),
        np.array([True]),
    )
    grad = np.ones(1, dtype=np.float16)
    noops = [plain.step(grad) for _ in range(20)]
    assert noops == [1] * 20 and plain.params[0] == 1.0  # 1 - 1e-4 rounds back to 1 in float16
    master_noops = [master.step(grad) for _ in range(20)]
    assert master_noops == [0] * 20
    assert master.params.dtype == np.float16 and master.params[0] < 1.0  # steps accumulated


def test_float16_arithmetic_stays_in_float16() -> None:
    run = Run(build_data(MOONS), ModelConfig(), TrainConfig(dtype="float16", seed=2))
    w0 = [(w.copy(), b.copy()) for w, b in run.network.weights()]  # type: ignore[union-attr]
    run.step()
    for layer in run.network.layers:
        for arr in (layer.x, layer.z, layer.a, layer.grad_z, layer.grad_weight, layer.weight):
            assert arr is not None and arr.dtype == np.float16
    # The same epoch written out in float16 by hand gives the same bits...
    x = run.data.x_train.astype(np.float16)
    t = run.data.y_train.astype(np.float16).reshape(-1, 1)
    (w1, b1), (w2, b2) = w0
    z1 = x @ w1
    z1 += b1
    h = np.maximum(z1, 0)
    z2 = h @ w2
    z2 += b2
    p = 1 / (1 + np.exp(-z2))
    dz2 = (p - t) / np.float16(len(x))
    dz1 = (dz2 @ w2.T) * (z1 > 0)
    grad_w1 = x.T @ dz1
    assert np.array_equal(run.network.layers[0].grad_weight, grad_w1)
    assert np.array_equal(run.network.layers[0].weight, w1 - np.float16(0.1) * grad_w1)
    # ...and differ from float64 arithmetic rounded at the end: nothing was silently widened.
    x64, t64 = run.data.x_train, t.astype(np.float64)
    z1_64 = x64 @ w1.astype(np.float64) + b1
    h64 = np.maximum(z1_64, 0)
    p64 = 1 / (1 + np.exp(-(h64 @ w2.astype(np.float64) + b2)))
    dz1_64 = ((p64 - t64) / len(x) @ w2.T.astype(np.float64)) * (z1_64 > 0)
    widened = (x64.T @ dz1_64).astype(np.float16)
    assert not np.array_equal(run.network.layers[0].grad_weight, widened)


def test_underflow_counted_against_float64_reference() -> None:
    # Inputs of 2e-7 times output deltas of 0.03 give weight gradients near 2e-8, below
    # float16's smallest subnormal (6e-8): they round to zero though the real product is not.
    w = np.full((2, 1), 0.5, dtype=np.float16)
    net = Network([Dense(w, None, Sigmoid())], LOSSES["squared_error_mean"])
    x = np.full((4, 2), 2e-7)
    y = np.array([0, 0, 0, 0])
    opt = Optimizer(TrainConfig(dtype="float16"), net.flat_params, net.is_weight)
    stats = Trainer(net, opt, x, y, None, np.random.default_rng(0)).train_epoch()
    assert stats.underflow == 2
    assert np.all(net.layers[0].grad_weight == 0)


def test_float64_runs_report_no_underflow_reference() -> None:
    assert trained(TrainConfig(), epochs=1).last.underflow is None  # type: ignore[union-attr]


def test_blowup_is_detected_and_located() -> None:
    model = ModelConfig(hidden=(8,), output="linear")
    run, history = measured(TrainConfig(loss="squared_error_sum", learning_rate=50.0), 30, model)
    assert run.blowup is not None and run.blowup.startswith("layer ")
    assert "at epoch" in run.blowup
    assert max(m.nonfinite for m in history) > 0


def test_relu_dead_units_get_zero_gradient() -> None:
    w = np.array([[1.0, -1.0]])
    layer = Dense(w.reshape(1, 2).copy(), None, ReLU())
    layer.forward(np.array([[2.0]]))
    layer.backward(np.array([[1.0, 1.0]]))
    assert layer.grad_weight.tolist() == [[2.0, 0.0]]


def test_engine_imports_no_terminal_library() -> None:
    code = (
        "import sys, engine.run, engine.io, engine.metrics, engine.datasets\n"
        "bad = [m for m in ('textual', 'rich', 'tui_nn', 'plotext') if m in sys.modules]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_saved_weight_file_follows_the_umask(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    from engine.io import save_weights

    run = trained(TrainConfig(), epochs=1)
    old = os.umask(0o022)
    try:
        save_weights(tmp_path / "w.safetensors", run.weights(), run.network.architecture())
    finally:
        os.umask(old)
    assert (tmp_path / "w.safetensors").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_predict_repeats_the_training_pass_bit_for_bit(dtype: str) -> None:
    model = ModelConfig(hidden=(6, 5), activation="tanh", output="softmax")
    train = TrainConfig(loss="softmax_cross_entropy", dtype=dtype, seed=3)  # type: ignore[arg-type]
    run = Run(build_data(DataConfig(kind="blobs", centers=((0, 0), (2, 2), (0, 2)))), model, train)
    run.network.forward(run.trainer.x)
    kept = [layer.a for layer in run.network.layers]
    predicted = run.network.predict_all(run.trainer.x)
    for a, p in zip(kept, predicted, strict=True):
        assert a is not None and a.tobytes() == p.tobytes()


def test_large_finite_float16_weights_are_not_a_blowup() -> None:
    """Their sum overflows float16, but every weight is finite: no NaN or inf to report."""
    run = trained(TrainConfig(dtype="float16", learning_rate=1e-3), epochs=1)
    run.network.flat_params[:] = np.float16(3000.0)
    stats = run.step()
    params = run.network.flat_params
    with np.errstate(over="ignore"):
        assert np.isfinite(params).all() and not np.isfinite(params.sum())  # 41 x 3000 > 65504
    assert (stats.nonfinite, stats.blowup) == (0, None)
