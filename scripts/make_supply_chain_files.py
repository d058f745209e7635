"""Write the supply-chain scenario's three model files (run from the repository's root).

scenarios/supply-chain/model.safetensors: the moons network trained 2,000 epochs (the file the
scenario pins by its sha256). model-tampered.safetensors: the same file with one weight changed,
as a poisoned re-upload would be. model.pkl: a harmless "malicious model": a pickle whose
opcodes, written out byte by byte below, would import builtins.exec and call it on a line of
Python that prints a message. Nothing here, or anywhere in tui-nn, ever unpickles it.
"""

from __future__ import annotations

import pickletools
import sys
from pathlib import Path

from engine import io
from engine.scenario import load_scenario
from engine.session import Session

FOLDER = Path("scenarios/supply-chain")
PAYLOAD = b"print('This model file just ran code on your machine.')"
MALICIOUS_PICKLE = (
    b"\x80\x02"  # PROTO 2
    + b"cbuiltins\nexec\n"  # GLOBAL: import builtins.exec
    + b"X" + len(PAYLOAD).to_bytes(4, "little") + PAYLOAD  # BINUNICODE: the code to run
    + b"\x85"  # TUPLE1: (code,)
    + b"R"  # REDUCE: exec(code), at load time
    + b"."  # STOP
)  # fmt: skip


def main() -> int:
    source = load_scenario("scenarios/moons.toml")
    session = Session(source.model_copy(update={"name": "supply-chain"}))
    session.step(2000)
    good = FOLDER / "model.safetensors"
    digest = session.save_weights(good)
    weights = session.baseline.weights()
    weights[-1][0][3, 0] += 2.5  # the planted change: one output weight
    io.save_weights(
        FOLDER / "model-tampered.safetensors",
        weights,
        session.architecture(),
        {"scenario": "supply-chain", "epoch": "2000"},
    )
    io.write_atomic(FOLDER / "model.pkl", MALICIOUS_PICKLE)
    pickletools.dis(MALICIOUS_PICKLE, out=sys.stdout)  # a listing, never a load
    print(f"model.safetensors sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
