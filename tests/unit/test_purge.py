"""Retention: `contactmon purge` and the worker's daily purge delete finished items and calls that
began before a moment (with their norm rows) and old feedback; what is still open stays."""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from streams.cli import main
from streams.core.rows import CallRecord, FeedbackRecord, NormRecord, OutcomeBatch
from streams.purge import cutoff
from streams.store import OutcomeStore, open_store
from tests.factories import item_record

AMS = ZoneInfo("Europe/Amsterdam")
OLD = datetime(2023, 1, 10, tzinfo=AMS).timestamp()
NEW = datetime(2024, 6, 10, tzinfo=AMS).timestamp()
ITEM = item_record(
    "x",
    "2023-01-10T00:00:00+01:00",
    "heiloo",
    category="afval",
    closed_at=OLD + 3600,
    resolution="afgehandeld",
    is_open=False,
)
NORM = NormRecord(
    municipality="heiloo",
    subject="x",
    norm="melding-reactie",
    stage="response",
    family="item",
    deadline=OLD + 86_400,
    outcome="met",
    decided_at=OLD + 3600,
    achieved_at=OLD + 3600,
)
CALL = CallRecord(
    municipality="heiloo",
    subject="c",
    channel="telefoon",
    queue=None,
    segment="onbekend",
    queued_at=OLD,
    answered_at=OLD + 20,
    abandoned_at=None,
    ended_at=OLD + 200,
    resolved=True,
    outcome="answered",
)
FEEDBACK = FeedbackRecord(
    municipality="heiloo", key="k-old", channel="app", kind=None, score=8, given_at=OLD
)


def fill(store: OutcomeStore) -> None:
    store.write(
        OutcomeBatch(
            items=[
                replace(ITEM, subject="old-closed"),
                replace(ITEM, subject="old-open", closed_at=None, resolution=None, is_open=True),
                replace(ITEM, subject="new-closed", opened_at=NEW, closed_at=NEW + 60),
            ],
            norms=[replace(NORM, subject=s) for s in ("old-closed", "old-open", "new-closed")]
            + [replace(NORM, subject="old-call", family="call", norm="telefoon-opname")],
            calls=[
                replace(CALL, subject="old-call"),
                replace(CALL, subject="old-waiting", answered_at=None, outcome="waiting"),
            ],
            feedback=[FEEDBACK, replace(FEEDBACK, key="k-new", given_at=NEW)],
        )
    )


def subjects(store: OutcomeStore) -> dict[str, list[str]]:
    return {
        "items": sorted(r.subject for r in store.items_opened(0, 2e9)),
        "norms": sorted(r.subject for r in store.norms_for_items_opened(0, 2e9)),
        "calls": sorted(r.subject for r in store.calls_queued(0, 2e9)),
        "feedback": sorted(r.key for r in store.feedback_given(0, 2e9)),
    }


class TestPurge:
    """What finished before the cutoff goes; what is open, waiting or newer stays."""

    def test_purge_in_the_store(self, tmp_path: Path) -> None:
        with open_store(f"sqlite:///{tmp_path / 's.sqlite3'}") as store:
            fill(store)
            counts = store.purge(datetime(2024, 1, 1, tzinfo=AMS).timestamp())
            assert counts == {"norm rows": 2, "items": 1, "calls": 1, "feedback": 1}
            assert subjects(store) == {
                "items": ["new-closed", "old-open"],
                "norms": ["new-closed", "old-open"],
                "calls": ["old-waiting"],
                "feedback": ["k-new"],
            }
            assert store.purge(datetime(2024, 1, 1, tzinfo=AMS).timestamp())["items"] == 0

    def test_the_command(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 's.sqlite3'}"
        with open_store(url) as store:
            fill(store)
        assert main(["purge", "--before", "2024-01-01", "--store", url]) == 0
        with open_store(url) as store:
            assert subjects(store)["items"] == ["new-closed", "old-open"]

    def test_a_missing_store_is_an_error_not_a_new_file(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'nope.sqlite3'}"
        assert main(["purge", "--older-than-days", "30", "--store", url]) == 2
        assert not (tmp_path / "nope.sqlite3").exists()

    def test_older_than_days_counts_back_from_today(self) -> None:
        args = argparse.Namespace(before=None, older_than_days=10)
        assert cutoff(args, date(2024, 6, 11)) == datetime(2024, 6, 1, tzinfo=AMS).timestamp()

    def test_zero_days_is_refused(self) -> None:
        with pytest.raises(ValueError, match="at least 1"):
            cutoff(argparse.Namespace(before=None, older_than_days=0), date(2024, 6, 11))
