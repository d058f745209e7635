"""Update rules: plain SGD, SGD with momentum, Adam; L1/L2 penalties; precision counters.

The optimiser works on the network's flat parameter and gradient vectors, so one update is one
vector operation. All arithmetic runs in the parameters' dtype. With ``master_weights`` a
float16 network keeps a float32 copy of its parameters: the float16 gradients are widened
explicitly, the update lands on the float32 copy, and the float16 weights are re-rounded from
it, so steps too small for float16 still accumulate.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.config import TrainConfig

Array = npt.NDArray[np.floating]


class Optimizer:
    """Applies one update to a flat parameter vector and counts what it did."""

    def __init__(self, config: TrainConfig, params: Array, is_weight: npt.NDArray[np.bool_]):
        self.config = config
        self.params = params
        self.master: Array | None = params.astype(np.float32) if config.master_weights else None
        target = self.master if self.master is not None else params
        self.dtype = target.dtype
        scalar = self.dtype.type
        self.lr = scalar(config.learning_rate)
        self.weight_mask = is_weight.astype(self.dtype)
        self.l1 = scalar(config.l1)
        self.l2 = scalar(config.l2)
        self.velocity = np.zeros_like(target) if config.optimizer == "momentum" else None
        self.m = np.zeros_like(target) if config.optimizer == "adam" else None
        self.v = np.zeros_like(target) if config.optimizer == "adam" else None
        self.t = 0
        self.last_step: Array | None = None
        """The step of the last update (what was subtracted from the parameters)."""

    def state(self) -> dict[str, object]:
        """Copies of everything an update depends on besides the parameters themselves."""
        arrays = {"master": self.master, "velocity": self.velocity, "m": self.m, "v": self.v}
        state: dict[str, object] = {k: None if a is None else a.copy() for k, a in arrays.items()}
        state["t"] = self.t
        return state

    def set_state(self, state: dict[str, object]) -> None:
        """Restore a ``state()``; arrays this optimiser does not use are ignored."""
        for key in ("master", "velocity", "m", "v"):
            mine, saved = getattr(self, key), state.get(key)
            if mine is not None and isinstance(saved, np.ndarray):
                mine[...] = saved
        t = state.get("t", 0)
        self.t = t if isinstance(t, int) else 0

    def penalised(self, grad: Array) -> Array:
        """The gradient plus the L2 (l2 * W) and L1 (l1 * sign W) terms on weights only."""
        if not (self.l1 or self.l2):
            return grad
        w = self.master if self.master is not None else self.params
        extra = self.l2 * w + self.l1 * np.sign(w)
        return grad + extra * self.weight_mask

    def step(self, grad: Array) -> int:
        """Update the parameters in place from ``grad``.

        Args:
            grad: The flat gradient, in the network's dtype.

        Returns:
            The number of no-op updates: entries whose step was non-zero but left the stored
            value unchanged because it was smaller than half a unit in the last place.
        """
        if self.master is not None:
            grad = grad.astype(np.float32)  # the explicit widening that master weights mean
        step = self._step(self.penalised(grad))
        self.last_step = step
        target = self.master if self.master is not None else self.params
        new = target - step
        noop = np.count_nonzero((step != 0) & (new == target))
        target[...] = new
        if self.master is not None:
            self.params[...] = self.master  # round the master copy back to float16
        return int(noop)

    def _step(self, grad: Array) -> Array:
        c = self.config
        one = self.dtype.type(1)
        if self.velocity is not None:  # classical momentum: v = mu v + g; step = lr v
            self.velocity *= self.dtype.type(c.momentum)
            self.velocity += grad
            return self.lr * self.velocity
        if self.m is not None and self.v is not None:
            self.t += 1
            b1, b2 = self.dtype.type(c.beta1), self.dtype.type(c.beta2)
            self.m *= b1
            self.m += (one - b1) * grad
            self.v *= b2
            self.v += (one - b2) * grad * grad
            m_hat = self.m / (one - b1**self.t)
            v_hat = self.v / (one - b2**self.t)
            return self.lr * m_hat / (np.sqrt(v_hat) + self.dtype.type(c.adam_eps))
        return self.lr * grad
