"""Microseconds per epoch: the engine against NumPy loops of the same maths written by hand.

The workload is the stress-test baseline: a 2-10-1 ReLU/sigmoid network on 250 two-moons
points, full batch, binary cross-entropy, plain SGD, float64. Two independent loops set the
bar: a plain one, and one written for the fewest NumPy calls (at this size a call, not its
arithmetic, is the cost). PyTorch is timed too when it is installed.
Run: python benchmarks/engine_speed.py [--epochs N] [--repeats R]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from engine.config import DataConfig, ModelConfig, TrainConfig
from engine.run import Run, build_data


def best_of(repeats: int, epochs: int, make_step: Callable[[], Callable[[], object]]) -> float:
    """Best (least disturbed) microseconds per epoch over several timed blocks."""
    times = []
    for _ in range(repeats):
        step = make_step()
        for _ in range(50):  # warm caches and allocator before timing
            step()
        start = time.perf_counter()
        for _ in range(epochs):
            step()
        times.append((time.perf_counter() - start) / epochs * 1e6)
    return min(times)


def hand_loop(x: np.ndarray, y: np.ndarray, seed: int, lr: float) -> Callable[[], float]:
    """The same maths written out inline: forward, BCE, backward, SGD.

    It uses the same NumPy primitives the engine uses (ufunc reductions rather than the slower
    np.mean/np.sum wrappers), so the ratio measures the engine's structure, not its tricks.
    """
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0.0, np.sqrt(2.0 / 2), size=(2, 10))
    w2 = rng.normal(0.0, np.sqrt(2.0 / 10), size=(10, 1))
    b1, b2 = np.zeros(10), np.zeros(1)
    t = y.astype(np.float64).reshape(-1, 1)
    n = len(x)
    eps = np.finfo(np.float64).eps

    def step() -> float:
        nonlocal w1, w2, b1, b2
        z1 = x @ w1 + b1
        h = np.maximum(z1, 0)
        p = 1 / (1 + np.exp(-(h @ w2 + b2)))
        q = np.minimum(np.maximum(p, eps), 1 - eps)
        loss = float(-np.add.reduce(t * np.log(q) + (1 - t) * np.log(1 - q), axis=None) / n)
        dz2 = (p - t) / n
        dw2, db2 = h.T @ dz2, np.add.reduce(dz2, axis=0)
        dz1 = (dz2 @ w2.T) * (z1 > 0)
        dw1, db1 = x.T @ dz1, np.add.reduce(dz1, axis=0)
        w1, b1, w2, b2 = w1 - lr * dw1, b1 - lr * db1, w2 - lr * dw2, b2 - lr * db2
        return loss

    return step


def minimal_call_loop(x: np.ndarray, y: np.ndarray, seed: int, lr: float) -> Callable[[], float]:
    """The same maths in the fewest NumPy calls: 20 per epoch, every array allocated once.

    Each layer's bias is the last row of its weight block and its input carries a column of
    ones, so one product does z = x @ W + b and one does both gradients; batch arrays are
    column-major so that the ones column sits beside the activations, not inside them; the
    output delta gets a zero column so that BLAS, not a scalar loop, does the outer product
    dz2 @ w2.T; 1 / n is folded into the learning rate.
    """
    rng = np.random.default_rng(seed)
    n = len(x)
    params = np.zeros(3 * 10 + 11 * 1)
    grads = np.empty_like(params)
    step = np.empty_like(params)
    w1, w2 = params[:30].reshape(3, 10), params[30:].reshape(11, 1)
    g1, g2 = grads[:30].reshape(3, 10), grads[30:].reshape(11, 1)
    w1[:2] = rng.normal(0.0, np.sqrt(2.0 / 2), size=(2, 10))
    w2[:10] = rng.normal(0.0, np.sqrt(2.0 / 10), size=(10, 1))
    xa = np.ones((3, n)).T  # [x 1]
    xa[:, :2] = x
    ha = np.ones((11, n)).T  # [h 1]
    h = ha[:, :10]
    z1 = np.empty((10, n)).T
    dh = np.empty((10, n)).T
    relu_on = np.empty((10, n), dtype=bool).T
    d = np.zeros((2, n)).T  # [p - t, 0]
    delta = d[:, :1]
    w2_twice = np.empty((2, 10))
    p = np.empty((n, 1))
    q = np.empty((n, 1))
    t = y.astype(np.float64).reshape(-1, 1)
    ones = np.ones(n)
    eps = np.finfo(np.float64).eps
    scale = lr / n

    def step_fn() -> float:
        np.matmul(xa, w1, out=z1)
        np.maximum(z1, 0.0, out=h)
        np.matmul(ha, w2, out=p)
        np.negative(p, out=p)
        np.exp(p, out=p)
        np.add(p, 1.0, out=p)
        np.divide(1.0, p, out=p)  # sigmoid
        np.subtract(p, t, out=delta)  # n dL/dz2
        np.abs(delta, out=q)
        np.subtract(1.0, q, out=q)  # probability of the true class
        np.maximum(q, eps, out=q)
        np.log(q, out=q)
        loss = -float(ones @ q[:, 0]) / n
        np.matmul(ha.T, delta, out=g2)
        w2_twice[:] = w2[:10, 0]
        np.matmul(d, w2_twice, out=dh)
        np.greater(z1, 0.0, out=relu_on)
        np.multiply(dh, relu_on, out=dh)
        np.matmul(xa.T, dh, out=g1)
        np.multiply(grads, scale, out=step)
        np.subtract(params, step, out=params)
        return loss

    return step_fn


def torch_loop(x: np.ndarray, y: np.ndarray, lr: float) -> Callable[[], float] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 10), torch.nn.ReLU(), torch.nn.Linear(10, 1)
    ).double()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y.astype(np.float64).reshape(-1, 1))
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Many short blocks rather than a few long ones: on a shared machine the best block is the
    # one least disturbed by other processes.
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    data_config = DataConfig(kind="moons", samples=250, noise=0.1, test_fraction=0.0, seed=0)
    data = build_data(data_config)
    model = ModelConfig(hidden=(10,), activation="relu", output="sigmoid")
    train = TrainConfig(loss="binary_cross_entropy", learning_rate=0.5, seed=0)

    def engine_trainer() -> Callable[[], object]:
        return Run(data, model, train).trainer.train_epoch

    def engine_run() -> Callable[[], object]:
        return Run(data, model, train).step

    x, y = data.x_train, data.y_train
    contenders: list[tuple[str, Callable[[], Callable[[], object]]]] = [
        ("engine: Trainer.train_epoch", engine_trainer),
        ("engine: Run.step (+ history)", engine_run),
        ("hand-written NumPy loop", lambda: hand_loop(x, y, 0, 0.5)),
        ("minimal-call NumPy loop", lambda: minimal_call_loop(x, y, 0, 0.5)),
    ]
    step = torch_loop(x, y, 0.5)
    if step is not None:
        contenders.append(("PyTorch (1 thread)", lambda: step))
    # Rounds interleave the contenders, so a slow spell of the machine hits all of them.
    best = dict.fromkeys((name for name, _ in contenders), float("inf"))
    for _ in range(args.repeats):
        for name, make in contenders:
            best[name] = min(best[name], best_of(1, args.epochs, make))

    print(f"2-10-1 ReLU/sigmoid, {len(x)} moons points, full batch, BCE, SGD, float64")
    hand, minimal = best["hand-written NumPy loop"], best["minimal-call NumPy loop"]
    print(f"{'':32} {'us/epoch':>10} {'x hand loop':>12} {'x minimal':>10}")
    for name, micros in best.items():
        print(f"{name:32} {micros:10.1f} {micros / hand:12.2f} {micros / minimal:10.2f}")
    if step is None:
        print(f"{'PyTorch':32} {'skipped (not installed)':>34}")


if __name__ == "__main__":
    main()
