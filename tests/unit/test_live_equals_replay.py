"""The live runtime's state equals the replay core's for any order of events (issue 13).

Two sources of one municipality — a call-record export and a Fixi export, each in its own
time order (a few events swapped), the second possibly weeks older than the first — are
interleaved at random and applied twice: by `LiveRuntime` (event clock) with random batch
boundaries, rows taken at random moments, checkpoints captured and restored into a fresh
runtime, and by a plain `Monitor` that sees nothing but the events, as `contactmon replay
--no-store` does. The order of the events may change the figures; what the driver does between
events must not: the shard's whole state (its checkpoint bytes) and its metrics are the same on
both sides, also after the end of input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from streams.core import snapshot
from streams.core.config import load_norms
from streams.core.monitor import Monitor
from streams.exposition import CoreCollector, monitor_registry, render
from streams.live import runtime as runtime_module
from streams.live.runtime import Claim, LiveRuntime
from streams.replay import replay
from streams.store import open_store
from tests.factories import AMS, event, opened, ts

PARTITION = {"bergen": 0, "castricum": 1, "heiloo": 1, "uitgeest": 2}
P = 1
WALL = ts("2030-01-01 00:00")  # the wall clock: only the decoder's future check reads it
BASE = ts("2024-03-04 08:00")
DAY = 86_400
CONFIG = load_norms()


def when(t: float) -> str:
    return datetime.fromtimestamp(t, AMS).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Timed:
    time: float
    raw: bytes


# --- the two sources --------------------------------------------------------------------------


@st.composite
def calls(draw: st.DrawFn, start: float) -> list[Timed]:
    """Phone calls in time order; some get a later event (a repeated end, or the same call id
    queued again) a day or more after they ended, when the core may have evicted them."""
    out: list[Timed] = []
    for i in range(draw(st.integers(1, 8))):
        subject, t = f"call-{i}", start + draw(st.integers(0, 4 * DAY))
        out.append(Timed(t, event("call.queued", subject, when(t), id=f"q{i}", channel="telefoon")))
        wait = draw(st.sampled_from([0, 10, 29, 30, 31, 45, 300, 5_000]))
        kind = draw(st.sampled_from(["call.answered", "call.abandoned"]))
        out.append(Timed(t + wait, event(kind, subject, when(t + wait), id=f"a{i}")))
        end = t + wait + draw(st.integers(0, 1_800))
        out.append(Timed(end, event("call.ended", subject, when(end), id=f"e{i}", resolved=True)))
        if draw(st.booleans()):
            later = end + draw(st.sampled_from([DAY - 60, DAY + 60, 2 * DAY, 5 * DAY]))
            again = draw(st.sampled_from(["call.ended", "call.queued"]))
            extra = {"resolved": False} if again == "call.ended" else {"channel": "telefoon"}
            out.append(Timed(later, event(again, subject, when(later), id=f"x{i}", **extra)))
    return sorted(out, key=lambda e: e.time)


@st.composite
def items(draw: st.DrawFn, start: float) -> list[Timed]:
    """Fixi reports in time order: answered within hours or days, some closed, some reopened
    long after (past the 90 days a closed item is kept)."""
    out: list[Timed] = []
    for i in range(draw(st.integers(1, 6))):
        subject, t = f"melding-{i}", start + draw(st.integers(0, 10 * DAY))
        out.append(Timed(t, opened(subject, when(t), id=f"o{i}")))
        if draw(st.booleans()):
            r = t + draw(st.integers(0, 6 * DAY))
            out.append(Timed(r, event("item.responded", subject, when(r), id=f"r{i}")))
        if draw(st.booleans()):
            c = t + draw(st.integers(0, 15 * DAY))
            resolution = draw(st.sampled_from(["afgehandeld", "ingetrokken"]))
            closed = event("item.closed", subject, when(c), id=f"c{i}", resolution=resolution)
            out.append(Timed(c, closed))
            if draw(st.booleans()):
                z = c + draw(st.sampled_from([89 * DAY, 91 * DAY]))
                out.append(Timed(z, event("item.reopened", subject, when(z), id=f"z{i}")))
    return sorted(out, key=lambda e: e.time)


@dataclass(frozen=True)
class Scenario:
    lateness: float
    lines: list[bytes]
    cuts: list[tuple[int, str]]  # (after how many events, what the driver does then)
    rows_every: int


ACTIONS = ["batch", "take rows", "capture", "restore"]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    first = draw(calls(BASE))
    # the second source may be older than the first one's clock, by up to three weeks
    second = draw(items(BASE + draw(st.integers(-21, 7)) * DAY))
    picks = draw(st.lists(st.booleans(), min_size=len(first) + len(second)))
    merged, a, b = [], iter(first), iter(second)
    for pick in picks:  # an interleaving: each source keeps its own order
        nxt = next(a, None) if pick else next(b, None)
        if nxt is not None:
            merged.append(nxt.raw)
    merged += [e.raw for e in a] + [e.raw for e in b]
    n = len(merged)
    for i in draw(st.lists(st.integers(0, n - 2), max_size=4)):  # a few events out of order
        merged[i], merged[i + 1] = merged[i + 1], merged[i]
    cuts = draw(st.lists(st.tuples(st.integers(0, n), st.sampled_from(ACTIONS)), max_size=10))
    return Scenario(
        lateness=draw(st.sampled_from([0.0, 300.0, 3_600.0])),
        lines=merged,
        cuts=sorted(cuts),
        rows_every=draw(st.sampled_from([1, 3, 500])),
    )


# --- the two drivers --------------------------------------------------------------------------


class NoStore:
    """The runtime's store, never called: captures and restores here do no store I/O."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the store was called: {name}")


def fresh_runtime(lateness: float) -> LiveRuntime:
    rt = LiveRuntime(
        CONFIG,
        NoStore(),  # type: ignore[arg-type]
        group="g",
        topic="t",
        partition_of=PARTITION.__getitem__,
        lateness=lateness,
        wall_clock=False,
        clock=lambda: WALL,
    )
    rt.adopt(Claim(P, 1, None))
    return rt


@dataclass
class _Record:
    offset: int
    value: bytes
    headers: Sequence[tuple[str, bytes]] = ()


def assert_swept(monitor: Monitor) -> None:
    """No deadline before the cutoff is left undecided: an end of input (`contactmon replay`)
    or a later event has nothing to decide that the events so far did not."""
    for shard in monitor.shards.values():
        heap = shard.parts.index.heap
        assert not heap or heap[0][0] >= shard.parts.clock.cutoff


def run_live(s: Scenario) -> LiveRuntime:
    """The worker's runtime over ``s.lines``, doing ``s.cuts`` between them."""
    rt = fresh_runtime(s.lateness)
    done = 0
    with mock.patch.object(runtime_module, "ROWS_EVERY", s.rows_every):
        for at, action in [*s.cuts, (len(s.lines), "batch")]:
            records = [_Record(o, s.lines[o]) for o in range(done, at)]
            if records:
                batch = rt.handle_batch(P, records)
                assert batch.gap is None
                assert batch.applied == len(records)
                assert_swept(rt.monitor)
            done = max(done, at)
            if action == "take rows":
                rt.owned[P].rows.take(rt.owned_shards())
            elif action in ("capture", "restore"):
                capture = rt.capture([P], force=True)
                if action == "restore":  # another worker goes on from the checkpoint
                    rt = fresh_runtime(s.lateness)
                    rt.adopt(Claim(P, 2, capture.checkpoints[P]))
    return rt


def run_replay(s: Scenario) -> Monitor:
    """The replay core: the same events in the same order, nothing in between."""
    monitor = Monitor(CONFIG, lateness=s.lateness)
    for line in s.lines:
        monitor.process(line, WALL)
    return monitor


def live_exposition(rt: LiveRuntime) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CoreCollector(rt.owned_shards, lambda: dict(rt.rejected_totals())))
    return render(registry)


def replay_exposition(monitor: Monitor) -> bytes:
    """The replay's metrics of the partition's municipalities (the runtime exports no other)."""
    shards = [monitor.shards[slug] for slug in PARTITION if PARTITION[slug] == P]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CoreCollector(lambda: shards, lambda: monitor.rejected))
    return render(registry)


def state(monitor: Monitor) -> bytes:
    return snapshot.dump([monitor.shards["castricum"]], CONFIG)


def assert_same(rt: LiveRuntime, monitor: Monitor) -> None:
    assert live_exposition(rt) == replay_exposition(monitor)
    assert state(rt.monitor) == state(monitor)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_the_live_runtime_ends_where_the_replay_core_ends(s: Scenario) -> None:
    rt, monitor = run_live(s), run_replay(s)
    assert_same(rt, monitor)
    # the end of input decides whatever either side still holds: still the same
    rt.monitor.finish()
    for rejection in rt.monitor.take_rejections():  # counted as the runtime counts dead letters
        rt.owned[P].rejected[rejection.reason.value] += 1
    monitor.finish()
    assert_same(rt, monitor)


# --- the import test's case, and replay with and without a store --------------------------------


def test_calls_older_than_the_clock_are_decided_when_they_arrive(tmp_path: Path) -> None:
    """Heiloo in the import test: a Fixi export moved the clock to April, then the call records
    of March came. A call answered after 30 seconds is breached when it arrives, not at whatever
    moves the clock next — which for a worker on event time may never come, while `contactmon
    replay` does it at the end of its input: the worker's figures were not the replay's."""
    lines = [
        opened("m1", "2024-04-01 09:00"),
        event("call.queued", "c1", "2024-03-05 10:00:00", channel="telefoon"),
        event("call.answered", "c1", "2024-03-05 10:02:00"),
        event("call.ended", "c1", "2024-03-05 10:05:00", resolved=True),
    ]
    rt = run_live(Scenario(lateness=0.0, lines=lines, cuts=[], rows_every=500))
    assert rt.monitor.shards["castricum"].totals.outcomes("telefoon-opname", "breached") == 1
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    replayed, _ = replay([path], CONFIG, store_url=None, lateness=0.0, now=WALL)
    assert live_exposition(rt) == replay_exposition(replayed)
    assert state(rt.monitor) == state(replayed)


def test_when_rows_are_taken_changes_no_eviction() -> None:
    """A call is evicted a day after it ended whether its rows were taken or not; the same call
    id queued again two days later is a new call on both sides (it used to be `already_opened`
    where the rows had not been taken yet)."""
    lines = [
        event("call.queued", "c1", "2024-03-05 10:00", channel="telefoon"),
        event("call.answered", "c1", "2024-03-05 10:00:20"),
        event("call.ended", "c1", "2024-03-05 10:05", resolved=True),
        event("call.queued", "c2", "2024-03-06 10:06", channel="telefoon"),
        event("call.queued", "c1", "2024-03-07 10:00", channel="telefoon"),
    ]
    s = Scenario(lateness=0.0, lines=lines, cuts=[], rows_every=500)
    rt = run_live(s)
    assert rt.owned[P].rejected["already_opened"] == 0
    assert rt.monitor.shards["castricum"].totals.calls_waiting["telefoon"] == 2
    assert_same(rt, run_replay(s))


def test_a_checkpoint_changes_no_expiry_of_held_events() -> None:
    """Held events expire when their time falls behind the cutoff, whatever order they came in:
    a checkpoint keeps them in time order, so expiring in arrival order (a later event held
    first kept an earlier one from expiring) made a restored worker differ from the replay."""
    lines = [
        opened("m0", "2024-03-04 10:00"),
        event("item.responded", "ghost-a", "2024-03-04 12:00"),
        event("item.responded", "ghost-b", "2024-03-04 11:10"),
        opened("m1", "2024-03-04 12:30"),  # the cutoff passes ghost-b, not ghost-a
    ]
    for cuts in ([], [(3, "restore")]):
        s = Scenario(lateness=3_600.0, lines=lines, cuts=cuts, rows_every=500)
        rt = run_live(s)
        assert rt.owned[P].rejected["unknown_subject"] == 1
        assert rt.monitor.shards["castricum"].held_count() == 1
        assert_same(rt, run_replay(s))


@pytest.mark.parametrize("flush_every", [1, 2, 50_000])
def test_replay_with_a_store_equals_replay_without(
    tmp_path: Path, flush_every: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`contactmon replay` takes rows every FLUSH_EVERY lines, or never with --no-store; the
    figures are the same either way, and the store gets the last row of every subject, also of
    one evicted before its rows were taken."""
    lines = [
        event("call.queued", "c1", "2024-03-05 10:00", channel="telefoon"),
        event("call.answered", "c1", "2024-03-05 10:01"),
        event("call.ended", "c1", "2024-03-05 10:05", resolved=True),
        event("call.queued", "c2", "2024-03-05 11:00", channel="telefoon"),
        event("call.answered", "c2", "2024-03-05 11:00:10"),
        event("call.ended", "c2", "2024-03-05 11:05", resolved=True),
        opened("m1", "2024-03-06 12:00"),
        event("call.queued", "c1", "2024-03-07 10:00", channel="telefoon"),
        event("call.abandoned", "c1", "2024-03-07 10:00:10"),
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    monkeypatch.setattr("streams.replay.FLUSH_EVERY", flush_every)
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    with_store, _ = replay([path], CONFIG, store_url=url, lateness=0.0, now=WALL)
    without, _ = replay([path], CONFIG, store_url=None, lateness=0.0, now=WALL)
    assert render(monitor_registry(with_store)) == render(monitor_registry(without))
    assert state(with_store) == state(without)
    assert "c2" not in without.shards["castricum"].calls  # evicted a day after it ended
    with open_store(url) as store:
        rows = {c.subject: c for c in store.calls_queued(0, WALL)}
    assert set(rows) == {"c1", "c2"}
    assert (rows["c1"].queued_at, rows["c1"].outcome) == (ts("2024-03-07 10:00"), "abandoned")
    assert (rows["c2"].ended_at, rows["c2"].resolved) == (ts("2024-03-05 11:05"), True)
