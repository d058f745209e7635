"""The XOR blog post's run, reproduced exactly."""

from __future__ import annotations

import numpy as np

from engine.config import DataConfig, InitConfig, ModelConfig, TrainConfig
from engine.run import Run, build_data

BLOG_OUTPUTS = [0.10125271, 0.92688325, 0.92005246, 0.05933504]


def xor_classic() -> Run:
    model = ModelConfig(
        hidden=(4,),
        activation="sigmoid",
        output="sigmoid",
        bias=False,
        init=InitConfig(weights="uniform", low=0.0, high=1.0, legacy=True),
    )
    train = TrainConfig(loss="squared_error_sum", learning_rate=0.1, epochs=10000, seed=42)
    return Run(build_data(DataConfig(kind="xor")), model, train)


def test_initial_weights_are_the_legacy_global_stream() -> None:
    run = xor_classic()
    legacy = np.random.RandomState(42)
    w0 = legacy.uniform(size=(2, 4))
    w1 = legacy.uniform(size=(4, 1))
    (a, _), (b, _) = run.network.weights()
    assert np.array_equal(a, w0) and np.array_equal(b, w1)


def test_blog_outputs_after_10000_epochs() -> None:
    run = xor_classic()
    for _ in range(10000):
        run.step()
    # The post prints the predictions of its last forward pass, made before the last update.
    last_forward = run.network.layers[-1].a
    assert last_forward is not None
    np.testing.assert_allclose(last_forward[:, 0], BLOG_OUTPUTS, atol=1e-6, rtol=0)
    assert run.latest is not None and run.latest.train_accuracy == 1.0
