"""Weight initialisers, all drawing from an explicit, seeded random source.

A ``np.random.Generator`` is the default. ``legacy`` runs draw from
``np.random.RandomState(seed)`` in layer order (every layer's weights, first layer first), so a
script written against the old global ``np.random.seed`` API is reproduced bit for bit.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.config import InitConfig

RandomSource = np.random.Generator | np.random.RandomState


def init_weight(
    config: InitConfig, n_in: int, n_out: int, rng: RandomSource
) -> npt.NDArray[np.float64]:
    """Draw one (n_in, n_out) weight matrix in float64.

    Args:
        config: Which initialiser and its parameters.
        n_in: Fan-in (rows).
        n_out: Fan-out (columns).
        rng: The run's random source; legacy runs pass a RandomState.

    Returns:
        The weight matrix, float64 (the run casts it to its dtype once).
    """
    shape = (n_in, n_out)
    match config.weights:
        case "uniform":
            return rng.uniform(config.low, config.high, size=shape)
        case "normal":
            return rng.normal(0.0, config.std, size=shape)
        case "he":
            return rng.normal(0.0, np.sqrt(2.0 / n_in), size=shape)
        case "glorot":
            limit = np.sqrt(6.0 / (n_in + n_out))
            return rng.uniform(-limit, limit, size=shape)
        case "zeros":
            return np.zeros(shape)
    raise ValueError(f"unknown initialiser {config.weights!r}")


def init_bias(config: InitConfig, n_out: int) -> npt.NDArray[np.float64]:
    """A constant bias vector of length n_out."""
    return np.full(n_out, config.bias, dtype=np.float64)


def random_source(config: InitConfig, seed: int) -> RandomSource:
    """The random source the initial weights are drawn from."""
    if config.legacy:
        return np.random.RandomState(seed)
    return np.random.default_rng(seed)
