"""Pausable norms, worked through the contract's clarifications of December 2026 (section 3)."""

from __future__ import annotations

import pytest

from streams.core.config import parse_norms
from streams.core.monitor import Monitor
from streams.core.state import GROUPS
from tests.factories import event, opened, ts

WALL = 4_102_444_800.0  # 2100-01-01: no test event is "in the future"

NORMS = """
norms:
  - id: aanvraag-reactie
    applies_to: {kind: aanvraag}
    stage: response
    within: 3
    unit: workdays
    target: 0.9
    pausable: true
  - id: aanvraag-afhandeling
    applies_to: {kind: aanvraag}
    stage: resolution
    within: 10
    unit: workdays
    target: 0.9
    pausable: true
  - id: klacht-afhandeling
    applies_to: {kind: klacht}
    stage: resolution
    within: 6
    unit: weeks
    target: 1.0
    pausable: true
  - id: terugbel-uren
    applies_to: {kind: terugbelverzoek}
    stage: response
    within: 4
    unit: hours
    target: 0.9
    pausable: true
  - id: melding-reactie
    applies_to: {kind: melding}
    stage: response
    within: 3
    unit: workdays
    target: 0.9
  - id: telefoon-opname
    applies_to: {family: call, channel: telefoon}
    stage: answer
    within: 30
    unit: seconds
    target: 0.8
"""


def make(lateness: float = 0.0) -> Monitor:
    return Monitor(parse_norms(NORMS), lateness=lateness, track_changes=True)


def feed(m: Monitor, *raws: bytes) -> None:
    for raw in raws:
        m.process(raw, WALL)


def count(m: Monitor, norm: str, result: str) -> int:
    return m.shards["castricum"].totals.outcomes(norm, result)


def outcomes(m: Monitor, norm: str) -> dict[str, int]:
    return {r: count(m, norm, r) for r in ("met", "breached")}


def overdue_at_risk(m: Monitor, norm: str, now: str) -> tuple[int, int]:
    shard = m.shards["castricum"]
    i = [n.id for n in shard.norms].index(norm)
    overdue, at_risk = shard.waiting_by_norm(ts(now))
    return sum(overdue[i]), sum(at_risk[i])


def aanvraag(subject: str, when: str) -> bytes:
    return opened(subject, when, kind="aanvraag", channel="webformulier")


def pending_rows(m: Monitor) -> list[tuple[str, str]]:
    return [(r.subject, r.norm) for r in m.take_changes().norms if r.outcome == "pending"]


class TestClosedWhilePaused:
    """An item that reaches its stage while paused is decided at that moment (the issue's case)."""

    def test_the_reported_application_is_met_and_nothing_stays_pending(self) -> None:
        m = make()
        feed(
            m,
            aanvraag("a1", "2026-03-02 10:00"),  # Monday
            event("item.paused", "a1", "2026-03-04 10:00"),  # Wednesday
            event("item.closed", "a1", "2026-03-06 10:00"),  # Friday, still paused
            aanvraag("a2", "2026-03-02 10:00"),
            event("item.closed", "a2", "2026-03-06 10:00"),
        )
        m.finish(ts("2026-06-01 00:00"))
        assert outcomes(m, "aanvraag-afhandeling") == {"met": 2, "breached": 0}
        # the response deadline was Thursday 24:00: a1's pause moved it, a2 answered late
        assert outcomes(m, "aanvraag-reactie") == {"met": 1, "breached": 1}
        assert pending_rows(m) == []

    def test_responded_while_paused_decides_only_the_response_norm(self) -> None:
        m = make()
        feed(
            m,
            aanvraag("a1", "2026-03-02 10:00"),
            event("item.paused", "a1", "2026-03-03 10:00"),
            event("item.responded", "a1", "2026-03-20 10:00"),  # long after the unpaused deadline
        )
        m.advance(ts("2026-04-30 00:00"))
        assert outcomes(m, "aanvraag-reactie") == {"met": 1, "breached": 0}
        # the resolution norm still waits on the person: not decided, not overdue, not at risk
        assert outcomes(m, "aanvraag-afhandeling") == {"met": 0, "breached": 0}
        assert overdue_at_risk(m, "aanvraag-afhandeling", "2026-04-30 00:00") == (0, 0)

    def test_a_response_while_paused_ends_the_pause_for_that_norm_only(self) -> None:
        m = make()
        feed(
            m,
            aanvraag("a1", "2026-03-02 10:00"),
            event("item.paused", "a1", "2026-03-03 10:00"),
            event("item.responded", "a1", "2026-03-04 10:00"),
            event("item.resumed", "a1", "2026-03-09 10:00"),  # Monday: 4 working days paused
        )
        # resolution: 10 working days from Monday 2 March = end of Monday 16 March; + 4 = Fri 20
        m.advance(ts("2026-03-20 23:59"))
        assert outcomes(m, "aanvraag-afhandeling") == {"met": 0, "breached": 0}
        m.advance(ts("2026-03-21 00:00"))
        assert outcomes(m, "aanvraag-afhandeling") == {"met": 0, "breached": 1}

    def test_a_reopen_after_a_close_while_paused_keeps_the_outcomes(self) -> None:
        m = make()
        feed(
            m,
            aanvraag("a1", "2026-03-02 10:00"),
            event("item.paused", "a1", "2026-03-04 10:00"),
            event("item.closed", "a1", "2026-03-06 10:00"),
            event("item.reopened", "a1", "2026-03-10 10:00"),
            event("item.resumed", "a1", "2026-03-11 10:00"),
        )
        m.finish(ts("2026-12-31 00:00"))
        totals = m.shards["castricum"].totals
        assert totals.reopened["aanvraag"] == 1
        assert totals.open_items["aanvraag"] == 1
        assert outcomes(m, "aanvraag-afhandeling") == {"met": 1, "breached": 0}
        assert outcomes(m, "aanvraag-reactie") == {"met": 1, "breached": 0}


class TestPausedTimeIsExact:
    """Paused time is working time for workdays and elapsed time otherwise, not whole days."""

    @pytest.mark.parametrize(
        ("answered", "result"),
        [
            ("2026-03-10 23:59", "met"),
            ("2026-03-11 00:00", "met"),
            ("2026-03-11 00:01", "breached"),
        ],
    )
    def test_a_pause_over_a_weekend_costs_its_working_hours_only(
        self, answered: str, result: str
    ) -> None:
        # opened Wednesday 4 March: 3 working days end Monday 9 March 24:00. Paused Friday 10:00
        # to Monday 10:00: 14 h of Friday + 10 h of Monday = one working day -> Tuesday 24:00
        m = make()
        feed(
            m,
            aanvraag("a1", "2026-03-04 10:00"),
            event("item.paused", "a1", "2026-03-06 10:00"),
            event("item.resumed", "a1", "2026-03-09 10:00"),
            event("item.responded", "a1", answered),
        )
        m.advance(ts("2026-03-20 00:00"))
        assert count(m, "aanvraag-reactie", result) == 1

    def test_a_pause_within_a_weekend_moves_nothing(self) -> None:
        m = make()
        feed(
            m,
            aanvraag("a1", "2026-03-04 10:00"),
            event("item.paused", "a1", "2026-03-07 10:00"),  # Saturday
            event("item.resumed", "a1", "2026-03-08 20:00"),  # Sunday
            event("item.responded", "a1", "2026-03-10 00:01"),
        )
        assert outcomes(m, "aanvraag-reactie") == {"met": 0, "breached": 1}

    @pytest.mark.parametrize(
        ("answered", "result"), [("2026-04-30 23:59", "met"), ("2026-05-01 00:01", "breached")]
    )
    def test_a_pause_over_koningsdag(self, answered: str, result: str) -> None:
        # opened Thursday 23 April 2026: 3 working days are Fri 24, Tue 28 (Monday 27 April is
        # Koningsdag) and Wed 29. Paused Fri 12:00 to Tue 12:00: 12 h + 12 h = one working day
        m = make()
        feed(
            m,
            aanvraag("a1", "2026-04-23 09:00"),
            event("item.paused", "a1", "2026-04-24 12:00"),
            event("item.resumed", "a1", "2026-04-28 12:00"),
            event("item.responded", "a1", answered),
        )
        m.advance(ts("2026-05-10 00:00"))
        assert count(m, "aanvraag-reactie", result) == 1

    def test_elapsed_units_are_exact_to_the_second(self) -> None:
        m = make()
        for subject, answered in (("t1", "2026-03-02 15:00:00"), ("t2", "2026-03-02 15:00:01")):
            feed(
                m,
                opened(subject, "2026-03-02 10:00", kind="terugbelverzoek", channel="telefoon"),
                event("item.paused", subject, "2026-03-02 11:00"),
                event("item.resumed", subject, "2026-03-02 12:00"),
                event("item.responded", subject, answered),
            )
        assert outcomes(m, "terugbel-uren") == {"met": 1, "breached": 1}


class TestWeeksNormEndingOnASunday:
    """A paused week deadline landing on a non-working day moves to the next working day's end."""

    # 6 weeks from Wednesday 7 January 2026: the end of Wednesday 18 February. Paused 84 hours
    # (Monday 12 January 10:00 to Thursday 15 January 22:00): Sunday 22 February 12:00, which is not
    # a working day, so the deadline is the end of Monday 23 February.
    EVENTS = (
        ("item.paused", "2026-01-12 10:00"),
        ("item.resumed", "2026-01-15 22:00"),
    )

    def klacht(self, m: Monitor, subject: str) -> None:
        feed(m, opened(subject, "2026-01-07 10:00", kind="klacht", channel="brief"))
        feed(m, *(event(t, subject, when) for t, when in self.EVENTS))

    def test_breached_only_after_the_end_of_monday(self) -> None:
        m = make()
        self.klacht(m, "k1")
        m.advance(ts("2026-02-23 23:59"))
        assert outcomes(m, "klacht-afhandeling") == {"met": 0, "breached": 0}
        m.advance(ts("2026-02-24 00:00"))
        assert outcomes(m, "klacht-afhandeling") == {"met": 0, "breached": 1}

    @pytest.mark.parametrize(
        ("closed", "result"), [("2026-02-24 00:00", "met"), ("2026-02-24 00:00:01", "breached")]
    )
    def test_both_sides_of_the_moved_deadline(self, closed: str, result: str) -> None:
        m = make()
        self.klacht(m, "k1")
        feed(m, event("item.closed", "k1", closed))
        m.advance(ts("2026-03-31 00:00"))
        assert count(m, "klacht-afhandeling", result) == 1


class TestPausedItemsAreNeverOverdueOrAtRisk:
    """While an item waits on the person it is neither overdue nor at risk, and never decided."""

    def test_paused_past_the_unpaused_deadline(self) -> None:
        m = make()
        feed(m, aanvraag("a1", "2026-03-02 10:00"), event("item.paused", "a1", "2026-03-04 10:00"))
        assert overdue_at_risk(m, "aanvraag-reactie", "2026-03-04 10:00") == (0, 0)
        m.advance(ts("2026-06-01 00:00"))
        assert overdue_at_risk(m, "aanvraag-reactie", "2026-06-01 00:00") == (0, 0)
        assert outcomes(m, "aanvraag-reactie") == {"met": 0, "breached": 0}

    def test_a_breached_item_paused_afterwards_leaves_the_overdue_count_until_resumed(
        self,
    ) -> None:
        m = make()
        feed(m, aanvraag("a1", "2026-03-02 10:00"))
        m.advance(ts("2026-03-06 09:00"))  # the response deadline was Thursday 24:00
        assert overdue_at_risk(m, "aanvraag-reactie", "2026-03-06 09:00") == (1, 0)
        feed(m, event("item.paused", "a1", "2026-03-06 10:00"))
        assert overdue_at_risk(m, "aanvraag-reactie", "2026-03-06 10:00") == (0, 0)
        feed(m, event("item.resumed", "a1", "2026-03-09 10:00"))
        assert overdue_at_risk(m, "aanvraag-reactie", "2026-03-09 10:00") == (1, 0)
        feed(m, event("item.responded", "a1", "2026-03-09 11:00"))
        assert overdue_at_risk(m, "aanvraag-reactie", "2026-03-09 11:00") == (0, 0)
        assert outcomes(m, "aanvraag-reactie") == {"met": 0, "breached": 1}

    def test_a_breached_item_closed_while_paused_leaves_no_overdue_behind(self) -> None:
        m = make()
        feed(m, aanvraag("a1", "2026-03-02 10:00"))
        m.advance(ts("2026-03-06 09:00"))
        feed(
            m,
            event("item.paused", "a1", "2026-03-06 10:00"),
            event("item.closed", "a1", "2026-03-07 10:00"),
        )
        assert overdue_at_risk(m, "aanvraag-reactie", "2026-03-07 10:00") == (0, 0)
        assert m.shards["castricum"].totals.overdue_decided == [[0] * GROUPS] * 6

    def test_a_norm_that_is_not_pausable_keeps_its_clock(self) -> None:
        m = make()
        feed(
            m,
            opened("f1", "2026-03-02 10:00"),
            event("item.paused", "f1", "2026-03-03 10:00"),
        )
        m.advance(ts("2026-03-06 00:00"))
        assert outcomes(m, "melding-reactie") == {"met": 0, "breached": 1}
        assert overdue_at_risk(m, "melding-reactie", "2026-03-06 00:00") == (1, 0)


class TestBoundaries:
    """Equal to the deadline is within it; a call abandoned at its deadline is excluded."""

    @pytest.mark.parametrize(
        ("answered", "result"), [("2026-03-06 00:00", "met"), ("2026-03-06 00:00:01", "breached")]
    )
    def test_response_exactly_at_the_deadline(self, answered: str, result: str) -> None:
        m = make()
        feed(m, aanvraag("a1", "2026-03-02 10:00"), event("item.responded", "a1", answered))
        m.advance(ts("2026-03-10 00:00"))
        assert count(m, "aanvraag-reactie", result) == 1

    def test_a_pause_that_starts_exactly_at_the_deadline_still_stops_the_clock(self) -> None:
        m = make()
        feed(
            m,
            opened("t1", "2026-03-02 10:00", kind="terugbelverzoek", channel="telefoon"),
            event("item.paused", "t1", "2026-03-02 14:00"),
            event("item.responded", "t1", "2026-03-02 18:00"),
        )
        assert outcomes(m, "terugbel-uren") == {"met": 1, "breached": 0}

    @pytest.mark.parametrize(
        ("abandoned", "met", "breached"),
        [("2026-03-02 10:00:30", 0, 0), ("2026-03-02 10:00:31", 0, 1)],
    )
    def test_a_call_abandoned_at_its_deadline_is_excluded(
        self, abandoned: str, met: int, breached: int
    ) -> None:
        m = make()
        feed(
            m,
            event("call.queued", "c1", "2026-03-02 10:00:00", channel="telefoon"),
            event("call.abandoned", "c1", abandoned),
        )
        m.advance(ts("2026-03-02 11:00"))
        assert outcomes(m, "telefoon-opname") == {"met": met, "breached": breached}

    def test_a_call_answered_at_its_deadline_is_met(self) -> None:
        m = make()
        feed(
            m,
            event("call.queued", "c1", "2026-03-02 10:00:00", channel="telefoon"),
            event("call.answered", "c1", "2026-03-02 10:00:30"),
        )
        assert outcomes(m, "telefoon-opname") == {"met": 1, "breached": 0}
