"""The weight-file supply chain: which offered files would load, and what a pickle would run.

The scenario starts from its `weights` file, pinned by `weights_sha256`. Each file listed in
`[experiments.supply_chain]` is offered in its place and checked the same way: the bytes
are hashed, compared with the pin, and parsed as safetensors only if they match. A pickle is
never unpickled; its opcodes are listed with ``pickletools`` and the callables it would import
and call are named.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.attacks.weight_files import Inspection, inspect
from engine.experiments.cache import cached
from engine.experiments.view import ExperimentView, Figure, Table

if TYPE_CHECKING:
    from engine.session import Session

METRICS = {
    "supply_chain.files": "weight files offered in place of the pinned one",
    "supply_chain.loads": "of those, files that pass the pin and load",
    "supply_chain.refused": "files refused (hash not the pin, not safetensors, wrong shape)",
    "supply_chain.pickles": "files that are pickles",
    "supply_chain.pickle_calls": "calls (REDUCE) the pickles would make while loading",
    "supply_chain.pinned": "1 when the scenario pins its weights by sha256",
}


def _inspect(session: Session) -> list[Inspection]:
    sc = session.scenario
    config = sc.experiments.supply_chain
    assert config is not None
    base = Path(sc.base_dir or ".")
    architecture = session.architecture()
    return [
        inspect(base / name if not Path(name).is_absolute() else Path(name), name,
                sc.weights_sha256, architecture)
        for name in config.files
    ]  # fmt: skip


def view(session: Session) -> ExperimentView:
    """The supply-chain panel: a verdict per offered file, and the pickle's would-be calls."""
    sc = session.scenario
    found = cached(session, "supply_chain", _inspect)
    refused = [f for f in found if f.refused]
    pickles = [f for f in found if f.pickle is not None]
    calls = [c for f in pickles if f.pickle is not None for c in f.pickle.calls]
    pin = sc.weights_sha256
    figures = (
        Figure("supply_chain.files", "files offered", float(len(found)), str(len(found)),
               "weight files offered in place of the pinned one"),
        Figure("supply_chain.loads", "would load", float(len(found) - len(refused)),
               str(len(found) - len(refused)), "files whose hash is the pin and that parse"),
        Figure("supply_chain.refused", "refused", float(len(refused)), str(len(refused)),
               "files refused before any of their content was used"),
        Figure("supply_chain.pickles", "pickles", float(len(pickles)), str(len(pickles)),
               "files that are pickles (never unpickled here)", shown=False),
        Figure("supply_chain.pickle_calls", "pickle calls", float(len(calls)), str(len(calls)),
               "calls the pickles would make while loading", shown=False),
        Figure("supply_chain.pinned", "pinned", float(pin is not None),
               "yes" if pin else "no", "whether the scenario pins its weights by sha256",
               shown=False),
    )  # fmt: skip
    rows = tuple((f.name.rsplit("/", 1)[-1], f.sha256[:8], f.verdict) for f in found)
    listing: list[str] = []
    notes = [
        f"The scenario loads {sc.weights or 'no file'}"
        + (f", pinned to sha256 {pin[:16]}…" if pin else " (not pinned)")
        + ". Each file below is offered in its place: hashed, compared with the pin, and "
        "parsed only if it matches."
    ]
    for f in pickles:
        assert f.pickle is not None
        listing += [f"{f.name} (pickletools, never loaded):", *f.pickle.listing]
        would = "; ".join(str(c) for c in f.pickle.calls) or "nothing"
        notes.append(
            f"{f.name} is a pickle: loading it with pickle.load (as torch.load did by default "
            "before PyTorch 2.6, and still does with weights_only=False) would import "
            f"{', '.join(f.pickle.imports) or 'nothing'} "
            f"and call {would}. It is refused unread; its opcodes are listed above."
        )
    headline = f"{len(refused)} of {len(found)} offered files refused"
    if calls:
        headline += f" · the pickle would call {calls[0].callable}"
    return ExperimentView(
        name="supply_chain",
        title="Supply chain: weight files",
        headline=headline,
        figures=figures,
        table=Table(("file", "sha256", "verdict"), rows),
        listing=tuple(listing),
        notes=tuple(notes),
    )
