"""The shard's parts on their own: deadline index, aggregates, held events, seen keys."""

from __future__ import annotations

from events.decode import Decoder, Event
from streams.core.aggregates import Aggregates
from streams.core.deadline_index import DeadlineIndex
from streams.core.feedback import give_feedback
from streams.core.held import HeldEvents
from streams.core.monitor import _key
from streams.core.seen_keys import SeenKeys
from streams.core.state import (
    BREACHED,
    MET,
    Profile,
    pack_closing,
    unpack_closing,
    with_outcome,
)
from tests.factories import event

WALL = 4_102_444_800.0
DECODER = Decoder(("castricum",), max_future=600.0)


def decoded(raw: bytes) -> Event:
    ev = DECODER.decode(raw, WALL)
    assert isinstance(ev, Event)
    return ev


class TestDeadlineIndex:
    """Buckets pop in deadline order once; waiting counts follow add and stop_waiting."""

    def test_due_buckets_pop_earliest_first_and_only_once(self) -> None:
        index = DeadlineIndex()
        index.add("b", 0, 20.0)
        index.add("a", 0, 10.0)
        index.add("c", 1, 10.0)
        index.add("d", 0, 30.0)
        popped = [(n, due, subjects) for n, due, subjects in index.pop_due(20.0)]
        assert popped == [(0, 10.0, ["a"]), (1, 10.0, ["c"]), (0, 20.0, ["b"])]
        assert list(index.pop_due(20.0)) == []
        assert list(index.waiting_counts()) == [(0, 30.0, 0, 1)]

    def test_stop_waiting_counts_down_and_not_waiting_entries_do_not_count(self) -> None:
        index = DeadlineIndex(groups=2)
        index.add("a", 0, 10.0, 1)
        index.add("b", 0, 10.0, 1)
        index.add("e", 0, 10.0, 0)
        index.add("c", 0, 10.0, waiting=False)
        index.stop_waiting(0, 10.0, 1)
        index.stop_waiting(0, None)  # a paused subject was indexed nowhere
        assert list(index.waiting_counts()) == [(0, 10.0, 0, 1), (0, 10.0, 1, 1)]
        assert [s for _, _, s in index.pop_due(10.0)] == [["a", "b", "e", "c"]]


class TestAggregates:
    """Decisions count once and land in the compliance window of their decision time."""

    def test_decisions_and_a_moved_decision(self) -> None:
        totals = Aggregates(("reactie",))
        resident = Profile("item", "melding", "app", "inwoner", None, None, None, None, (0,))
        totals.decided(0, resident, MET, 3600.0)
        totals.decided(0, resident, BREACHED, 7200.0)
        totals.decision_moved(0, resident, 3600.0, 1800.0)
        totals.advance_windows(10_000.0)
        assert totals.outcomes("reactie", "met") == totals.outcomes("reactie", "breached") == 1
        assert totals.outcomes_total[("reactie", "inwoner", "overig", "met")] == 1
        assert list(totals.compliance[0][0].totals("1d")) == [1, 2]

    def test_scores_per_channel(self) -> None:
        totals = Aggregates(())
        totals.score("telefoon", 100.0, 8)
        totals.score("telefoon", 200.0, 6)
        totals.advance_windows(300.0)
        assert list(totals.satisfaction["telefoon"].totals("7d")) == [14, 2]


class TestHeldEvents:
    """Held events are released oldest first, or expire behind the cutoff."""

    def test_release_sorts_by_event_time(self) -> None:
        held = HeldEvents()
        late = decoded(event("item.closed", "f1", "2024-05-14 10:00"))
        early = decoded(event("item.responded", "f1", "2024-05-13 12:00"))
        held.hold("f1", late)
        held.hold("f1", early)
        assert "f1" in held
        assert len(held) == 2
        assert held.release("f1") == [early, late]
        assert held.release("f1") == []

    def test_expire_returns_only_what_is_behind_the_cutoff(self) -> None:
        held = HeldEvents()
        old = decoded(event("item.responded", "f1", "2024-05-13 12:00"))
        new = decoded(event("item.responded", "f2", "2024-05-20 12:00"))
        held.hold("f1", old)
        held.hold("f2", new)
        assert held.expire(new.time) == [old]
        assert held.expire_all() == [new]
        assert len(held) == 0


class TestSeenKeys:
    """A key counts once within the horizon and is forgotten after it."""

    def test_feedback_duplicates_within_the_horizon_and_pruning(self) -> None:
        seen, totals = SeenKeys(), Aggregates(())
        ev = decoded(event("feedback.given", None, "2024-05-13 12:00", channel="app", score=7))
        key = b"12345678"
        row = give_feedback(ev, key, seen, totals)
        assert row is not None
        assert (row.channel, row.score, row.key) == ("app", 7, key.hex())
        assert give_feedback(ev, key, seen, totals) is None
        assert totals.events_total["feedback.given"] == 1
        seen.prune(ev.time + 2 * 86_400)
        assert len(seen) == 0
        assert give_feedback(ev, key, seen, totals) is not None

    def test_a_subjects_keys_are_remembered_one_by_one(self) -> None:
        seen = SeenKeys()
        seen.add_all(b"aaaaaaaabbbbbbbb", 0.0)
        assert b"aaaaaaaa" in seen
        assert b"bbbbbbbb" in seen
        assert b"aaaabbbb" not in seen


class TestPackedFields:
    """Outcomes and closings pack into small ints and come back unchanged."""

    def test_outcomes_pack_per_position(self) -> None:
        packed = with_outcome(with_outcome(0, 0, MET), 3, BREACHED)
        assert (packed & 7, (packed >> 9) & 7) == (MET, BREACHED)

    def test_closings_round_trip(self) -> None:
        for resolution in ("afgehandeld", "doorgestuurd", "ingetrokken", "vervallen"):
            for upheld in (None, False, True):
                assert unpack_closing(pack_closing(resolution, upheld)) == (resolution, upheld)


class TestDedupeKey:
    """The de-duplication key is BLAKE2b-64 of source and id, pinned: stored rows depend on it."""

    def test_the_key_is_pinned(self) -> None:
        ev = decoded(
            event(
                "item.opened",
                "f1",
                "2024-05-13 10:00",
                id="evt-1",
                source="urn:nld:gemeente:castricum:fixi",
                kind="melding",
                channel="app",
            )
        )
        assert _key(ev).hex() == "8f11f01055d07d77"
