"""Norm stages, deadlines, pauses, withdrawals, calls and reopens, through the monitor."""

from __future__ import annotations

import pytest

from streams.core.config import load_norms, parse_norms
from streams.core.monitor import Monitor
from streams.core.shard import Shard
from tests.factories import event, opened, ts

WALL = 4_102_444_800.0  # 2100-01-01: no test event is "in the future"


def make(lateness: float = 0.0, norms_text: str | None = None) -> Monitor:
    config = parse_norms(norms_text) if norms_text else load_norms()
    return Monitor(config, lateness=lateness)


def feed(m: Monitor, *raws: bytes) -> list[str]:
    return [m.process(r, WALL) for r in raws]


def shard(m: Monitor, slug: str = "castricum") -> Shard:
    return m.shards[slug]


def outcome(m: Monitor, norm: str, result: str, slug: str = "castricum") -> int:
    return shard(m, slug).totals.outcomes(norm, result)


def overdue_at_risk(m: Monitor, norm: str, now: str) -> tuple[int, int]:
    s = shard(m)
    i = [n.id for n in s.norms].index(norm)
    overdue, at_risk = s.waiting_by_norm(ts(now))
    return sum(overdue[i]), sum(at_risk[i])


class TestResponseStage:
    """Response norms are met by item.responded or item.closed up to the deadline, else breached."""

    def test_met_on_the_last_minute_of_the_third_working_day(self) -> None:
        m = make()
        feed(m, opened("f1", "2024-05-13 10:00"), event("item.responded", "f1", "2024-05-16 23:59"))
        assert outcome(m, "melding-reactie", "met") == 1
        assert outcome(m, "melding-reactie", "breached") == 0

    def test_breached_at_the_deadline_without_any_further_event(self) -> None:
        m = make()
        feed(m, opened("f1", "2024-05-13 10:00"))
        m.advance(ts("2024-05-16 23:59"))
        assert outcome(m, "melding-reactie", "breached") == 0
        assert overdue_at_risk(m, "melding-reactie", "2024-05-16 23:59") == (0, 1)
        m.advance(ts("2024-05-17 00:00"))
        assert outcome(m, "melding-reactie", "breached") == 1
        assert overdue_at_risk(m, "melding-reactie", "2024-05-17 00:00") == (1, 0)

    def test_a_late_answer_does_not_turn_a_breach_into_met(self) -> None:
        m = make()
        feed(m, opened("f1", "2024-05-13 10:00"), event("item.responded", "f1", "2024-05-17 09:00"))
        assert outcome(m, "melding-reactie", "breached") == 1
        assert outcome(m, "melding-reactie", "met") == 0
        assert overdue_at_risk(m, "melding-reactie", "2024-05-17 09:00") == (0, 0)

    def test_a_late_answer_ends_overdue(self) -> None:
        m = make()
        feed(m, opened("f1", "2024-05-13 10:00"))
        m.advance(ts("2024-05-20 09:00"))
        assert overdue_at_risk(m, "melding-reactie", "2024-05-20 09:00") == (1, 0)
        feed(m, event("item.responded", "f1", "2024-05-20 09:30"))
        assert overdue_at_risk(m, "melding-reactie", "2024-05-20 09:30") == (0, 0)
        assert outcome(m, "melding-reactie", "breached") == 1

    def test_closing_counts_as_the_response(self) -> None:
        m = make()
        feed(m, opened("f1", "2024-05-13 10:00"), event("item.closed", "f1", "2024-05-14 10:00"))
        assert outcome(m, "melding-reactie", "met") == 1
        assert outcome(m, "melding-afhandeling", "met") == 1

    def test_later_responses_change_nothing(self) -> None:
        m = make()
        feed(
            m,
            opened("f1", "2024-05-13 10:00"),
            event("item.responded", "f1", "2024-05-14 10:00"),
            event("item.responded", "f1", "2024-05-20 10:00"),
        )
        assert outcome(m, "melding-reactie", "met") == 1
        assert outcome(m, "melding-reactie", "breached") == 0

    def test_at_risk_only_within_one_working_day(self) -> None:
        m = make()
        feed(m, opened("f1", "2024-05-13 10:00"))  # deadline: end of Thursday 16 May
        assert overdue_at_risk(m, "melding-reactie", "2024-05-15 12:00") == (0, 0)
        assert overdue_at_risk(m, "melding-reactie", "2024-05-16 00:00") == (0, 1)


class TestResolutionStage:
    """Resolution norms are met by item.closed up to the deadline."""

    def test_closed_within_ten_working_days_is_met(self) -> None:
        m = make()
        # opened Monday 13 May 2024; Whit Monday 20 May is a holiday: day 10 is Tuesday 28 May
        feed(m, opened("f1", "2024-05-13 10:00"), event("item.closed", "f1", "2024-05-28 23:00"))
        assert outcome(m, "melding-afhandeling", "met") == 1

    def test_closed_after_the_deadline_is_breached(self) -> None:
        m = make()
        feed(m, opened("f1", "2024-05-13 10:00"), event("item.closed", "f1", "2024-05-29 08:00"))
        assert outcome(m, "melding-afhandeling", "breached") == 1
        assert outcome(m, "melding-reactie", "breached") == 1

    def test_weeks_deadline_moves_past_a_holiday(self) -> None:
        m = make()
        # 6 weeks after Thursday 28 March 2024 is Ascension Day (9 May): end of Friday 10 May
        feed(m, opened("k1", "2024-03-28 10:00", kind="klacht", channel="brief"))
        m.advance(ts("2024-05-10 23:59"))
        assert outcome(m, "klacht-afhandeling", "breached") == 0
        m.advance(ts("2024-05-11 00:00"))
        assert outcome(m, "klacht-afhandeling", "breached") == 1


class TestWithdrawn:
    """Items withdrawn (ingetrokken, vervallen) before a deadline are excluded from that norm."""

    @pytest.mark.parametrize("resolution", ["ingetrokken", "vervallen"])
    def test_withdrawn_before_the_deadline_is_excluded(self, resolution: str) -> None:
        m = make()
        feed(
            m,
            opened("f1", "2024-05-13 10:00"),
            event("item.closed", "f1", "2024-05-14 10:00", resolution=resolution),
        )
        m.advance(ts("2024-07-01 00:00"))
        for norm in ("melding-reactie", "melding-afhandeling"):
            assert outcome(m, norm, "met") == 0
            assert outcome(m, norm, "breached") == 0

    def test_withdrawn_after_a_response_keeps_the_response_met(self) -> None:
        m = make()
        feed(
            m,
            opened("f1", "2024-05-13 10:00"),
            event("item.responded", "f1", "2024-05-13 11:00"),
            event("item.closed", "f1", "2024-05-14 10:00", resolution="ingetrokken"),
        )
        m.advance(ts("2024-07-01 00:00"))
        assert outcome(m, "melding-reactie", "met") == 1
        assert outcome(m, "melding-afhandeling", "met") == 0
        assert outcome(m, "melding-afhandeling", "breached") == 0

    def test_withdrawn_after_the_deadline_stays_breached(self) -> None:
        m = make()
        feed(
            m,
            opened("f1", "2024-05-13 10:00"),
            event("item.closed", "f1", "2024-05-20 10:00", resolution="ingetrokken"),
        )
        assert outcome(m, "melding-reactie", "breached") == 1
        assert overdue_at_risk(m, "melding-reactie", "2024-05-20 10:00") == (0, 0)


PAUSABLE = """
norms:
  - id: vraag-reactie
    applies_to: {kind: vraag}
    stage: response
    within: 3
    unit: workdays
    target: 0.9
    pausable: true
  - id: terugbel-uren
    applies_to: {kind: terugbelverzoek}
    stage: response
    within: 4
    unit: hours
    target: 0.9
    pausable: true
"""


class TestPauses:
    """Pausable norms stop their clock while the item waits on the person."""

    def test_a_working_day_paused_moves_a_workdays_deadline_one_working_day(self) -> None:
        m = make(norms_text=PAUSABLE)
        feed(
            m,
            opened("v1", "2024-05-13 10:00", kind="vraag", channel="email"),
            event("item.paused", "v1", "2024-05-14 10:00"),
            event("item.resumed", "v1", "2024-05-15 10:00"),
            event(
                "item.responded", "v1", "2024-05-17 20:00"
            ),  # Friday: met only thanks to the pause
        )
        assert outcome(m, "vraag-reactie", "met") == 1

    def test_without_the_pause_the_same_answer_is_late(self) -> None:
        m = make(norms_text=PAUSABLE)
        feed(
            m,
            opened("v1", "2024-05-13 10:00", kind="vraag", channel="email"),
            event("item.responded", "v1", "2024-05-17 20:00"),
        )
        assert outcome(m, "vraag-reactie", "breached") == 1

    def test_a_paused_item_is_not_breached_while_paused(self) -> None:
        m = make(norms_text=PAUSABLE)
        feed(
            m,
            opened("v1", "2024-05-13 10:00", kind="vraag", channel="email"),
            event("item.paused", "v1", "2024-05-14 10:00"),
        )
        m.advance(ts("2024-06-30 00:00"))
        assert outcome(m, "vraag-reactie", "breached") == 0
        feed(m, event("item.resumed", "v1", "2024-07-01 09:00"))
        m.advance(ts("2024-07-10 00:00"))
        assert outcome(m, "vraag-reactie", "breached") == 1

    def test_elapsed_units_move_by_the_elapsed_pause(self) -> None:
        m = make(norms_text=PAUSABLE)
        feed(
            m,
            opened("t1", "2024-05-13 10:00", kind="terugbelverzoek", channel="telefoon"),
            event("item.paused", "t1", "2024-05-13 11:00"),
            event("item.resumed", "t1", "2024-05-13 12:00"),
            event("item.responded", "t1", "2024-05-13 14:59"),
        )
        assert outcome(m, "terugbel-uren", "met") == 1

    def test_a_pause_after_the_deadline_changes_nothing(self) -> None:
        m = make(norms_text=PAUSABLE)
        feed(
            m,
            opened("t1", "2024-05-13 10:00", kind="terugbelverzoek", channel="telefoon"),
            event("item.paused", "t1", "2024-05-13 15:00"),
        )
        assert outcome(m, "terugbel-uren", "breached") == 1


def call(etype: str, subject: str, when: str, **data: object) -> bytes:
    return event(etype, subject, when, **data)


class TestCalls:
    """The answer stage: met when answered within 30 s; abandoned early is not in the norm."""

    def test_answered_within_30_seconds_is_met(self) -> None:
        m = make()
        feed(
            m,
            call("call.queued", "c1", "2024-05-13 10:00:00", channel="telefoon"),
            call("call.answered", "c1", "2024-05-13 10:00:30"),
        )
        assert outcome(m, "telefoon-opname", "met") == 1
        assert shard(m).totals.calls_total[("telefoon", "answered")] == 1
        assert shard(m).totals.calls_waiting["telefoon"] == 0

    def test_answered_after_30_seconds_is_breached(self) -> None:
        m = make()
        feed(
            m,
            call("call.queued", "c1", "2024-05-13 10:00:00", channel="telefoon"),
            call("call.answered", "c1", "2024-05-13 10:00:31"),
        )
        assert outcome(m, "telefoon-opname", "breached") == 1

    def test_abandoned_before_the_deadline_is_not_in_the_norm(self) -> None:
        m = make()
        feed(
            m,
            call("call.queued", "c1", "2024-05-13 10:00:00", channel="telefoon"),
            call("call.abandoned", "c1", "2024-05-13 10:00:10"),
        )
        m.advance(ts("2024-05-13 11:00"))
        assert outcome(m, "telefoon-opname", "met") == 0
        assert outcome(m, "telefoon-opname", "breached") == 0
        assert shard(m).totals.calls_total[("telefoon", "abandoned")] == 1

    def test_abandoned_after_the_deadline_is_breached(self) -> None:
        m = make()
        feed(
            m,
            call("call.queued", "c1", "2024-05-13 10:00:00", channel="telefoon"),
            call("call.abandoned", "c1", "2024-05-13 10:00:45"),
        )
        assert outcome(m, "telefoon-opname", "breached") == 1
        assert overdue_at_risk(m, "telefoon-opname", "2024-05-13 10:01") == (0, 0)

    def test_a_call_still_waiting_past_its_deadline_is_breached_and_overdue(self) -> None:
        m = make()
        feed(m, call("call.queued", "c1", "2024-05-13 10:00:00", channel="telefoon"))
        m.advance(ts("2024-05-13 10:01"))
        assert outcome(m, "telefoon-opname", "breached") == 1
        assert overdue_at_risk(m, "telefoon-opname", "2024-05-13 10:01") == (1, 0)
        assert shard(m).totals.calls_waiting["telefoon"] == 1

    def test_chat_calls_are_not_in_the_phone_norm(self) -> None:
        m = make()
        feed(
            m,
            call("call.queued", "c1", "2024-05-13 10:00:00", channel="chat"),
            call("call.answered", "c1", "2024-05-13 10:05"),
        )
        assert outcome(m, "telefoon-opname", "breached") == 0
        assert shard(m).totals.calls_total[("chat", "answered")] == 1


class TestReopenAndOpenItems:
    """Reopened items count as reopened; their earlier outcomes stand."""

    def test_reopen_counts_and_keeps_outcomes(self) -> None:
        m = make()
        feed(
            m,
            opened("f1", "2024-05-13 10:00"),
            event("item.closed", "f1", "2024-05-14 10:00"),
            event("item.reopened", "f1", "2024-05-15 10:00"),
        )
        s = shard(m).totals
        assert s.reopened["melding"] == 1
        assert s.open_items["melding"] == 1
        assert outcome(m, "melding-afhandeling", "met") == 1
        feed(m, event("item.closed", "f1", "2024-06-30 10:00"))
        assert s.open_items["melding"] == 0
        assert outcome(m, "melding-afhandeling", "met") == 1
        assert outcome(m, "melding-afhandeling", "breached") == 0


class TestDuplicates:
    """A second event with the same source and id changes nothing."""

    def test_duplicates_change_nothing_but_the_duplicate_counter(self) -> None:
        m = make()
        raws = [
            opened("f1", "2024-05-13 10:00", id="a"),
            event("item.responded", "f1", "2024-05-13 11:00", id="b"),
            event("item.closed", "f1", "2024-05-14 11:00", id="c"),
            event("item.reopened", "f1", "2024-05-15 11:00", id="d"),
            event("feedback.given", None, "2024-05-15 12:00", id="e", channel="app", score=8),
        ]
        feed(m, *raws)
        before = (
            dict(shard(m).totals.events_total),
            dict(shard(m).totals.outcomes_total),
            dict(shard(m).totals.reopened),
        )
        assert feed(m, *raws) == ["duplicate"] * len(raws)
        after = (
            dict(shard(m).totals.events_total),
            dict(shard(m).totals.outcomes_total),
            dict(shard(m).totals.reopened),
        )
        assert before == after
        assert shard(m).totals.duplicates == len(raws)

    def test_same_id_from_another_source_is_not_a_duplicate(self) -> None:
        m = make()
        feed(m, opened("f1", "2024-05-13 10:00", id="a", source="urn:nld:gemeente:castricum:fixi"))
        result = feed(
            m,
            event(
                "item.responded",
                "f1",
                "2024-05-13 11:00",
                id="a",
                source="urn:nld:gemeente:castricum:kcc",
            ),
        )
        assert result == ["accepted"]


class TestOutOfOrder:
    """Events that arrive before their subject's opening wait a grace period, then are rejected."""

    def test_a_response_before_the_opening_is_applied_once_the_item_opens(self) -> None:
        m = make(lateness=600)
        assert feed(m, event("item.responded", "f1", "2024-05-13 10:05")) == ["held"]
        feed(m, opened("f1", "2024-05-13 10:00"))
        m.finish()
        assert outcome(m, "melding-reactie", "met") == 1
        assert shard(m).totals.events_total["item.responded"] == 1
        assert not m.rejections

    def test_an_event_for_a_subject_never_opened_is_rejected_after_the_grace_period(self) -> None:
        m = make(lateness=600)
        feed(m, event("item.responded", "ghost", "2024-05-13 10:05"))
        feed(m, opened("f2", "2024-05-13 10:10"))
        assert not m.rejections
        feed(m, opened("f3", "2024-05-13 10:20"))
        assert [r.reason.value for r in m.take_rejections()] == ["unknown_subject"]
        assert m.rejected["unknown_subject"] == 1

    def test_a_second_different_opening_is_rejected(self) -> None:
        m = make()
        feed(m, opened("f1", "2024-05-13 10:00"))
        assert feed(m, opened("f1", "2024-05-13 11:00")) == ["rejected"]
        assert [r.reason.value for r in m.take_rejections()] == ["already_opened"]
