"""Turn a shard's changed items, calls and feedback into store rows (full snapshots, idempotent)."""

from __future__ import annotations

from streams.core.rows import CallRecord, FeedbackRecord, ItemRecord, NormRecord, OutcomeBatch
from streams.core.shard import Shard
from streams.core.state import (
    CALL_OUTCOME_NAMES,
    MET,
    OUTCOME_NAMES,
    PENDING,
    CallState,
    ItemState,
    is_breach,
    outcome_at,
    unpack_closing,
)


def item_record(municipality: str, subject: str, st: ItemState) -> ItemRecord:
    p = st.profile
    hist = st.history
    closed_at = st.closed_at
    if hist is not None and hist.last_closed_at is not None:
        closed_at = hist.last_closed_at
    resolution: str | None = None
    upheld: bool | None = None
    if st.closed_at is not None:
        resolution, upheld = unpack_closing(st.closing)
    return ItemRecord(
        municipality=municipality,
        subject=subject,
        kind=p.kind or "",
        channel=p.channel,
        segment=p.segment,
        category=p.category or "overig",
        source_system=p.source_system,
        team=p.team,
        opened_at=st.opened_at,
        responded_at=st.responded_at,
        closed_at=closed_at,
        resolution=resolution,
        upheld=upheld,
        reopened=hist.reopened if hist is not None else 0,
        is_open=st.is_open(),
    )


def call_record(municipality: str, subject: str, call: CallState) -> CallRecord:
    p = call.profile
    return CallRecord(
        municipality=municipality,
        subject=subject,
        channel=p.channel,
        queue=p.queue,
        segment=p.segment,
        queued_at=call.opened_at,
        answered_at=call.answered_at,
        abandoned_at=call.abandoned_at,
        ended_at=call.ended_at,
        resolved=call.resolved,
        outcome=CALL_OUTCOME_NAMES[call.outcome],
    )


def norm_records(shard: Shard, subject: str, st: ItemState | CallState) -> list[NormRecord]:
    rows = []
    for pos, n in enumerate(st.profile.norms):
        norm = shard.norms[n]
        code = outcome_at(st.outcomes, pos)
        due = shard.deadline_of(st, n)
        achieved = st.reached(norm.stage)
        if code == PENDING:
            decided = None
        elif is_breach(code):
            decided = due
        elif code == MET:
            decided = achieved
        elif isinstance(st, CallState):
            decided = st.abandoned_at
        else:
            decided = st.closed_at
        rows.append(
            NormRecord(
                municipality=shard.municipality,
                subject=subject,
                norm=norm.id,
                stage=norm.stage,
                family=norm.family,
                deadline=due,
                outcome=OUTCOME_NAMES[code],
                decided_at=decided,
                achieved_at=achieved,
            )
        )
    return rows


def changes_of(shard: Shard, batch: OutcomeBatch) -> None:
    """Append the rows of everything changed in ``shard`` to ``batch``; clear its change marks."""
    m = shard.municipality
    changes = shard.changes
    for subject in sorted(changes.items):
        if (st := shard.items.get(subject, changes.evicted_items.get(subject))) is not None:
            batch.items.append(item_record(m, subject, st))
            batch.norms.extend(norm_records(shard, subject, st))
    for subject in sorted(changes.calls):
        if (call := shard.calls.get(subject, changes.evicted_calls.get(subject))) is not None:
            batch.calls.append(call_record(m, subject, call))
            batch.norms.extend(norm_records(shard, subject, call))
    for key, channel, kind, score, given_at in changes.feedback:
        batch.feedback.append(
            FeedbackRecord(
                municipality=m, key=key, channel=channel, kind=kind, score=score, given_at=given_at
            )
        )
    changes.clear()
