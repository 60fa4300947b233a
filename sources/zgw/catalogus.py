"""Norm entries from the catalog: ZaakType ``servicenorm`` and ``doorlooptijd`` (pure).

A municipality records its promises in the Catalogi API: ``doorlooptijd`` (the legal handling
time) and ``servicenorm`` (the service promise), ISO 8601 durations, in calendar days as the
Catalogi API counts them. `norm_entries` turns the ZaakTypen that the ingest configuration maps
(kind and category) into entries for the norms file (resolution stage, calendar days or weeks),
for a person to review: the catalog does not say the target share, so `--target` does (the
legal term defaults to 1.0). A duration in months or years, or with a time part, has no exact
unit in the norms file and is listed as skipped instead of guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import yaml

from sources.zgw.config import ZgwMapping
from sources.zgw.models import ZaakType

_DURATION: Final = re.compile(r"^P(?:(?P<weeks>\d+)W|(?P<days>\d+)D)$")


@dataclass(frozen=True, slots=True)
class Skipped:
    identificatie: str
    field: str
    why: str


def duration(text: str) -> tuple[int, str] | None:
    """``P6W`` → (6, ``weeks``), ``P10D`` → (10, ``calendar_days``); other forms None."""
    match = _DURATION.match(text.strip())
    if match is None:
        return None
    if match["weeks"] is not None:
        return int(match["weeks"]), "weeks"
    return int(match["days"]), "calendar_days"


def norm_entries(
    zaaktypen: Iterable[ZaakType],
    mapping: ZgwMapping,
    *,
    service_target: float = 0.9,
    legal_target: float = 1.0,
) -> tuple[list[dict[str, Any]], list[Skipped]]:
    """Norm entries (as the norms file holds them) and what was skipped, sorted by id."""
    entries: dict[str, dict[str, Any]] = {}
    skipped: list[Skipped] = []
    for zt in zaaktypen:
        if zt.concept:
            skipped.append(Skipped(zt.identificatie, "concept", "a concept, not in use"))
            continue
        words = mapping.zaaktype(zt.url, zt.identificatie)
        if words is None:
            skipped.append(Skipped(zt.identificatie, "zaaktype", "not in zgw.zaaktypen"))
            continue
        for field, value, target in (
            ("servicenorm", zt.servicenorm, service_target),
            ("doorlooptijd", zt.doorlooptijd, legal_target),
        ):
            if not value:
                continue
            parsed = duration(value)
            if parsed is None:
                skipped.append(
                    Skipped(zt.identificatie, field, f"{value}: not whole days or weeks")
                )
                continue
            within, unit = parsed
            slug = re.sub(r"[^a-z0-9]+", "-", zt.identificatie.lower()).strip("-")
            norm_id = f"{slug}-{field}"
            entries[norm_id] = {
                "id": norm_id,
                "description": f"{zt.omschrijving}: {field} {value} (Catalogi API)",
                "applies_to": {"kind": words.kind, "category": words.category},
                "stage": "resolution",
                "within": within,
                "unit": unit,
                "target": target,
            }
    return [entries[k] for k in sorted(entries)], skipped


def render(entries: list[dict[str, Any]], skipped: list[Skipped], source: str) -> str:
    """The entries as a YAML ``norms:`` list with a header for the reviewer."""
    lines = [
        f"# Norm entries from the catalog ({source}),",
        "# written by `contactmon norms from-catalogus`.",
        "# Review them, then copy what applies into the norms file (CONTACTMON_NORMS_FILE).",
        "# The targets are not in the catalog: check them.",
    ]
    lines += [f"# skipped {s.identificatie} {s.field}: {s.why}" for s in skipped]
    body = yaml.safe_dump({"norms": entries}, sort_keys=False, allow_unicode=True)
    return "\n".join(lines) + "\n" + body
