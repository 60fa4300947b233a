"""The contract's metrics as plain data, read from the shards' state at scrape time.

Metrics are a view of state: nothing here is updated per event. :func:`collect` reads the counters,
gauges and rolling windows of the shards a worker owns and returns metric families;
``streams.exposition`` wraps them for prometheus_client. Labels never carry a subject or free text.
A shard that is not passed in (a partition this worker does not own) exports nothing, so
``sum by (municipality)`` over all workers counts each municipality once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from streams.core.shard import Shard
from streams.core.state import CALL_CHANNELS, EVENT_TYPES, ITEM_KINDS, ITEM_STAGES
from streams.core.windows import WINDOWS

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
            "Norm decisions, met or breached.",
            ("municipality", "norm", "outcome"),
        ),
        (
            "contact_norm_overdue_items",
            "gauge",
            "Items still waiting for the norm's stage whose deadline has passed.",
            ("municipality", "norm"),
        ),
        (
            "contact_norm_at_risk_items",
            "gauge",
            "Items still waiting for the norm's stage whose deadline is within one working day.",
            ("municipality", "norm"),
        ),
        (
            "contact_norm_compliance_ratio",
            "gauge",
            "Met / decided over the window, by decision time.",
            ("municipality", "norm", "window"),
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
    if shard.last_event_time is None:  # nothing seen yet: no clock to measure deadlines against
        overdue, at_risk = [0] * len(shard.norms), [0] * len(shard.norms)
    else:
        overdue, at_risk = shard.waiting_by_norm(now)
    for i, norm in enumerate(shard.norms):
        for outcome in ("met", "breached"):
            fam["contact_norm_outcomes"].add(
                (m, norm.id, outcome), totals.outcomes_total[(norm.id, outcome)]
            )
        fam["contact_norm_overdue_items"].add((m, norm.id), overdue[i])
        fam["contact_norm_at_risk_items"].add((m, norm.id), at_risk[i])
        fam["contact_norm_target_ratio"].add((m, norm.id), norm.target)
        for window in WINDOWS:
            met, decided = totals.compliance[i].totals(window)
            if decided > 0:
                fam["contact_norm_compliance_ratio"].add((m, norm.id, window), met / decided)
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
