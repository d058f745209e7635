"""Array helpers shared by the layers, activations and losses."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.floating]


def batch_array(lead: tuple[int, ...], n: int, columns: int, dtype: npt.DTypeLike) -> Array:
    """An uninitialised ``(*lead, n, columns)`` array stored column by column for each model.

    Each stacked model's ``(n, columns)`` block is column-major (Fortran order) and laid out
    exactly as one model's own array is, with the same strides: BLAS may take another path,
    and sum in another order, for the same numbers at a different leading dimension.
    """
    return np.empty((*lead, columns, n), dtype=dtype).swapaxes(-1, -2)


def matmul_float16(a: Array, b: Array, out: Array) -> Array:
    """``a @ b`` for float16 arrays, written into ``out`` and returned.

    NumPy has no float16 BLAS routine: its float16 matmul converts each operand to float32,
    adds the float32 products and rounds each sum once to float16, one element at a time in a
    scalar loop, ten to forty times slower than the float32 routine at this size. This does the
    same arithmetic through the float32 routine: products of float16 numbers are exact in
    float32, and each sum is rounded once to float16 as before; only the order of the float32
    additions is BLAS's (the operands keep their layout, so a model's sums do not depend on the
    models stacked beside it, see ``batch_array``).
    """
    wide = np.matmul(a.astype(np.float32), b.astype(np.float32), out=np.empty_like(out, np.float32))
    np.copyto(out, wide, casting="same_kind")
    return out


def matmul_for(dtype: npt.DTypeLike) -> Callable[..., Array]:
    """The matrix product for arrays of ``dtype``: ``np.matmul``, or ``matmul_float16``
    (chosen once per layer, so other dtypes pay nothing for it)."""
    return matmul_float16 if np.dtype(dtype) == np.float16 else np.matmul


@lru_cache(maxsize=64)
def ones_vector(n: int, dtype: np.dtype) -> Array:
    """A read-only vector of n ones: ``v @ ones_vector`` sums the last axis of v."""
    ones = np.ones(n, dtype=dtype)
    ones.flags.writeable = False
    return ones


def row_sums(v: Array) -> Array:
    """Sums over the last axis, keeping it: ``(…, m, k) -> (…, m, 1)``.

    A matrix product with a column of ones rather than ``np.add.reduce``: the product sums
    each row with one BLAS routine whatever the leading axes, so a model's sums do not depend
    on how many models are stacked beside it (a reduction may pick a different order).
    """
    return np.matmul(v, ones_vector(v.shape[-1], v.dtype).reshape(-1, 1))


@lru_cache(maxsize=256)
def constant(value: float, dtype: np.dtype) -> Array:
    """``value`` as a read-only 0-d array of ``dtype``.

    The same number as ``dtype.type(value)``. As an operand NumPy takes a 0-d array of the
    right dtype faster than a Python or NumPy scalar, which it converts on every call; at this
    size that conversion is a noticeable part of a call.
    """
    c = np.array(value, dtype=dtype)
    c.flags.writeable = False
    return c


FLOAT_DTYPES = tuple(np.dtype(t) for t in (np.float16, np.float32, np.float64))
ZERO = {d: constant(0.0, d) for d in FLOAT_DTYPES}
"""0 as a 0-d array of each float dtype (see ``constant``)."""
ONE = {d: constant(1.0, d) for d in FLOAT_DTYPES}
"""1 as a 0-d array of each float dtype (see ``constant``)."""
