"""Weights I/O in safetensors: atomic saves, strict loads, and nothing that ever unpickles.

A weight file holds ``layers.{i}.weight`` (shape ``(n_in, n_out)``) and, when the layer has a
bias, ``layers.{i}.bias`` (shape ``(n_out,)``), plus string metadata recording the format, its
version, the dtype and the architecture as JSON. Loading refuses anything that is not exactly
what the caller's architecture expects, with a one-line :class:`WeightFileError`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import safetensors.numpy

from engine.files import FileRefused, TooDeep, check_nesting, read_limited, write_atomic

Array = npt.NDArray[Any]
LayerParams = tuple[Array, Array | None]
PathLike = str | os.PathLike[str]

FORMAT_NAME = "tui-nn-weights"
FORMAT_VERSION = "1"
FLOAT_DTYPES = ("float16", "float32", "float64")
MAX_WEIGHT_FILE_BYTES = 64 * 1024 * 1024
# Only to name what a refused file looks like; nothing here ever parses these formats.
_FOREIGN_MAGIC = ((b"\x93NUMPY", ".npy file"), (b"\x80", "pickle"), (b"PK\x03\x04", "zip archive"))
_RESERVED_KEYS = frozenset({"format", "version", "architecture", "dtype"})
_LAYER_FIELDS: dict[str, type] = {"n_in": int, "n_out": int, "activation": str, "bias": bool}


class WeightFileError(ValueError):
    """A weight file could not be saved or loaded; ``str(err)`` is one line naming the file."""

    def __init__(self, path: PathLike, reason: str) -> None:
        # Reasons may embed text from OSError or safetensors; keep the message on one line.
        super().__init__(" ".join(f"{os.fspath(path)}: {reason}".split()))


def _normalize_architecture(path: PathLike, architecture: Sequence[Mapping[str, object]]) -> list:
    layers = []
    for i, layer in enumerate(architecture):
        fields: dict[str, object] = {}
        for key, kind in _LAYER_FIELDS.items():
            value = layer.get(key)
            if kind is int and isinstance(value, np.integer):
                value = int(value)
            # bool is an int subclass, so an int field must not accept True/False.
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise WeightFileError(path, f"architecture layer {i}: bad or missing {key!r}")
            fields[key] = value
        layers.append({**layer, **fields})
    try:
        # Round-trip through JSON so comparisons see exactly the types a loaded file has.
        return json.loads(json.dumps(layers))
    except (TypeError, ValueError) as exc:
        raise WeightFileError(path, f"architecture is not JSON-serializable ({exc})") from None


def _expected_tensors(architecture: list) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for i, layer in enumerate(architecture):
        shapes[f"layers.{i}.weight"] = (layer["n_in"], layer["n_out"])
        if layer["bias"]:
            shapes[f"layers.{i}.bias"] = (layer["n_out"],)
    return shapes


def _check_tensor(path: PathLike, name: str, array: Array, shape: tuple, dtype: str) -> None:
    if array.shape != shape:
        raise WeightFileError(path, f"tensor {name}: expected shape {shape} (got {array.shape})")
    if (got := array.dtype.name) not in FLOAT_DTYPES:
        raise WeightFileError(path, f"tensor {name}: dtype {got} is not float16/32/64")
    if got != dtype:
        raise WeightFileError(path, f"tensor {name}: expected dtype {dtype} (got {got})")


def _sorted_metadata(data: bytes) -> bytes:
    # safetensors writes metadata in Rust HashMap order, which changes from run to run; sorting
    # it makes equal weights give byte-identical files (and equal hashes).
    end = 8 + int.from_bytes(data[:8], "little")
    header = json.loads(data[8:end])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # safetensors pads the header to 8-byte alignment
    return len(text).to_bytes(8, "little") + text + data[end:]


def sha256_file(path: PathLike) -> str:
    """Return the SHA-256 hex digest of a file's bytes.

    Args:
        path: The file to hash.

    Returns:
        The lowercase hex digest.

    Raises:
        WeightFileError: If the file cannot be read.
    """
    return hashlib.sha256(read_weight_file(path)).hexdigest()


def save_weights(
    path: PathLike,
    params: Sequence[LayerParams],
    architecture: Sequence[Mapping[str, object]],
    extra_metadata: Mapping[str, str] | None = None,
) -> str:
    """Atomically write layer weights and biases to a safetensors file.

    Args:
        path: Destination file; its directory must exist.
        params: One ``(weight, bias)`` pair per layer; ``weight`` has shape ``(n_in, n_out)``,
            ``bias`` has shape ``(n_out,)`` or is ``None`` for a layer without bias.
        architecture: One ``{"n_in", "n_out", "activation", "bias"}`` mapping per layer.
        extra_metadata: Additional string metadata; may not override the reserved keys.

    Returns:
        The SHA-256 hex digest of the bytes written.

    Raises:
        WeightFileError: If the parameters do not match the architecture, do not share one
            float dtype, or the file cannot be written. An existing file is left untouched.
    """
    arch = _normalize_architecture(path, architecture)
    if len(params) != len(arch):
        raise WeightFileError(path, f"expected {len(arch)} layers of params (got {len(params)})")
    tensors: dict[str, Array] = {}
    for i, (weight, bias) in enumerate(params):
        if (bias is not None) != arch[i]["bias"]:
            want = "a bias" if arch[i]["bias"] else "no bias"
            raise WeightFileError(path, f"layer {i}: architecture expects {want}")
        tensors[f"layers.{i}.weight"] = np.asarray(weight)
        if bias is not None:
            tensors[f"layers.{i}.bias"] = np.asarray(bias)
    dtype = tensors["layers.0.weight"].dtype.name if tensors else FLOAT_DTYPES[2]
    for name, shape in _expected_tensors(arch).items():
        _check_tensor(path, name, tensors[name], shape, dtype)
    metadata = {str(k): v for k, v in (extra_metadata or {}).items()}
    if clash := sorted(_RESERVED_KEYS & metadata.keys()):
        raise WeightFileError(path, f"extra metadata may not set reserved keys {clash}")
    if bad := sorted(k for k, v in metadata.items() if not isinstance(v, str)):
        raise WeightFileError(path, f"extra metadata values must be str (keys {bad})")
    metadata.update(
        format=FORMAT_NAME,
        version=FORMAT_VERSION,
        architecture=json.dumps(arch, sort_keys=True),
        dtype=dtype,
    )
    try:
        # safetensors reads raw memory, so it must be handed C-contiguous copies.
        data = _sorted_metadata(
            safetensors.numpy.save(
                {k: np.array(v, order="C", copy=True) for k, v in tensors.items()},
                metadata=metadata,
            )
        )
        safetensors.numpy.load(data)
    except Exception as exc:
        raise WeightFileError(path, f"cannot serialize weights ({exc})") from None

    try:
        write_atomic(path, data)
    except FileRefused as exc:
        raise WeightFileError(path, f"cannot write weight file: {exc.reason}") from None
    except OSError as exc:
        raise WeightFileError(path, f"cannot write weight file ({exc.strerror or exc})") from None
    return hashlib.sha256(data).hexdigest()


def read_weight_file(path: PathLike) -> bytes:
    """A weight file's bytes, refusing anything but a regular file within the size limit.

    Raises:
        WeightFileError: If the file is missing, not a regular file or too large.
    """
    try:
        return read_limited(path, MAX_WEIGHT_FILE_BYTES)
    except FileRefused as exc:
        raise WeightFileError(path, exc.reason) from None


def load_weights(
    path: PathLike,
    architecture: Sequence[Mapping[str, object]],
    dtype: str | None = None,
    *,
    data: bytes | None = None,
) -> list[LayerParams]:
    """Load layer weights from a safetensors file, refusing anything unexpected.

    Args:
        path: The weight file to read.
        architecture: The expected layers, as passed to :func:`save_weights`.
        dtype: If given, every tensor must have this dtype; otherwise all tensors must share one
            of float16, float32 or float64. Non-finite values are allowed.
        data: The file's bytes, already read (and hashed) by the caller; ``path`` then only
            names the file in errors.

    Returns:
        One ``(weight, bias)`` pair per layer (``bias`` is ``None`` for layers without one), as
        writable C-contiguous arrays.

    Raises:
        WeightFileError: If the file is missing, too large, not a safetensors weight file, or
            its metadata, tensor names, shapes or dtypes differ from what is expected.
    """
    arch = _normalize_architecture(path, architecture)
    if dtype is not None and dtype not in FLOAT_DTYPES:
        raise WeightFileError(path, f"requested dtype {dtype!r} is not one of {FLOAT_DTYPES}")
    if data is None:
        data = read_weight_file(path)
    try:
        loaded = safetensors.numpy.load(data)
        # safetensors has validated the header; json only extracts its metadata.
        header_text = data[8 : 8 + int.from_bytes(data[:8], "little")].decode()
        check_nesting(header_text, syntax="json")
        header = json.loads(header_text)
    except Exception as exc:
        magic = (f"looks like a {kind}" for head, kind in _FOREIGN_MAGIC if data.startswith(head))
        reason = next(magic, exc)
        raise WeightFileError(path, f"not a safetensors weight file ({reason})") from None

    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        got = meta.get("format") if isinstance(meta, dict) else None
        raise WeightFileError(path, f"metadata format is {got!r} (expected {FORMAT_NAME!r})")
    if meta.get("version") != FORMAT_VERSION:
        want = FORMAT_VERSION
        raise WeightFileError(path, f"unsupported version {meta.get('version')!r} (want {want!r})")
    try:
        check_nesting(meta.get("architecture", ""), syntax="json")
        file_arch = json.loads(meta.get("architecture", ""))
    except TooDeep as exc:
        raise WeightFileError(path, f"metadata architecture: {exc}") from None
    except ValueError:
        raise WeightFileError(path, "metadata architecture is not valid JSON") from None
    if not isinstance(file_arch, list) or not all(isinstance(x, dict) for x in file_arch):
        raise WeightFileError(path, "metadata architecture is not a list of layer objects")
    if len(file_arch) != len(arch):
        raise WeightFileError(
            path, f"architecture mismatch: expected {len(arch)} layers (got {len(file_arch)})"
        )
    for i, (want_layer, got_layer) in enumerate(zip(arch, file_arch, strict=True)):
        for key in sorted(want_layer.keys() | got_layer.keys()):
            want, got = want_layer.get(key), got_layer.get(key)
            if key not in got_layer:
                reason = f"missing key {key!r}"
            elif key not in want_layer:
                reason = f"unexpected key {key!r}"
            elif type(want) is not type(got) or want != got:
                reason = f"expected {key} {want!r} (got {got!r})"
            else:
                continue
            raise WeightFileError(path, f"architecture mismatch: layer {i}: {reason}")

    expected = _expected_tensors(arch)
    if missing := [name for name in expected if name not in loaded]:
        raise WeightFileError(path, f"missing tensor {missing[0]}")
    if extra := sorted(loaded.keys() - expected.keys()):
        raise WeightFileError(path, f"unexpected tensor {extra[0]}")
    if expected:
        dtype = dtype or loaded["layers.0.weight"].dtype.name
        for name, shape in expected.items():
            _check_tensor(path, name, loaded[name], shape, dtype)
        if meta.get("dtype") != dtype:
            raise WeightFileError(path, f"metadata dtype {meta.get('dtype')!r} (tensors: {dtype})")

    def own(name: str) -> Array:
        return np.array(loaded[name], order="C", copy=True)

    return [
        (own(f"layers.{i}.weight"), own(f"layers.{i}.bias") if layer["bias"] else None)
        for i, layer in enumerate(arch)
    ]
