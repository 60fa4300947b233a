"""Small builders for tests: contract events, the store's rows, and a simulated month.

The row builders make a complete row with plain defaults (a Bergen melding via the app, a
Bergen phone call, ...); a test names only what matters to it, as keyword changes.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from streams.cli import main
from streams.core.rows import CallRecord, FeedbackRecord, ItemRecord, NormRecord

AMS = ZoneInfo("Europe/Amsterdam")
_ids = itertools.count(1)


def local(text: str) -> datetime:
    """An Amsterdam-local datetime from 'YYYY-MM-DD HH:MM[:SS]'."""
    return datetime.fromisoformat(text).replace(tzinfo=AMS)


def ts(text: str) -> float:
    """UTC epoch seconds of an Amsterdam-local 'YYYY-MM-DD HH:MM'."""
    return local(text).timestamp()


def event(
    etype: str,
    subject: str | None,
    when: str,
    municipality: str = "castricum",
    *,
    id: str | None = None,
    source: str | None = None,
    **data: Any,
) -> bytes:
    """One contract event as raw bytes; ``when`` is Amsterdam-local 'YYYY-MM-DD HH:MM'."""
    obj: dict[str, Any] = {
        "specversion": "1.0",
        "id": id or f"evt-{next(_ids)}",
        "source": source or f"urn:nld:gemeente:{municipality}:test",
        "type": f"nl.contactmonitor.{etype}",
        "time": local(when).isoformat(),
        "datacontenttype": "application/json",
        "data": {"municipality": municipality, **data},
    }
    if subject is not None:
        obj["subject"] = subject
    return orjson.dumps(obj)


def opened(
    subject: str, when: str, kind: str = "melding", channel: str = "app", **kw: Any
) -> bytes:
    return event("item.opened", subject, when, kind=kind, channel=channel, **kw)


# ---- the store's rows ------------------------------------------------------------------


def at(text: str) -> float:
    """An RFC 3339 time (with its offset) as UTC epoch seconds."""
    return datetime.fromisoformat(text).timestamp()


def item_record(
    subject: str, opened: str, municipality: str = "bergen", **changes: Any
) -> ItemRecord:
    """An open melding via the app, opened at RFC 3339 ``opened``, with ``changes`` applied."""
    row = ItemRecord(
        municipality=municipality,
        subject=subject,
        kind="melding",
        channel="app",
        segment="inwoner",
        category="straatverlichting",
        source_system="fixi",
        team=None,
        opened_at=at(opened),
        responded_at=None,
        closed_at=None,
        resolution=None,
        upheld=None,
        reopened=0,
        is_open=True,
    )
    return replace(row, **changes)


def norm_record(subject: str, name: str, family: str = "item", **changes: Any) -> NormRecord:
    """A pending verdict of norm ``name`` on a Bergen item (or call: ``family="call"``)."""
    row = NormRecord(
        municipality="bergen",
        subject=subject,
        norm=name,
        stage="answer" if family == "call" else "response",
        family=family,
        deadline=at("2024-04-06T00:00+02:00"),
        outcome="pending",
        decided_at=None,
        achieved_at=None,
    )
    return replace(row, **changes)


def call_record(subject: str, queued: str, **changes: Any) -> CallRecord:
    """A Bergen phone call still waiting, queued at RFC 3339 ``queued``."""
    row = CallRecord(
        municipality="bergen",
        subject=subject,
        channel="telefoon",
        queue="algemeen",
        segment="onbekend",
        queued_at=at(queued),
        answered_at=None,
        abandoned_at=None,
        ended_at=None,
        resolved=None,
        outcome="waiting",
    )
    return replace(row, **changes)


def feedback_record(
    key: str, given: str, municipality: str = "bergen", **changes: Any
) -> FeedbackRecord:
    """A score of 8 for a melding via the app, given at RFC 3339 ``given``."""
    row = FeedbackRecord(municipality, key, "app", "melding", 8, at(given))
    return replace(row, **changes)


# ---- a simulated month -----------------------------------------------------------------

MONTH_START = "2024-03-01"
MONTH_SEED = 21


def simulate_month(path: Path, *, start: str = MONTH_START, seed: int = MONTH_SEED) -> Path:
    """``contactmon simulate`` of one month of all four municipalities into ``path``."""
    argv = ["simulate", "--start", start, "--months", "1", "--seed", str(seed), "--out", str(path)]
    assert main(argv) == 0, f"contactmon {' '.join(argv)} failed"
    return path
