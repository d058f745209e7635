"""DP-SGD: per-example gradients, clipped to a norm and blurred with Gaussian noise.

A dense layer's gradient for one example is the outer product of its input row and its
dL/dz row, so its Frobenius norm is ``|x_i| * |dz_i|`` and no per-example gradient has to be
built to clip it (Goodfellow, 2015). Clipping example i by a factor f_i is then the batch
gradient with row i of dL/dz scaled by f_i: ``x.T @ (f * dz)``. Noise N(0, (sigma C)^2) goes
on the sum of the clipped gradients, before it is divided by the batch size (Abadi et al.,
2016). When no example is clipped and sigma is 0, nothing is rewritten at all, so the run is
plain gradient descent byte for byte.

The privacy budget epsilon is computed by Google's ``dp-accounting`` library (Renyi DP
accountant), not by a formula here.
"""

from __future__ import annotations

import functools
import importlib
import logging
import math
import threading

import numpy as np
import numpy.typing as npt

from engine.config import DPConfig
from engine.network import Network

Array = npt.NDArray[np.floating]


def loss_scale(network: Network, n: int) -> int:
    """What the stored gradients are divided by: n for a mean loss, 1 for a summed one."""
    return 1 if network.loss.summed else n


def per_example_norms(network: Network) -> npt.NDArray[np.float64]:
    """|g_i| for every example of the last backward pass (g_i: its own loss's gradient).

    Uses the layers' kept inputs and dL/dz: |outer(x_i, dz_i)|^2 = |x_i|^2 |dz_i|^2, plus
    |dz_i|^2 for a bias.
    """
    first = network.layers[0]
    assert first.x is not None
    n = len(first.x)
    squares = np.zeros(n)
    for layer in network.layers:
        assert layer.x is not None and layer.grad_z is not None
        x = layer.x.astype(np.float64)
        dz = layer.grad_z.astype(np.float64)
        dz2 = np.einsum("ij,ij->i", dz, dz)
        squares += np.einsum("ij,ij->i", x, x) * dz2
        if layer.bias is not None:
            squares += dz2
    return np.sqrt(squares) * loss_scale(network, n)


def per_example_gradients(network: Network) -> npt.NDArray[np.float64]:
    """(n, parameters): row i is example i's own gradient, in ``flat_params`` order.

    Built explicitly (the outer products), for display and to check the norm shortcut.
    """
    first = network.layers[0]
    assert first.x is not None
    n = len(first.x)
    blocks = []
    for layer in network.layers:
        assert layer.x is not None and layer.grad_z is not None
        dz = layer.grad_z.astype(np.float64)
        blocks.append(np.einsum("ni,nj->nij", layer.x.astype(np.float64), dz).reshape(n, -1))
        if layer.bias is not None:
            blocks.append(dz)
    return np.concatenate(blocks, axis=1) * loss_scale(network, n)


class DPSGD:
    """A ``Trainer.gradient_hook``: clip each example's gradient, add noise to the sum.

    Args:
        config: clip C, noise multiplier sigma.
        rng: The noise's own seeded generator.
    """

    def __init__(self, config: DPConfig, rng: np.random.Generator) -> None:
        self.config = config
        self.rng = rng
        self.clipped = 0
        """Examples whose gradient was clipped, over all batches so far."""
        self.examples = 0
        """Examples seen, over all batches so far."""

    def __call__(self, network: Network) -> None:
        norms = per_example_norms(network)
        clip = self.config.clip
        factors = np.minimum(1.0, clip / np.maximum(norms, np.finfo(np.float64).tiny))
        self.examples += len(norms)
        clipped = factors < 1
        self.clipped += int(np.count_nonzero(clipped))
        if clipped.any():
            f = factors.astype(network.dtype)[:, None]
            for layer in network.layers:
                assert layer.x is not None and layer.grad_z is not None
                scaled = layer.grad_z * f
                np.matmul(layer.x.T, scaled, out=layer.grad_weight)
                if layer.grad_bias is not None:
                    np.add.reduce(scaled, axis=0, out=layer.grad_bias)
        sigma = self.config.noise_multiplier
        if sigma > 0:
            n = len(norms)
            noise = self.rng.normal(0.0, sigma * clip, size=network.flat_grads.shape)
            network.flat_grads += (noise / loss_scale(network, n)).astype(network.dtype)

    @property
    def clipped_share(self) -> float:
        """Share of example gradients clipped so far (NaN before the first batch)."""
        return self.clipped / self.examples if self.examples else float("nan")


ACCOUNTANT = "dp_accounting.rdp.rdp_privacy_accountant"
"""The module ``epsilon`` computes with. It pulls in SciPy: about a second to import."""


@functools.cache
def load_accountant_soon() -> threading.Thread:
    """Start importing the accountant in a thread of its own (once per process).

    The trainer calls this when it opens a scenario with a DP-SGD run. Otherwise the first
    ``epsilon`` after the first step imports it, in the interface thread and under the
    session's lock: a second-long freeze on the first Space.

    Returns:
        The importing thread (``join`` it to wait).
    """
    thread = threading.Thread(
        target=importlib.import_module, args=(ACCOUNTANT,), name="load dp-accounting", daemon=True
    )
    thread.start()
    return thread


@functools.lru_cache(maxsize=256)
def epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """The privacy budget epsilon at ``delta`` after ``steps`` noisy steps.

    Args:
        noise_multiplier: sigma (noise standard deviation / clip norm).
        sample_rate: Share of the training set in each step's batch (1 for full batch).
        steps: Updates made.
        delta: The delta of the (epsilon, delta) guarantee.

    Returns:
        epsilon from the Renyi DP accountant of ``dp-accounting``: inf without noise, 0 before
        any step. Below a sample rate of 1 the accountant assumes Poisson sampling at that
        rate (the usual approximation for shuffled mini-batches).
    """
    if steps <= 0:
        return 0.0
    if noise_multiplier <= 0:
        return math.inf
    # Imported here: the library pulls in SciPy, which costs a second at start-up.
    from dp_accounting import dp_event
    from dp_accounting.rdp import rdp_privacy_accountant

    logging.getLogger("absl").setLevel(logging.ERROR)  # its convergence chatter
    event: dp_event.DpEvent = dp_event.GaussianDpEvent(noise_multiplier)
    if sample_rate < 1:
        event = dp_event.PoissonSampledDpEvent(sample_rate, event)
    accountant = rdp_privacy_accountant.RdpAccountant()
    accountant.compose(event, steps)
    return float(accountant.get_epsilon(delta))
