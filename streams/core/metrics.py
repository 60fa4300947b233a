"""The contract's metrics as plain data, read from the shards' state at scrape time.

Metrics are a view of state: nothing here is updated per event. :func:`collect` reads the counters,
gauges and rolling windows of the shards a worker owns and returns metric families;
``streams.exposition`` wraps them for prometheus_client. Labels never carry a subject or free text.
A shard that is not passed in (a partition this worker does not own) exports nothing, so
``sum by (municipality)`` over all workers counts each municipality once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from streams.core.aggregates import (
    APPLICABLE,
    COHORT_BREACHED,
    COHORT_MET,
    COHORT_OUT,
    NORM_OUTCOMES,
    Aggregates,
)
from streams.core.shard import Shard
from streams.core.state import (
    CALL_CHANNELS,
    EVENT_TYPES,
    GROUPS,
    ITEM_KINDS,
    ITEM_STAGES,
    OTHER_CATEGORY,
    SEGMENTS,
    group_of,
    segment_of_group,
    slot_of_group,
)
from streams.core.windows import WINDOWS, RollingSums

QUANTILES = (0.5, 0.9)


@dataclass(slots=True)
class Family:
    """One metric family: a name (counters without ``_total``), a type, help text and samples."""

    name: str
    type: str  # counter | gauge
    help: str
    labels: tuple[str, ...]
    samples: list[tuple[tuple[str, ...], float]] = field(default_factory=list)

    def add(self, values: tuple[str, ...], value: float) -> None:
        self.samples.append((values, value))


def _families() -> dict[str, Family]:
    specs = [
        (
            "contact_events",
            "counter",
            "Events accepted (neither duplicate nor rejected).",
            ("municipality", "type"),
        ),
        (
            "contact_events_duplicate",
            "counter",
            "Duplicate events (same source and id).",
            ("municipality",),
        ),
        ("contact_items_open", "gauge", "Items open now.", ("municipality", "kind")),
        ("contact_items_reopened", "counter", "Items reopened.", ("municipality", "kind")),
        (
            "contact_norm_outcomes",
            "counter",
            "Norm decisions, met or breached; very_late is the part of breached whose stage was "
            "not reached within three times the norm's duration. category: one of the "
            "municipality's ten largest categories, or overig.",
            ("municipality", "norm", "segment", "category", "outcome"),
        ),
        (
            "contact_norm_overdue_items",
            "gauge",
            "Items still waiting for the norm's stage whose deadline has passed. category: one of "
            "the municipality's ten largest categories, or overig.",
            ("municipality", "norm", "segment", "category"),
        ),
        (
            "contact_norm_at_risk_items",
            "gauge",
            "Items still waiting for the norm's stage whose deadline is within one working day.",
            ("municipality", "norm", "segment"),
        ),
        (
            "contact_norm_month_projection_ratio",
            "gauge",
            "Share met of this month's cohort if every undecided item were met (best) or "
            "breached (worst).",
            ("municipality", "norm", "bound"),
        ),
        (
            "contact_norm_month_headroom_items",
            "gauge",
            "How many more of this month's cohort may be breached before it falls below the "
            "target; negative when it already has.",
            ("municipality", "norm"),
        ),
        (
            "contact_norm_compliance_ratio",
            "gauge",
            "Met / decided over the window, by decision time; per segment, and for all segments "
            "with an empty segment label.",
            ("municipality", "norm", "segment", "window"),
        ),
        (
            "contact_norm_target_ratio",
            "gauge",
            "The norm's target share.",
            ("municipality", "norm"),
        ),
        (
            "contact_handling_duration_seconds",
            "gauge",
            "Rolling quantiles of the time from opening to the stage (elapsed seconds).",
            ("municipality", "kind", "stage", "window", "quantile"),
        ),
        (
            "contact_calls_waiting",
            "gauge",
            "Calls in a queue, not answered or abandoned.",
            ("municipality", "channel"),
        ),
        (
            "contact_calls",
            "counter",
            "Calls answered or abandoned.",
            ("municipality", "channel", "outcome"),
        ),
        (
            "contact_satisfaction_score",
            "gauge",
            "Mean feedback score (1-10) over the window.",
            ("municipality", "channel", "window"),
        ),
        (
            "contact_last_event_timestamp_seconds",
            "gauge",
            "Event time of the newest event.",
            ("municipality",),
        ),
        (
            "contact_events_held",
            "gauge",
            "Events waiting for their subject's opening event (out-of-order grace period).",
            ("municipality",),
        ),
        (
            "contactmon_state_subjects",
            "gauge",
            "Items and calls held in state.",
            ("municipality", "family"),
        ),
    ]
    return {name: Family(name, kind, text, labels) for name, kind, text, labels in specs}


def collect(
    shards: Iterable[Shard], rejected: Mapping[str, int], now: float | None = None
) -> list[Family]:
    """The contract's metric families for ``shards`` at ``now`` (default: each shard's clock)."""
    fam = _families()
    for shard in sorted(shards, key=lambda s: s.municipality):
        _collect_shard(fam, shard, shard.clock if now is None else now)
    rej = Family("contact_events_rejected", "counter", "Events rejected, by reason.", ("reason",))
    for reason in sorted(rejected):
        rej.add((reason,), rejected[reason])
    return [*fam.values(), rej]


def _compliance(family: Family, m: str, norm: str, per_segment: list[RollingSums]) -> None:
    """The rolling compliance ratio per segment, and for all segments (an empty segment)."""
    for window in WINDOWS:
        all_met = all_decided = 0.0
        for segment, sums in zip(SEGMENTS, per_segment, strict=True):
            met, decided = sums.totals(window)
            all_met, all_decided = all_met + met, all_decided + decided
            if decided > 0:
                family.add((m, norm, segment, window), met / decided)
        if all_decided > 0:
            family.add((m, norm, "", window), all_met / all_decided)


def _counted_groups(totals: Aggregates) -> dict[str, set[int]]:
    """Per norm id: the groups of a category with a slot that have outcome counters (for any
    norm: a category's series never go away)."""
    found: dict[str, set[int]] = {}
    slots = totals.categories
    for norm_id, segment, category, _ in totals.outcomes_total:
        if category != OTHER_CATEGORY:
            group = group_of(SEGMENTS.index(segment), slots.slot(category))
            found.setdefault(norm_id, set()).add(group)
    return found


def _per_category(
    fam: dict[str, Family],
    m: str,
    norm: str,
    totals: Aggregates,
    counted: set[int],
    overdue: list[int],
) -> None:
    """Outcomes and overdue items of one norm per segment and category.

    ``overig`` is there for every segment from the start, a category of item norms from the
    moment it got its slot (at 0, before any subject of its own is decided, so that increase()
    misses nothing), and then for good: the number of series only grows, up to segments x (ten
    categories + overig) per norm. ``counted`` are the groups of a category with a slot.
    """
    groups = {group_of(s, 0) for s in range(len(SEGMENTS))} | counted
    groups.update(g for g, count in enumerate(overdue) if count)
    outcomes = totals.outcomes_total
    for g in sorted(groups):
        segment = SEGMENTS[segment_of_group(g)]
        category = totals.categories.label(slot_of_group(g))
        for outcome in NORM_OUTCOMES:
            fam["contact_norm_outcomes"].add(
                (m, norm, segment, category, outcome),
                outcomes.get((norm, segment, category, outcome), 0),
            )
        fam["contact_norm_overdue_items"].add((m, norm, segment, category), overdue[g])


def _projection(
    fam: dict[str, Family],
    m: str,
    norm: str,
    target: float,
    totals: Aggregates,
    n: int,
    month: int,
) -> None:
    """Where this month's cohort ends: best and worst share, and the breaches it can still take."""
    counts = totals.cohorts.get((n, month))
    if counts is None:
        return
    counted = counts[APPLICABLE] - counts[COHORT_OUT]  # excluded ones are in neither
    if counted <= 0:
        return
    met, breached = counts[COHORT_MET], counts[COHORT_BREACHED]
    undecided = counted - met - breached
    fam["contact_norm_month_projection_ratio"].add((m, norm, "best"), (met + undecided) / counted)
    fam["contact_norm_month_projection_ratio"].add((m, norm, "worst"), met / counted)
    headroom = math.floor(met + undecided - target * counted + 1e-9)
    fam["contact_norm_month_headroom_items"].add((m, norm), headroom)


def _collect_shard(fam: dict[str, Family], shard: Shard, now: float) -> None:
    m = shard.municipality
    totals = shard.totals
    for etype in EVENT_TYPES:
        fam["contact_events"].add((m, etype), totals.events_total[etype])
    fam["contact_events_duplicate"].add((m,), totals.duplicates)
    for kind in ITEM_KINDS:
        fam["contact_items_open"].add((m, kind), totals.open_items[kind])
        fam["contact_items_reopened"].add((m, kind), totals.reopened[kind])
    if now > float("-inf"):
        shard.advance_windows(now)
    nothing = [[0] * GROUPS for _ in shard.norms]
    if shard.last_event_time is None:  # nothing seen yet: no clock to measure deadlines against
        overdue, at_risk = nothing, nothing
    else:
        overdue, at_risk = shard.waiting_by_norm(now)
    counted = _counted_groups(totals)
    for i, norm in enumerate(shard.norms):
        groups = counted.get(norm.id, set())
        if norm.family == "item":  # calls have no category: only overig
            slots = len(totals.categories.names)
            groups |= {group_of(s, c) for s in range(len(SEGMENTS)) for c in range(1, slots + 1)}
        _per_category(fam, m, norm.id, totals, groups, overdue[i])
        for s, segment in enumerate(SEGMENTS):
            risk = sum(at_risk[i][group_of(s, 0) : group_of(s + 1, 0)])
            fam["contact_norm_at_risk_items"].add((m, norm.id, segment), risk)
        fam["contact_norm_target_ratio"].add((m, norm.id), norm.target)
        _compliance(fam["contact_norm_compliance_ratio"], m, norm.id, totals.compliance[i])
        if now > float("-inf"):
            _projection(fam, m, norm.id, norm.target, totals, i, shard.calendar.month_number(now))
    for kind in ITEM_KINDS:
        for stage in ITEM_STAGES:
            sketch = totals.durations[(kind, stage)]
            for window in WINDOWS:
                for q in QUANTILES:
                    value = sketch.quantile(window, q)
                    if value is not None:
                        fam["contact_handling_duration_seconds"].add(
                            (m, kind, stage, window, str(q)), value
                        )
    for channel in CALL_CHANNELS:
        fam["contact_calls_waiting"].add((m, channel), totals.calls_waiting[channel])
        for outcome in ("answered", "abandoned"):
            fam["contact_calls"].add((m, channel, outcome), totals.calls_total[(channel, outcome)])
    for channel in sorted(totals.satisfaction):
        for window in WINDOWS:
            total, count = totals.satisfaction[channel].totals(window)
            if count > 0:
                fam["contact_satisfaction_score"].add((m, channel, window), total / count)
    if shard.last_event_time is not None:
        fam["contact_last_event_timestamp_seconds"].add((m,), shard.last_event_time)
    fam["contact_events_held"].add((m,), shard.held_count())
    fam["contactmon_state_subjects"].add((m, "item"), len(shard.items))
    fam["contactmon_state_subjects"].add((m, "call"), len(shard.calls))
