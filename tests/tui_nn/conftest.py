"""Every app test draws in truecolour unless it says otherwise: the terminal pytest runs in
(TERM, COLORTERM, NO_COLOR) must not change what the tests see."""

from __future__ import annotations

import pytest
from textual import constants


@pytest.fixture(autouse=True)
def truecolor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "COLOR_SYSTEM", "truecolor")
    monkeypatch.delenv("NO_COLOR", raising=False)
