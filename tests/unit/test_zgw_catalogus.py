"""`contactmon norms from-catalogus`: ZaakType durations → norm entries the norms loader accepts."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml

from sources.zgw.catalogus import duration, norm_entries
from sources.zgw.config import ZgwMapping
from sources.zgw.models import ZaakType
from streams.cli import main
from streams.core.config import parse_norms
from tests.unit.test_zgw_models import FIXTURES, load

REPO = Path(__file__).resolve().parents[2]
MAPPING = ZgwMapping.model_validate(
    {"zaaktypen": {"KLACHT": {"kind": "klacht", "category": "klacht", "channel": "brief"}}}
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P6W", (6, "weeks")),
        ("P10D", (10, "calendar_days")),
        ("P1M", None),
        ("PT4H", None),
        ("P1W2D", None),
        ("", None),
    ],
)
def test_durations_in_whole_days_or_weeks_only(text: str, expected: object) -> None:
    assert duration(text) == expected


def test_entries_fit_the_norms_file_and_unmapped_or_monthly_ones_are_skipped() -> None:
    klacht = ZaakType.model_validate(load("zaaktype.json"))
    other = klacht.model_copy(update={"identificatie": "VERGUNNING", "url": klacht.url + "x"})
    monthly = klacht.model_copy(update={"servicenorm": "P1M"})
    entries, skipped = norm_entries([klacht, other], MAPPING)
    assert [(e["id"], e["within"], e["unit"], e["target"]) for e in entries] == [
        ("klacht-doorlooptijd", 6, "weeks", 1.0),
        ("klacht-servicenorm", 4, "weeks", 0.9),
    ]
    assert [(s.identificatie, s.field) for s in skipped] == [("VERGUNNING", "zaaktype")]
    base = yaml.safe_load((REPO / "streams" / "norms" / "default.yaml").read_text())
    base["norms"] += entries
    config = parse_norms(yaml.safe_dump(base))
    assert "klacht-servicenorm" in config.norm_ids
    _, skipped = norm_entries([monthly], MAPPING)
    assert [(s.field, s.why) for s in skipped] == [("servicenorm", "P1M: not whole days or weeks")]


def test_the_command_writes_a_file_for_review_and_never_overwrites(tmp_path: Path) -> None:
    page = tmp_path / "zaaktypen.json"
    page.write_bytes(orjson.dumps({"count": 1, "next": None, "results": [load("zaaktype.json")]}))
    out = tmp_path / "norms-uit-catalogus.yaml"
    args = ["norms", "from-catalogus", str(page), "--config", str(FIXTURES / "ingest.yaml")]
    assert main([*args, "--out", str(out)]) == 0
    written = out.read_text()
    assert written.startswith("# Norm entries from the catalog")
    assert [n["id"] for n in yaml.safe_load(written)["norms"]] == [
        "klacht-doorlooptijd",
        "klacht-servicenorm",
    ]
    assert main([*args, "--out", str(out)]) == 2
