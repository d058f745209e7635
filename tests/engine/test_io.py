"""Tests for engine.io: safetensors weight files, real files on disk, no mocks."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.numpy
from safetensors import safe_open

import engine.io as weights_io
from engine.io import WeightFileError, load_weights, save_weights, sha256_file

ARCH: list[dict[str, Any]] = [
    {"n_in": 4, "n_out": 3, "activation": "relu", "bias": True},
    {"n_in": 3, "n_out": 2, "activation": "sigmoid", "bias": True},
]


def arch_with(bias: tuple[bool, ...]) -> list[dict[str, Any]]:
    return [{**layer, "bias": b} for layer, b in zip(ARCH, bias, strict=True)]


def make_params(arch: list[dict[str, Any]], dtype: str = "float64", seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    params = []
    for layer in arch:
        n_in, n_out = layer["n_in"], layer["n_out"]
        weight = rng.standard_normal((n_in, n_out)).astype(dtype)
        bias = rng.standard_normal(n_out).astype(dtype) if layer["bias"] else None
        params.append((weight, bias))
    return params


def write_raw(path: Path, tensors: dict, arch: list | None = None, **metadata: str) -> None:
    """Write a safetensors file by hand, bypassing save_weights' own checks."""
    meta = {
        "format": "tui-nn-weights",
        "version": "1",
        "architecture": json.dumps(ARCH if arch is None else arch),
        "dtype": "float64",
    }
    meta.update(metadata)
    path.write_bytes(safetensors.numpy.save(tensors, metadata=meta))


def valid_tensors(dtype: str = "float64") -> dict[str, np.ndarray]:
    (w0, b0), (w1, b1) = make_params(ARCH, dtype)
    return {"layers.0.weight": w0, "layers.0.bias": b0, "layers.1.weight": w1, "layers.1.bias": b1}


def assert_refused(path: Path, *words: str, arch: list | None = None, **kwargs: str) -> str:
    with pytest.raises(WeightFileError) as info:
        load_weights(path, ARCH if arch is None else arch, **kwargs)
    return assert_one_line(info.value, path, *words)


def assert_one_line(err: Exception, path: Path, *words: str) -> str:
    message = str(err)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(os.fspath(path) + ": ")
    for word in words:
        assert word in message, (word, message)
    return message


class MkdirOnUnpickle:
    """Unpickling this runs os.mkdir(canary): proof that something unpickled."""

    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self) -> tuple:
        return (os.mkdir, (os.fspath(self.canary),))


# --- round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
@pytest.mark.parametrize("bias", [(True, True), (False, False), (True, False)])
def test_round_trip_is_bit_identical(tmp_path: Path, dtype: str, bias: tuple[bool, ...]) -> None:
    arch = arch_with(bias)
    params = make_params(arch, dtype)
    path = tmp_path / "w.safetensors"

    extra = {"scenario": "xor", "note": 'héllo ☃\n"quoted"'}
    digest = save_weights(path, params, arch, extra_metadata=extra)

    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() == sha256_file(path)
    loaded = load_weights(path, arch, dtype=dtype)
    assert len(loaded) == len(params)
    for (w, b), (lw, lb) in zip(params, loaded, strict=True):
        assert lw.dtype == w.dtype and np.array_equal(lw, w)
        assert lw.flags.c_contiguous and lw.flags.writeable
        if b is None:
            assert lb is None
        else:
            assert lb is not None and lb.dtype == b.dtype and np.array_equal(lb, b)
            assert lb.flags.c_contiguous and lb.flags.writeable
    assert load_weights(path, arch)[0][0].dtype == np.dtype(dtype)

    with safe_open(os.fspath(path), framework="numpy") as f:
        expected = ["layers.0.weight", "layers.1.weight"]
        expected += [f"layers.{i}.bias" for i, b in enumerate(bias) if b]
        assert sorted(f.keys()) == sorted(expected)
        assert f.get_tensor("layers.0.weight").shape == (4, 3)
        assert f.get_tensor("layers.1.weight").shape == (3, 2)
        if bias[0]:
            assert f.get_tensor("layers.0.bias").shape == (3,)
        meta = f.metadata()
    assert meta["format"] == "tui-nn-weights" and meta["version"] == "1"
    assert meta["dtype"] == dtype and meta["scenario"] == "xor" and meta["note"] == extra["note"]
    assert json.loads(meta["architecture"]) == arch


def test_non_contiguous_inputs_and_non_finite_values_survive(tmp_path: Path) -> None:
    params = make_params(ARCH)
    w0 = np.asfortranarray(params[0][0])
    w0[0, 0], w0[1, 1], w0[2, 2] = np.nan, np.inf, -np.inf
    w1 = np.ascontiguousarray(params[1][0].T).T  # a transposed view, not C-contiguous
    path = tmp_path / "blown_up.safetensors"
    save_weights(path, [(w0, params[0][1]), (w1, params[1][1])], ARCH)
    (lw0, _), (lw1, _) = load_weights(path, ARCH)
    assert lw0.tobytes() == np.ascontiguousarray(w0).tobytes()
    assert np.array_equal(lw1, w1)


def test_saving_again_gives_identical_bytes(tmp_path: Path) -> None:
    # safetensors orders metadata by a randomly seeded hash map, so try several saves.
    params = make_params(ARCH)
    extra = {f"key{i}": str(i) for i in range(8)}
    paths = [tmp_path / f"{i}.safetensors" for i in range(6)]
    digests = {save_weights(path, params, ARCH, extra_metadata=extra) for path in paths}
    assert len(digests) == 1
    assert len({path.read_bytes() for path in paths}) == 1


# --- never unpickle -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["evil.pkl", "evil.safetensors"])
def test_pickle_is_refused_without_running_it(tmp_path: Path, name: str) -> None:
    canary = tmp_path / "canary"
    payload = pickle.dumps(MkdirOnUnpickle(canary))
    path = tmp_path / name
    path.write_bytes(payload)

    assert_refused(path, "not a safetensors weight file", "pickle")
    assert not canary.exists()

    pickle.loads(payload)  # the payload is live: unpickling it does fire the canary
    assert canary.is_dir()


def test_object_npy_is_refused_without_running_it(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    path = tmp_path / "evil.npy"
    np.save(path, np.array([MkdirOnUnpickle(canary)], dtype=object), allow_pickle=True)
    assert not canary.exists()

    assert_refused(path, "not a safetensors weight file", ".npy")
    assert not canary.exists()


# --- not a safetensors file ---------------------------------------------------------------


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_weights(path, make_params(ARCH), ARCH)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert_refused(path, "not a safetensors weight file")


def test_header_longer_than_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    path.write_bytes(struct.pack("<Q", 10_000) + b'{"__metadata__": {}}')
    assert_refused(path, "not a safetensors weight file")


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, I am a text file\n", np.random.default_rng(7).bytes(4096)],
    ids=["empty", "text", "random"],
)
def test_garbage_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "w.safetensors"
    path.write_bytes(content)
    assert_refused(path, "not a safetensors weight file")


def test_missing_file_and_directory_are_refused(tmp_path: Path) -> None:
    assert_refused(tmp_path / "nope.safetensors", "no such file")
    assert_refused(tmp_path, "is a directory, expected a regular file")


def test_file_over_the_size_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.safetensors"
    save_weights(path, make_params(ARCH), ARCH)
    size = path.stat().st_size
    monkeypatch.setattr(weights_io, "MAX_WEIGHT_FILE_BYTES", size - 1)
    assert_refused(path, f"file too large ({size} bytes", f"at most {size - 1})")
    monkeypatch.setattr(weights_io, "MAX_WEIGHT_FILE_BYTES", size)
    load_weights(path, ARCH)


# --- metadata and architecture ------------------------------------------------------------


def test_wrong_or_missing_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    write_raw(path, valid_tensors(), format="someone-else")
    assert_refused(path, "format", "'someone-else'", "expected 'tui-nn-weights'")
    path.write_bytes(safetensors.numpy.save(valid_tensors()))
    assert_refused(path, "format is None", "expected 'tui-nn-weights'")


def test_bad_version_or_architecture_metadata_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    write_raw(path, valid_tensors(), version="2")
    assert_refused(path, "unsupported version '2'")
    write_raw(path, valid_tensors(), architecture="{not json")
    assert_refused(path, "architecture is not valid JSON")
    write_raw(path, valid_tensors(), architecture='{"n_in": 4}')
    assert_refused(path, "not a list of layer objects")


def test_architecture_mismatch_names_layer_and_field(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_weights(path, make_params(ARCH), ARCH)

    other = [ARCH[0], {**ARCH[1], "activation": "tanh"}]
    assert_refused(path, "layer 1: expected activation 'tanh' (got 'sigmoid')", arch=other)
    other = [{**ARCH[0], "extra": 1}, ARCH[1]]
    assert_refused(path, "layer 0: missing key 'extra'", arch=other)
    three = [*ARCH, {"n_in": 2, "n_out": 1, "activation": "sigmoid", "bias": True}]
    assert_refused(path, "expected 3 layers (got 2)", arch=three)
    assert_refused(path, "expected 1 layers (got 2)", arch=ARCH[:1])


def test_architecture_bias_flag_must_match_exactly(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_weights(path, make_params(ARCH), ARCH)
    no_bias = arch_with((True, False))
    assert_refused(path, "layer 1: expected bias False (got True)", arch=no_bias)
    int_bias = [{**ARCH[0], "bias": 1}, ARCH[1]]
    with pytest.raises(WeightFileError) as info:
        load_weights(path, int_bias)
    assert_one_line(info.value, path, "architecture layer 0", "'bias'")


# --- tensors ------------------------------------------------------------------------------


def test_wrong_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    tensors = valid_tensors()
    tensors["layers.1.weight"] = np.zeros((3, 5))
    write_raw(path, tensors)
    assert_refused(path, "tensor layers.1.weight: expected shape (3, 2) (got (3, 5))")


def test_wrong_dtype_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_weights(path, make_params(ARCH, "float32"), ARCH)
    assert_refused(
        path, "tensor layers.0.weight: expected dtype float64 (got float32)", dtype="float64"
    )
    assert_refused(path, "expected dtype float16 (got float32)", dtype="float16")
    assert_refused(path, "requested dtype 'int8'", dtype="int8")

    mixed = valid_tensors()
    mixed["layers.1.bias"] = mixed["layers.1.bias"].astype(np.float32)
    write_raw(path, mixed)
    assert_refused(path, "tensor layers.1.bias: expected dtype float64 (got float32)")

    ints = {k: v.astype(np.int64) for k, v in valid_tensors().items()}
    write_raw(path, ints)
    assert_refused(path, "tensor layers.0.weight: dtype int64 is not float16/32/64")

    write_raw(path, valid_tensors("float32"), dtype="float64")
    assert_refused(path, "metadata dtype 'float64'", "float32")


def test_missing_bias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    tensors = valid_tensors()
    del tensors["layers.0.bias"]
    write_raw(path, tensors)
    assert_refused(path, "missing tensor layers.0.bias")


def test_extra_tensor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    write_raw(path, {**valid_tensors(), "optimizer.momentum": np.zeros(3)})
    assert_refused(path, "unexpected tensor optimizer.momentum")
    write_raw(path, valid_tensors(), arch=arch_with((True, False)))
    assert_refused(path, "unexpected tensor layers.1.bias", arch=arch_with((True, False)))


# --- saving -------------------------------------------------------------------------------


def test_failed_serialization_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_weights(path, make_params(ARCH), ARCH)
    old = path.read_bytes()
    bad = make_params(ARCH, seed=1)
    bad[1] = (np.array([[object()] * 2] * 3, dtype=object), bad[1][1])

    with pytest.raises(WeightFileError) as info:
        save_weights(path, bad, ARCH)

    assert_one_line(info.value, path, "tensor layers.1.weight", "dtype object")
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]


def test_failed_replace_removes_temp_file(tmp_path: Path) -> None:
    # A directory in the target's place makes os.replace fail after the temp file is written.
    target = tmp_path / "w.safetensors"
    target.mkdir()
    (target / "keep").write_text("x")
    with pytest.raises(WeightFileError) as info:
        save_weights(target, make_params(ARCH), ARCH)
    assert_one_line(info.value, target, "cannot write weight file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]
    assert (target / "keep").read_text() == "x"


def test_save_into_missing_directory_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "w.safetensors"
    with pytest.raises(WeightFileError) as info:
        save_weights(path, make_params(ARCH), ARCH)
    assert_one_line(info.value, path, "cannot write weight file", "No such file or directory")
    assert not (tmp_path / "no").exists()


def test_save_refuses_params_that_do_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    params = make_params(ARCH)
    cases = [
        (params[:1], "expected 2 layers of params (got 1)"),
        ([params[0], (params[1][0], None)], "layer 1: architecture expects a bias"),
        ([params[0], (params[1][0].T, params[1][1])], "expected shape (3, 2) (got (2, 3))"),
        (
            [params[0], (params[1][0].astype(np.float32), params[1][1].astype(np.float32))],
            "tensor layers.1.weight: expected dtype float64 (got float32)",
        ),
    ]
    for bad, words in cases:
        with pytest.raises(WeightFileError) as info:
            save_weights(path, bad, ARCH)
        assert_one_line(info.value, path, words)
    with pytest.raises(WeightFileError) as info:
        save_weights(path, params, ARCH, extra_metadata={"format": "mine"})
    assert_one_line(info.value, path, "reserved keys ['format']")
    assert not path.exists()
