"""Properties of pausable norms: any sequence of pause, resume, respond and close events gives
every norm exactly one outcome once it is due, the one a from-scratch reading of the contract
gives, and the shard's bookkeeping (waiting counts, overdue, counters) agrees with its items."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.config import MonitorConfig, Norm, parse_norms
from streams.core.deadlines import deadline, paused_amount
from streams.core.monitor import Monitor
from streams.core.shard import Shard
from streams.core.state import (
    BREACHED,
    GROUPS,
    MET,
    OUTCOME_NAMES,
    PENDING,
    VERY_LATE,
    is_breach,
    outcome_at,
)
from tests.factories import event

AMS = ZoneInfo("Europe/Amsterdam")
WALL = 4_102_444_800.0
NORMS = """
norms:
  - {id: reactie, applies_to: {kind: aanvraag}, stage: response, within: 3, unit: workdays,
     target: 0.9, pausable: true}
  - {id: afhandeling, applies_to: {kind: aanvraag}, stage: resolution, within: 10,
     unit: workdays, target: 0.9, pausable: true}
  - {id: dagen, applies_to: {kind: aanvraag}, stage: resolution, within: 14,
     unit: calendar_days, target: 0.9, pausable: true}
  - {id: weken, applies_to: {kind: aanvraag}, stage: response, within: 1, unit: weeks,
     target: 0.9, pausable: true}
  - {id: uren, applies_to: {kind: aanvraag}, stage: response, within: 30, unit: hours,
     target: 0.9, pausable: true}
  - {id: vast, applies_to: {kind: aanvraag}, stage: resolution, within: 5, unit: workdays,
     target: 0.9}
"""
CONFIG: MonitorConfig = parse_norms(NORMS)
KINDS = ("item.paused", "item.resumed", "item.responded", "item.closed")
STAGE_EVENTS = {"response": {"item.responded", "item.closed"}, "resolution": {"item.closed"}}
START = datetime(2026, 1, 1, tzinfo=AMS).timestamp()


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, AMS).strftime("%Y-%m-%d %H:%M:%S")


def reference(norm: Norm, opened: float, events: list[tuple[float, str]], until: float) -> str:
    """The outcome a plain reading of contract section 3 gives, for events in time order."""
    cal = CONFIG.calendar

    def due_after(paused: float) -> float:
        return deadline(cal, norm.unit, norm.within, opened, paused)

    paused, started, due = 0.0, None, due_after(0.0)
    for t, kind in events:
        if started is None and t > due:
            return "breached"
        if kind in STAGE_EVENTS[norm.stage]:
            if started is not None:
                paused += paused_amount(cal, norm.unit, started, t)
                due = due_after(paused)
            return "met" if t <= due else "breached"
        if not norm.pausable:
            continue
        if kind == "item.paused" and started is None:
            started = t
        elif kind == "item.resumed" and started is not None:
            paused += paused_amount(cal, norm.unit, started, t)
            due, started = due_after(paused), None
    if started is not None:
        return "pending"
    return "breached" if due <= until else "pending"


def check_bookkeeping(shard: Shard) -> None:
    """Waiting counts, overdue and counters agree with a scan over the items."""
    waiting: Counter[tuple[int, float]] = Counter()
    overdue = [[0] * GROUPS for _ in shard.norms]
    decided: Counter[tuple[str, str]] = Counter()
    for item in shard.items.values():
        for pos, n in enumerate(item.profile.norms):
            code = outcome_at(item.outcomes, pos)
            norm = shard.norms[n]
            due = shard.deadline_of(item, n)
            reached = item.reached(norm.stage)
            if code == PENDING and reached is None and due is not None:
                waiting[(n, due, item.profile.group)] += 1
            if is_breach(code) and reached is None and not shard.deadlines.stopped(item, n):
                overdue[n][item.profile.group] += 1
            if code in (MET, BREACHED, VERY_LATE):
                decided[(norm.id, "met" if code == MET else "breached")] += 1
    indexed = {(n, due, g): c for n, due, g, c in shard.parts.index.waiting_counts()}
    assert indexed == dict(waiting)
    assert shard.totals.overdue_decided == overdue
    counted = {
        (n, o): shard.totals.outcomes(n, o)
        for n in shard.totals.norm_ids
        for o in ("met", "breached")
    }
    assert {k: v for k, v in counted.items() if v} == dict(decided)


item_events = st.lists(
    st.tuples(st.integers(1, 60 * 24 * 40), st.sampled_from(KINDS)),
    max_size=8,
    unique_by=lambda e: e[0],
)


class TestPauseProperties:
    """Every due norm has one outcome, the contract's, and the bookkeeping stays consistent."""

    @settings(max_examples=300, deadline=None)
    @given(
        openings=st.lists(st.integers(0, 60 * 24 * 200), min_size=1, max_size=3),
        histories=st.lists(item_events, min_size=3, max_size=3),
    )
    def test_outcomes_match_the_contract_and_bookkeeping_holds(
        self, openings: list[int], histories: list[list[tuple[int, str]]]
    ) -> None:
        m = Monitor(CONFIG, lateness=0.0)
        shard = m.shards["castricum"]
        shard.item_retention = 10 * 365 * 86_400.0  # keep every item for the checks
        timeline: list[tuple[float, str, str]] = []
        plans = {}
        for i, start in enumerate(openings):
            subject, opened = f"a{i}", START + start * 60.0
            steps = sorted((opened + minutes * 60.0, kind) for minutes, kind in histories[i])
            plans[subject] = (opened, steps)
            timeline.append((opened, "item.opened", subject))
            timeline.extend((t, kind, subject) for t, kind in steps)
        for t, kind, subject in sorted(timeline):
            extra = {"kind": "aanvraag", "channel": "email"} if kind == "item.opened" else {}
            m.process(event(kind, subject, stamp(t), **extra), WALL)
            check_bookkeeping(shard)
        until = START + 400 * 86_400.0
        m.finish(until)
        check_bookkeeping(shard)
        for subject, (opened, steps) in plans.items():
            item = shard.items[subject]
            for pos, n in enumerate(item.profile.norms):
                norm = shard.norms[n]
                code = outcome_at(item.outcomes, pos)
                got = "breached" if is_breach(code) else OUTCOME_NAMES[code]
                assert got == reference(norm, opened, steps, until), (subject, norm.id)
