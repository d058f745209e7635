"""Microseconds per epoch: K members in one population against K separate engine runs.

The workload is the stress-test baseline of benchmarks/engine_speed.py: a 2-10-1 ReLU/sigmoid
network on 250 two-moons points, full batch, binary cross-entropy, plain SGD, float64; member k
starts from seed k. The separate runs train the same K models one after another each epoch, as
lock-step twins do: ``Trainer.train_epoch`` (the same work as ``Population.step``: forward,
loss, backward, update and counters), and ``Run.step`` (plus the history and test metrics a Run
records every epoch). Run: python benchmarks/population_speed.py [--epochs N] [--repeats R]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from engine.config import DataConfig, ModelConfig, TrainConfig
from engine.population import Population
from engine.run import Run, build_data

SIZES = (1, 2, 4, 8, 16, 32)


def per_epoch(epochs: int, make_step: Callable[[], Callable[[], object]]) -> float:
    """Microseconds per epoch of one timed block, after a warm-up."""
    step = make_step()
    for _ in range(20):  # warm caches and allocator before timing
        step()
    start = time.perf_counter()
    for _ in range(epochs):
        step()
    return (time.perf_counter() - start) / epochs * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Many short blocks rather than a few long ones: on a shared machine the best block is the
    # one least disturbed by other processes.
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    data = build_data(DataConfig(kind="moons", samples=250, noise=0.1, test_fraction=0.0, seed=0))
    model = ModelConfig(hidden=(10,), activation="relu", output="sigmoid")
    train = TrainConfig(loss="binary_cross_entropy", learning_rate=0.5, seed=0)

    def population(k: int) -> Callable[[], object]:
        return Population.from_seeds(data, model, train, range(k)).step

    def separate(k: int, method: str) -> Callable[[], None]:
        runs = [Run(data, model, train.model_copy(update={"seed": s})) for s in range(k)]
        steps = [r.trainer.train_epoch if method == "trainer" else r.step for r in runs]

        def step() -> None:
            for one in steps:
                one()

        return step

    contenders = {
        (k, name): make
        for k in SIZES
        for name, make in (
            ("population", lambda k=k: population(k)),
            ("trainer", lambda k=k: separate(k, "trainer")),
            ("run", lambda k=k: separate(k, "run")),
        )
    }
    # Rounds interleave the contenders, so a slow spell of the machine hits all of them.
    best = dict.fromkeys(contenders, float("inf"))
    with np.errstate(all="ignore"):
        for _ in range(args.repeats):
            for key, make in contenders.items():
                best[key] = min(best[key], per_epoch(args.epochs, make))

    print(f"2-10-1 ReLU/sigmoid, {len(data.x_train)} moons points, full batch, BCE, SGD, float64")
    print("us per epoch of all K models; ratio = population / K separate runs")
    header = f"{'K':>3} {'population':>11} {'K x train_epoch':>16} {'ratio':>6}"
    print(f"{header} {'K x Run.step':>13} {'ratio':>6} {'us/member':>10}")
    for k in SIZES:
        pop, trainer, run = best[k, "population"], best[k, "trainer"], best[k, "run"]
        print(
            f"{k:>3} {pop:11.1f} {trainer:16.1f} {pop / trainer:6.2f} "
            f"{run:13.1f} {pop / run:6.2f} {pop / k:10.1f}"
        )


if __name__ == "__main__":
    main()
