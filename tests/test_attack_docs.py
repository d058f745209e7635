"""The scenario documentation names every key and metric of the attack lab."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import DPConfig
from engine.experiments.measure import METRICS
from engine.scenario import (
    BackdoorConfig,
    EvasionConfig,
    ExtractionConfig,
    LeakageConfig,
    MembershipConfig,
    SupplyChainConfig,
)

DOCS = (Path(__file__).resolve().parents[1] / "docs" / "scenarios.md").read_text(encoding="utf-8")
SECTIONS = {
    "evasion": EvasionConfig,
    "extraction": ExtractionConfig,
    "membership": MembershipConfig,
    "leakage": LeakageConfig,
    "backdoor": BackdoorConfig,
    "supply_chain": SupplyChainConfig,
}


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_key_of_an_attack_section_is_documented(section: str) -> None:
    for key in SECTIONS[section].model_fields:
        assert f"`experiments.{section}.{key}" in DOCS, f"experiments.{section}.{key}"


def test_dp_and_pinning_keys_are_documented() -> None:
    for key in DPConfig.model_fields:
        assert f"`training.dp.{key}`" in DOCS
    assert "`weights`" in DOCS and "`weights_sha256`" in DOCS


@pytest.mark.parametrize(
    "metric",
    [m for m in METRICS if m.split(".")[0] in {*SECTIONS, "supply_chain"}],
)
def test_every_attack_metric_is_documented(metric: str) -> None:
    head = metric.split(".")[0]
    tail = metric.split(".")[-1]
    assert f"`{head}." in DOCS and tail in DOCS, metric
