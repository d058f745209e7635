"""Weight files as a supply chain: pin what you load by its hash, and never unpickle.

A model file is code's input, and some formats are code. A pickle (PyTorch's ``.bin``, ``.pt``)
is a small program for a stack machine whose GLOBAL and REDUCE instructions import any
callable and call it while the file loads. ``describe_pickle`` lists those instructions with
``pickletools``, which reads opcodes without running them; nothing here calls ``pickle.load``.
A scenario's ``weights`` file may be pinned by ``weights_sha256``: the bytes are hashed once,
and the same bytes are parsed only if the hash matches.
"""

from __future__ import annotations

import hashlib
import io as text_io
import pickletools
from dataclasses import dataclass
from pathlib import Path

from engine import io
from engine.io import WeightFileError

PICKLE_LISTING_LINES = 40
"""Most lines of a pickle's opcode listing kept for display."""
MAGIC = (
    (b"\x80", "pickle"),
    (b"PK\x03\x04", "zip archive (PyTorch's format wraps a pickle in one)"),
    (b"\x93NUMPY", "NumPy .npy"),
    (b"GGUF", "GGUF"),
)


CONSTANTS = frozenset(
    (
        "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING",
        "BINSTRING", "STRING", "SHORT_BINBYTES", "BINBYTES", "BININT", "BININT1", "BININT2",
        "INT", "LONG", "LONG1", "BINFLOAT", "FLOAT",
    )
)  # fmt: skip
"""Opcodes that push a constant (remembered to name a call's arguments)."""


class PinError(ValueError):
    """A pinned file whose hash is not the pin; ``str`` names the file and both hashes."""


@dataclass(frozen=True)
class PickleCall:
    """A callable a pickle would import and call while loading, with the arguments it gives."""

    callable: str
    """'module.name', e.g. 'builtins.exec'."""
    arguments: tuple[str, ...]
    """The constants pushed for the call, as written (repr), when they are plain constants."""

    def __str__(self) -> str:
        return f"{self.callable}({', '.join(self.arguments)})"


@dataclass(frozen=True)
class PickleReport:
    """What a pickle would do, read from its opcodes."""

    listing: tuple[str, ...]
    """``pickletools.dis`` output, one line per opcode (cut to PICKLE_LISTING_LINES)."""
    imports: tuple[str, ...]
    """Every 'module.name' the pickle imports (GLOBAL, STACK_GLOBAL)."""
    calls: tuple[PickleCall, ...]
    """Every REDUCE: the callable and its constant arguments."""
    error: str | None = None
    """Why the listing stopped early (a malformed pickle), if it did."""


def sha256(data: bytes) -> str:
    """The lowercase hex SHA-256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def file_kind(data: bytes) -> str:
    """'safetensors', 'pickle', ... from the first bytes (nothing is parsed)."""
    if len(data) >= 9 and data[8:9] == b"{":
        return "safetensors"
    return next((kind for head, kind in MAGIC if data.startswith(head)), "unknown")


def describe_pickle(data: bytes) -> PickleReport:
    """The imports and calls a pickle would make, read with ``pickletools`` and never run.

    Only the opcodes are walked: strings pushed are remembered so that a STACK_GLOBAL's module
    and name and a REDUCE's arguments can be named; nothing is imported or called.
    """
    out = text_io.StringIO()
    error = None
    try:
        pickletools.dis(data, out=out)
    except Exception as exc:  # a malformed or truncated pickle still gets the lines before
        error = f"{type(exc).__name__}: {exc}"
    listing = tuple(out.getvalue().splitlines()[:PICKLE_LISTING_LINES])
    imports: list[str] = []
    calls: list[PickleCall] = []
    strings: list[str] = []
    pending: list[str] = []
    callables: list[str] = []
    memo: dict[int, str] = {}
    try:
        for opcode, arg, _ in pickletools.genops(data):
            name = opcode.name
            if name == "GLOBAL" and isinstance(arg, str):
                imports.append(arg.replace(" ", "."))
                callables.append(imports[-1])
                pending = []
            elif name == "STACK_GLOBAL" and len(strings) >= 2:
                imports.append(f"{strings[-2]}.{strings[-1]}")
                callables.append(imports[-1])
                pending = []
            elif name in CONSTANTS:
                value = arg.decode("latin-1") if isinstance(arg, bytes) else arg
                if isinstance(value, str):
                    strings.append(value)
                pending.append(repr(value))
            elif name in ("MEMOIZE",) and strings:
                memo[len(memo)] = strings[-1]
            elif name in ("BINGET", "LONG_BINGET", "GET") and isinstance(arg, int) and arg in memo:
                strings.append(memo[arg])
            elif name == "REDUCE":
                target = callables[-1] if callables else "(a callable built at load time)"
                calls.append(PickleCall(target, tuple(pending)))
                pending = []
    except Exception as exc:
        error = error or f"{type(exc).__name__}: {exc}"
    return PickleReport(listing, tuple(imports), tuple(calls), error)


@dataclass(frozen=True)
class Inspection:
    """One weight file, checked before anything in it is used."""

    name: str
    kind: str
    sha256: str
    verdict: str
    """'loads', or 'refused: ' and why ('a pickle', 'hash ≠ pin', what the loader said)."""
    pickle: PickleReport | None = None

    @property
    def refused(self) -> bool:
        return self.verdict != "loads"


def check_pin(path: str | Path, data: bytes, pin: str | None) -> str:
    """The file's hash; raises PinError naming the file and both hashes if it is not ``pin``."""
    actual = sha256(data)
    if pin is not None and actual != pin:
        raise PinError(f"{path}: sha256 is {actual}, the scenario pins {pin}; refusing to load it")
    return actual


def load_pinned(
    path: str | Path, pin: str | None, architecture: list[dict[str, object]]
) -> list[io.LayerParams]:
    """Read a weight file once, check its hash against the pin, then parse those same bytes.

    Raises:
        PinError: The hash is not the pin.
        WeightFileError: The file cannot be read or is not a weight file for this network.
    """
    data = io.read_weight_file(path)
    check_pin(path, data, pin)
    return io.load_weights(path, architecture, data=data)


def inspect(
    path: Path, shown_as: str, pin: str | None, architecture: list[dict[str, object]]
) -> Inspection:
    """What happens when this file is offered as the scenario's model: loads, or why not."""
    try:
        data = io.read_weight_file(path)
    except WeightFileError as exc:
        return Inspection(shown_as, "missing", "", f"refused: {exc}")
    kind = file_kind(data)
    digest = sha256(data)
    report = describe_pickle(data) if kind == "pickle" else None
    try:
        check_pin(shown_as, data, pin)
        io.load_weights(shown_as, architecture, data=data)
    except PinError:
        verdict = "refused: a pickle" if report is not None else "refused: hash ≠ pin"
    except WeightFileError as exc:
        verdict = f"refused: {str(exc).split(': ', 1)[-1]}"
    else:
        verdict = "loads"
    return Inspection(shown_as, kind, digest, verdict, report)
