"""Microseconds per epoch: the engine against a hand-written NumPy loop of the same maths.

The workload is the stress-test baseline: a 2-10-1 ReLU/sigmoid network on 250 two-moons
points, full batch, binary cross-entropy, plain SGD, float64. PyTorch is timed too when it is
installed. Run: python benchmarks/engine_speed.py [--epochs N] [--repeats R]
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
        return float(loss)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    data_config = DataConfig(kind="moons", samples=250, noise=0.1, test_fraction=0.0, seed=0)
    data = build_data(data_config)
    model = ModelConfig(hidden=(10,), activation="relu", output="sigmoid")
    train = TrainConfig(loss="binary_cross_entropy", learning_rate=0.5, seed=0)

    def engine_trainer() -> Callable[[], object]:
        return Run(data, model, train).trainer.train_epoch

    def engine_run() -> Callable[[], object]:
        return Run(data, model, train).step

    rows = [
        ("engine: Trainer.train_epoch", best_of(args.repeats, args.epochs, engine_trainer)),
        ("engine: Run.step (+ history)", best_of(args.repeats, args.epochs, engine_run)),
    ]
    hand = best_of(args.repeats, args.epochs, lambda: hand_loop(data.x_train, data.y_train, 0, 0.5))
    rows.append(("hand-written NumPy loop", hand))
    step = torch_loop(data.x_train, data.y_train, 0.5)
    if step is not None:
        rows.append(("PyTorch (1 thread)", best_of(args.repeats, args.epochs, lambda: step)))

    print(f"2-10-1 ReLU/sigmoid, {len(data.x_train)} moons points, full batch, BCE, SGD, float64")
    print(f"{'':32} {'us/epoch':>10} {'x hand loop':>12}")
    for name, micros in rows:
        print(f"{name:32} {micros:10.1f} {micros / hand:12.2f}")


if __name__ == "__main__":
    main()
