"""Gradient leakage: what one shared gradient says about the inputs it was computed on.

In federated learning a client sends the gradient of its loss on its own data, never the
data. For a first layer with a bias, one example's gradient is dL/dW0[:, j] = x * dL/dz_j and
dL/db0[j] = dL/dz_j, so any row ratio gives x back exactly, and the sign pattern of the output
bias's gradient gives the label (Phong et al., 2017; Geiping et al., 2020). For a batch each
ratio is a weighted mixture of the batch's inputs; a unit active for one example only returns
that example. The general attack needs no bias: find inputs whose gradient matches the shared
one (Deep Leakage from Gradients, Zhu et al., 2019), here by a Nelder-Mead search, since the
engine has no automatic second derivatives to follow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.attacks.gradients import parameter_gradient
from engine.network import Network
from engine.training import encode_targets

Floats = npt.NDArray[np.float64]
Gradient = list[tuple[npt.NDArray[np.floating], npt.NDArray[np.floating] | None]]


def flatten(gradient: Gradient) -> Floats:
    """Every entry of a layer-by-layer gradient, weights then bias, as one float64 vector."""
    parts = [a.astype(np.float64).ravel() for pair in gradient for a in pair if a is not None]
    return np.concatenate(parts)


def shared_gradient(network: Network, x: Floats, y: npt.NDArray[np.int64]) -> Gradient:
    """The gradient a client computes on its batch (x, y) and sends."""
    return parameter_gradient(network, x.astype(network.dtype), encode_targets(y, network))


def defend(gradient: Gradient, clip: float, sigma: float, rng: np.random.Generator) -> Gradient:
    """The gradient clipped to norm ``clip`` with N(0, (sigma * clip)^2) noise on every entry."""
    norm = float(np.linalg.norm(flatten(gradient)))
    factor = min(1.0, clip / norm) if norm > 0 else 1.0
    out: Gradient = []
    for w, b in gradient:
        noisy_w = w.astype(np.float64) * factor + rng.normal(0, sigma * clip, size=w.shape)
        noisy_b = (
            None
            if b is None
            else b.astype(np.float64) * factor + rng.normal(0, sigma * clip, b.shape)
        )
        out.append((noisy_w, noisy_b))
    return out


@dataclass(frozen=True)
class Recovery:
    """What the first layer's gradient gives back."""

    points: Floats
    """(units, inputs) dW0[:, j] / db0[j] for every unit with a non-zero bias gradient."""
    best: Floats | None
    """The ratio of the unit with the largest |db0[j]| (the single-example answer)."""
    label: int | None
    """The label read from the output bias's gradient (sigmoid: its sign; softmax: the
    negative entry), or None without an output bias."""


def recover(gradient: Gradient) -> Recovery:
    """Read the inputs and the label off a shared gradient (first layer with a bias)."""
    w0, b0 = gradient[0]
    b_out = gradient[-1][1]
    if b0 is None:
        return Recovery(np.zeros((0, w0.shape[0])), None, None)
    w0, b0 = w0.astype(np.float64), b0.astype(np.float64)
    used = np.flatnonzero(b0 != 0)
    points = (w0[:, used] / b0[used]).T
    best = points[np.argmax(np.abs(b0[used]))] if len(used) else None
    label = None
    if b_out is not None:
        b = b_out.astype(np.float64)
        # sigmoid + cross-entropy: dL/db = p - y, negative exactly when y = 1.
        label = int(b[0] < 0) if len(b) == 1 else int(np.argmin(b))
    return Recovery(points, best, label)


def gradient_match(
    network: Network,
    target: Floats,
    y: npt.NDArray[np.int64],
    *,
    starts: Floats,
    evaluations: int,
) -> tuple[Floats, float]:
    """DLG-style: the inputs (one per label in ``y``) whose gradient is nearest ``target``.

    Minimises |g(x') - target|^2 over the batch's inputs x' (labels given) with Nelder-Mead
    from each start; keeps the best.

    Args:
        network: The shared model.
        target: The shared gradient, flattened.
        y: The labels of the batch (the attacker reads or guesses them).
        starts: (restarts, k * inputs) starting points.
        evaluations: Objective evaluations allowed per start.

    Returns:
        ((k, inputs) recovered inputs, the objective there).
    """
    from scipy.optimize import minimize  # imported here: SciPy costs a second at start-up

    k = len(y)
    targets = encode_targets(y, network)
    dims = starts.shape[1] // k
    scale = max(float(np.dot(target, target)), 1e-300)

    def distance(flat: Floats) -> float:
        g = parameter_gradient(network, flat.reshape(k, dims).astype(network.dtype), targets)
        diff = flatten(g) - target
        return float(np.dot(diff, diff)) / scale

    best, value = starts[0], np.inf
    with np.errstate(all="ignore"):
        for start in starts:
            found = minimize(
                distance,
                start,
                method="Nelder-Mead",
                options={"maxfev": evaluations, "xatol": 1e-10, "fatol": 1e-20},
            )
            if found.fun < value:
                best, value = found.x, float(found.fun)
    return np.asarray(best, dtype=np.float64).reshape(k, dims), value


def matched_error(real: Floats, found: Floats) -> float:
    """Mean distance from each real input to the recovered one nearest it."""
    distance = np.linalg.norm(real[:, None, :] - found[None, :, :], axis=2)
    return float(distance.min(axis=1).mean())
