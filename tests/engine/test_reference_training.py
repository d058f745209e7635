"""Training checked against a plain loop written here, independently of the engine's code.

The loop below is the documented maths written out (docs/scenarios.md, "Training"): a 2-3-1
tanh/sigmoid network, binary cross-entropy averaged over each batch, mini-batches in an order
drawn from the seeded generator every epoch (the last batch may be smaller), penalties
``l2 * W + l1 * sign(W)`` added to the weights' gradients (biases untouched) at every batch and
left out of the reported loss, and the three update rules:

- sgd:       p -= lr * g
- momentum:  v = mu * v + g;  p -= lr * v
- adam:      m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= lr * m^ / (sqrt(v^) + eps)
             with m^ = m / (1 - b1^t), v^ = v / (1 - b2^t), t counting updates

The reported epoch loss is the mean over the epoch's points of the loss before each batch's
update: batch means weighted by batch size.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from engine.config import DataConfig, InitConfig, ModelConfig, TrainConfig
from engine.run import Run, build_data

Floats = npt.NDArray[np.float64]
DATA = DataConfig(kind="blobs", samples=10, std=0.8, test_fraction=0.0, seed=3)
MODEL = ModelConfig(
    hidden=(3,), activation="tanh", output="sigmoid", init=InitConfig(weights="normal", std=0.7)
)
EPOCHS = 5


def reference(
    params: list[Floats],
    x: Floats,
    y: Floats,
    config: TrainConfig,
    rng: np.random.Generator | None,
) -> tuple[list[Floats], list[list[tuple[float, int]]]]:
    """Train ``params`` = [W1, b1, W2, b2] for EPOCHS epochs.

    ``rng`` draws each epoch's order (None: the points in their stored order).

    Returns:
        The parameters, and per epoch the (mean loss, size) of each batch before its update.
    """
    w1, b1, w2, b2 = (p.copy() for p in params)
    n = len(x)
    size = config.batch_size or n
    state = {name: [np.zeros_like(p) for p in (w1, b1, w2, b2)] for name in ("v", "m", "s")}
    t = 0
    epochs = []
    for _ in range(EPOCHS):
        order = rng.permutation(n) if (rng is not None and size < n) else np.arange(n)
        batches = []
        for start in range(0, n, size):
            idx = order[start : start + size]
            xb, yb = x[idx], y[idx]
            a1 = np.tanh(xb @ w1 + b1)
            p = 1.0 / (1.0 + np.exp(-(a1 @ w2 + b2)))
            batches.append((float(-np.mean(yb * np.log(p) + (1 - yb) * np.log(1 - p))), len(idx)))
            dz2 = (p - yb) / len(idx)
            dz1 = (dz2 @ w2.T) * (1 - a1**2)
            grads = [xb.T @ dz1, dz1.sum(axis=0), a1.T @ dz2, dz2.sum(axis=0)]
            for i in (0, 2):  # weights only
                w = (w1, b1, w2, b2)[i]
                grads[i] = grads[i] + config.l2 * w + config.l1 * np.sign(w)
            t += 1
            for i, (p_, g) in enumerate(zip((w1, b1, w2, b2), grads, strict=True)):
                if config.optimizer == "sgd":
                    step = config.learning_rate * g
                elif config.optimizer == "momentum":
                    state["v"][i] = config.momentum * state["v"][i] + g
                    step = config.learning_rate * state["v"][i]
                else:
                    m = state["m"][i] = config.beta1 * state["m"][i] + (1 - config.beta1) * g
                    s = state["s"][i] = config.beta2 * state["s"][i] + (1 - config.beta2) * g * g
                    m_hat = m / (1 - config.beta1**t)
                    s_hat = s / (1 - config.beta2**t)
                    step = config.learning_rate * m_hat / (np.sqrt(s_hat) + config.adam_eps)
                p_ -= step
        epochs.append(batches)
    return [w1, b1, w2, b2], epochs


def weighted(batches: list[tuple[float, int]]) -> float:
    """The epoch's loss: batch means weighted by batch size."""
    return sum(mean * size for mean, size in batches) / sum(size for _, size in batches)


def engine_run(config: TrainConfig) -> tuple[Run, list[Floats], np.random.Generator]:
    """A run, its initial parameters, and a copy of its batch generator as it starts."""
    run = Run(build_data(DATA), MODEL, config)
    params = [a.copy() for layer in run.network.weights() for a in layer if a is not None]
    rng = np.random.default_rng()
    rng.bit_generator.state = run.trainer.batch_rng.bit_generator.state
    return run, params, rng


CASES = {
    "sgd full batch, l2": TrainConfig(learning_rate=0.5, l2=0.05),
    "sgd mini-batches": TrainConfig(learning_rate=0.5, batch_size=4, seed=7),
    "momentum mini-batches, l1": TrainConfig(
        optimizer="momentum", learning_rate=0.2, momentum=0.8, batch_size=4, l1=0.01, seed=7
    ),
    "adam mini-batches, l1 and l2": TrainConfig(
        optimizer="adam", learning_rate=0.05, batch_size=3, l1=0.01, l2=0.02, seed=11
    ),
    "adam full batch": TrainConfig(optimizer="adam", learning_rate=0.05),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_engine_matches_the_plain_loop(name: str) -> None:
    config = CASES[name]
    run, start, rng = engine_run(config)
    x, y = run.trainer.x.astype(np.float64), run.data.y_train.astype(np.float64)[:, None]
    want, history = reference(start, x, y, config, rng)
    want_losses = [weighted(batches) for batches in history]
    losses = []
    for _ in range(EPOCHS):
        run.step()
        assert run.latest is not None
        losses.append(run.latest.train_loss)
    got = [a for layer in run.network.weights() for a in layer if a is not None]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-10)


def test_batches_are_shuffled_every_epoch_from_the_seed() -> None:
    """Negative control: without the shuffle the plain loop lands elsewhere, so the test above
    tells a shuffled engine from one that keeps the stored order."""
    config = CASES["sgd mini-batches"]
    run, start, _ = engine_run(config)
    x, y = run.trainer.x.astype(np.float64), run.data.y_train.astype(np.float64)[:, None]
    unshuffled, _ = reference(start, x, y, config, None)
    for _ in range(EPOCHS):
        run.step()
    got = [a for layer in run.network.weights() for a in layer if a is not None]
    assert not all(np.allclose(g, w) for g, w in zip(got, unshuffled, strict=True))
    other = engine_run(config.model_copy(update={"seed": 8}))[2]
    assert not np.array_equal(other.permutation(10), engine_run(config)[2].permutation(10))


def test_the_epoch_loss_weights_batches_by_their_size() -> None:
    """Batches of 4, 4 and 2: the plain mean of the three batch means is another number, and
    the engine reports the weighted one."""
    config = CASES["sgd mini-batches"]
    run, start, rng = engine_run(config)
    x, y = run.trainer.x.astype(np.float64), run.data.y_train.astype(np.float64)[:, None]
    _, history = reference(start, x, y, config, rng)
    batches = history[0]
    assert [size for _, size in batches] == [4, 4, 2]
    unweighted = sum(mean for mean, _ in batches) / len(batches)
    assert abs(unweighted - weighted(batches)) > 1e-3
    run.step()
    assert run.latest is not None
    assert run.latest.train_loss == pytest.approx(weighted(batches), rel=1e-12)
