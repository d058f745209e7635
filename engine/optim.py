"""Update rules: plain SGD, SGD with momentum, Adam; L1/L2 penalties; precision counters.

The optimiser works on the network's flat parameter and gradient vectors, so one update is one
vector operation. All arithmetic runs in the parameters' dtype. With ``master_weights`` a
float16 network keeps a float32 copy of its parameters: the float16 gradients are widened
explicitly, the update lands on the float32 copy, and the float16 weights are re-rounded from
it, so steps too small for float16 still accumulate.

The vectors may carry a leading axis of K stacked models, ``(K, P)``: every rule is element-wise,
and the counters are then counted per model.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from engine.arrays import constant
from engine.config import TrainConfig

Array = npt.NDArray[np.floating]
Counts = npt.NDArray[np.intp]


class Optimizer:
    """Applies one update to a flat parameter vector and counts what it did."""

    def __init__(self, config: TrainConfig, params: Array, is_weight: npt.NDArray[np.bool_]):
        self.config = config
        self.params = params
        self.master: Array | None = params.astype(np.float32) if config.master_weights else None
        target = self.master if self.master is not None else params
        self.dtype = target.dtype
        scalar = self.dtype.type
        self.lr = constant(scalar(config.learning_rate), self.dtype)
        self._zero = constant(0.0, self.dtype)
        self.weight_mask = is_weight.astype(self.dtype)
        self.l1 = scalar(config.l1)
        self.l2 = scalar(config.l2)
        self._penalties = bool(config.l1 or config.l2)
        self.velocity = np.zeros_like(target) if config.optimizer == "momentum" else None
        self.m = np.zeros_like(target) if config.optimizer == "adam" else None
        self.v = np.zeros_like(target) if config.optimizer == "adam" else None
        self.t = 0
        self._step_buffer = np.empty_like(target)
        self._new = np.empty_like(target)
        # [unchanged | moved]: new == old, then step != 0, so that one count serves both.
        self._flags = np.empty((*target.shape[:-1], 2 * target.shape[-1]), dtype=bool)
        self._unchanged = self._flags[..., : target.shape[-1]]
        self._moved = self._flags[..., target.shape[-1] :]
        self._all_params = params.reshape(-1)
        self._ones = np.ones(params.size, dtype=params.dtype)
        self.finite: bool = True
        """Whether every parameter was finite after the last step."""
        self._target = target
        rule = {"momentum": self._momentum_step, "adam": self._adam_step}
        self._step = rule.get(config.optimizer, self._sgd_step)
        self.last_step: Array | None = None
        """The step of the last update (what was subtracted; a buffer the next step reuses)."""

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
        if not self._penalties:
            return grad
        w = self.master if self.master is not None else self.params
        extra = self.l2 * w + self.l1 * np.sign(w)
        return grad + extra * self.weight_mask

    def step(self, grad: Array) -> int | Counts:
        """Update the parameters in place from ``grad``.

        Args:
            grad: The flat gradient, in the network's dtype.

        Returns:
            The number of no-op updates: entries whose step was non-zero but left the stored
            value unchanged because it was smaller than half a unit in the last place. One
            count per model for stacked models.
        """
        target = self._target
        if self.master is not None:
            grad = grad.astype(np.float32)  # the explicit widening that master weights mean
        step = self._step(self.penalised(grad) if self._penalties else grad)
        self.last_step = step
        new = np.subtract(target, step, out=self._new)
        unchanged = np.equal(new, target, out=self._unchanged)
        target[...] = new
        if self.master is not None:
            self.params[...] = self.master  # round the master copy back to float16
        # A sum is finite when every term is; only when it is not (or overflows) is each
        # value checked.
        self.finite = math.isfinite(np.dot(self._all_params, self._ones)) or bool(
            np.isfinite(self.params).all()
        )
        if self.finite and self.params.ndim == 1:
            # With every value finite, an entry is unchanged exactly when its step was zero or
            # a no-op, so unchanged + moved - all counts the no-ops.
            np.not_equal(step, self._zero, out=self._moved)
            return int(np.count_nonzero(self._flags)) - step.size
        # Per model, and exact with NaN (never equal to itself, so never a no-op);
        # logical_and takes a NaN step as non-zero.
        moved_in_vain = np.logical_and(unchanged, step, out=unchanged)
        if self.params.ndim == 1:
            return int(np.count_nonzero(moved_in_vain))
        return np.add.reduce(moved_in_vain, axis=-1, dtype=np.intp)

    def _sgd_step(self, grad: Array) -> Array:
        return np.multiply(self.lr, grad, out=self._step_buffer)

    def _momentum_step(self, grad: Array) -> Array:  # classical: v = mu v + g; step = lr v
        assert self.velocity is not None
        self.velocity *= self.dtype.type(self.config.momentum)
        self.velocity += grad
        return np.multiply(self.lr, self.velocity, out=self._step_buffer)

    def _adam_step(self, grad: Array) -> Array:
        assert self.m is not None and self.v is not None
        c = self.config
        self.t += 1
        one = self.dtype.type(1)
        b1, b2 = self.dtype.type(c.beta1), self.dtype.type(c.beta2)
        self.m *= b1
        self.m += (one - b1) * grad
        self.v *= b2
        self.v += (one - b2) * grad * grad
        m_hat = self.m / (one - b1**self.t)
        v_hat = self.v / (one - b2**self.t)
        return self.lr * m_hat / (np.sqrt(v_hat) + self.dtype.type(c.adam_eps))
