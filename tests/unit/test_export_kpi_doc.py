"""docs/indicatoren.md is what the code generates (`make indicator-doc`), so it cannot drift."""

from __future__ import annotations

from pathlib import Path

from streams.core.config import load_norms
from streams.export.indicator_doc import render
from streams.export.run import indicators_of

DOC = Path(__file__).resolve().parents[2] / "docs" / "indicatoren.md"


def test_the_document_is_current() -> None:
    assert DOC.read_text("utf-8") == render(), "run `make indicator-doc`"


def test_every_indicator_is_documented() -> None:
    text = DOC.read_text("utf-8")
    for indicator in indicators_of(load_norms()):
        assert f"`{indicator.id}`" in text, indicator.id
