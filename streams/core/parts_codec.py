"""A shard's data (:class:`~streams.core.parts.ShardParts`) as plain JSON-able data, and back.

Plain data only: lists, dicts, strings, numbers, None. Nothing in a checkpoint can name a class or
run code when it is read (the threat of pickle: whoever can write the store could run code in every
worker). Loading checks every value's type and shape and raises ValueError (or KeyError, TypeError,
IndexError) on anything else; ``streams.core.snapshot`` turns those into a SnapshotError.

What is derived is not stored: the norms that apply to a profile (from the norms file), the heap of
the deadline index (from its buckets), the running totals of rolling windows (from their slots).
Infinite clocks are stored as None. Event keys are hex; held events are their original bytes
(base64), decoded again on load.

Checkpoint format 4 added the category slots (``totals.categories``), a profile's slot (a ninth
profile column), the category in the outcome counters (``[norm, segment, category, outcome,
count]``) and waiting and overdue counts per group (segment and category slot) instead of per
segment. :func:`upgrade_v3` turns format 3 data into that shape: everything then counted was
``overig``.
"""

from __future__ import annotations

import base64
import math
from collections import deque
from collections.abc import Callable
from typing import Any

from events.decode import Event

from streams.core.aggregates import CATEGORIES_COUNTED, NORM_OUTCOMES, Aggregates, CategorySlots
from streams.core.config import Norm
from streams.core.deadline_index import DeadlineIndex
from streams.core.held import HeldEvents
from streams.core.parts import Clock, ShardParts
from streams.core.state import (
    CALL_OUTCOME_NAMES,
    CATEGORY_SLOTS,
    GROUPS,
    OTHER_CATEGORY,
    SEGMENTS,
    CallState,
    ItemHistory,
    ItemState,
    Profile,
    group_of,
)
from streams.core.windows import RollingSums

Plain = dict[str, Any]


def _num(value: Any) -> float:
    if type(value) not in (int, float) or math.isnan(value):
        raise ValueError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _opt(value: Any) -> float | None:
    return None if value is None else _num(value)


def _int(value: Any) -> int:
    if type(value) is not int:
        raise ValueError(f"expected an integer, got {type(value).__name__}")
    return value


def _str(value: Any) -> str:
    if type(value) is not str:
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def _opt_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _keys(value: Any) -> bytes:
    keys = bytes.fromhex(_str(value))
    if not keys or len(keys) % 8:
        raise ValueError("event keys must be a non-empty multiple of 8 bytes")
    return keys


def _inf_to_none(value: float) -> float | None:
    return None if math.isinf(value) else value


# --- out -----------------------------------------------------------------------------------------


def to_plain(parts: ShardParts) -> Plain:
    """``parts`` as plain data."""
    profile_ids: dict[int, int] = {}
    profiles: list[list[Any]] = []

    def profile_id(p: Profile) -> int:
        found = profile_ids.get(id(p))
        if found is None:
            found = profile_ids[id(p)] = len(profiles)
            profiles.append(
                [
                    p.family,
                    p.kind,
                    p.channel,
                    p.segment,
                    p.category,
                    p.source_system,
                    p.team,
                    p.queue,
                    p.slot,
                ]
            )
        return found

    items = []
    for subject, st in parts.items.items():
        h = st.history
        history = (
            None
            if h is None
            else [[list(x) for x in h.pauses], h.reopened, h.last_reopened_at, h.last_closed_at]
        )
        items.append(
            [
                subject,
                profile_id(st.profile),
                st.opened_at,
                st.responded_at,
                st.closed_at,
                st.closing,
                st.outcomes,
                st.event_keys.hex(),
                history,
            ]
        )
    calls = [
        [
            subject,
            profile_id(c.profile),
            c.opened_at,
            c.answered_at,
            c.abandoned_at,
            c.ended_at,
            c.resolved,
            c.outcome,
            c.outcomes,
            c.event_keys.hex(),
        ]
        for subject, c in parts.calls.items()
    ]
    index = parts.index
    totals = parts.totals
    clock = parts.clock
    return {
        "profiles": profiles,
        "items": items,
        "calls": calls,
        "index": [
            [n, due, subjects, index.waiting.get((n, due))]
            for (n, due), subjects in index.buckets.items()
        ],
        "totals": {
            "events_total": totals.events_total,
            "duplicates": totals.duplicates,
            "reopened": totals.reopened,
            "outcomes_total": [
                [n, s, c, o, v] for (n, s, c, o), v in totals.outcomes_total.items()
            ],
            "categories": {
                "slots": list(totals.categories.names),
                "counts": [[c, v] for c, v in totals.categories.counts.items()],
            },
            "calls_total": [[c, o, v] for (c, o), v in totals.calls_total.items()],
            "open_items": totals.open_items,
            "calls_waiting": totals.calls_waiting,
            "overdue_decided": totals.overdue_decided,
            "compliance": [[w.to_plain() for w in per] for per in totals.compliance],
            "cohorts": [[n, month, counts] for (n, month), counts in totals.cohorts.items()],
            "durations": [[k, s, w.to_plain()] for (k, s), w in totals.durations.items()],
            "satisfaction": [[c, w.to_plain()] for c, w in totals.satisfaction.items()],
        },
        "seen": [
            [day, b"".join(k.to_bytes(8) for k in keys).hex()]
            for day, keys in parts.seen.by_day.items()
        ],
        "held": [  # in time order, whatever order they came in (the same bytes after a restore)
            base64.b64encode(ev.raw).decode("ascii")
            for ev in sorted(
                (ev for events in parts.held.by_subject.values() for ev in events),
                key=lambda ev: (ev.time, ev.subject or ""),
            )
        ],
        "clock": [
            _inf_to_none(clock.now),
            _inf_to_none(clock.cutoff),
            clock.last_event,
            clock.housekeeping_week,
        ],
        "finished_items": [list(x) for x in parts.finished_items],
        "finished_calls": [list(x) for x in parts.finished_calls],
    }


# --- in ------------------------------------------------------------------------------------------


def from_plain(
    plain: Plain, norms: tuple[Norm, ...], decode: Callable[[bytes], Event]
) -> ShardParts:
    """ShardParts from ``plain`` (see :func:`to_plain`), for a municipality with ``norms``.

    ``decode`` turns a held event's original bytes back into an Event.
    """
    norm_ids = tuple(n.id for n in norms)
    parts = ShardParts.empty(norm_ids)
    _load_categories(parts.totals.categories, plain["totals"]["categories"])
    profiles = [_profile(p, norms, parts) for p in plain["profiles"]]
    for row in plain["items"]:
        subject, pid, opened, responded, closed, closing, outcomes, keys, history = row
        st = ItemState(profiles[_int(pid)], _num(opened), _keys(keys))
        if st.profile.family != "item":
            raise ValueError("an item refers to a call profile")
        st.responded_at, st.closed_at = _opt(responded), _opt(closed)
        st.closing, st.outcomes = _int(closing), _int(outcomes)
        if history is not None:
            pauses, reopened, last_reopened, last_closed = history
            h = st.history = ItemHistory()
            h.pauses = sorted((_num(t), _step(step)) for t, step in pauses)
            h.reopened, h.last_reopened_at = _int(reopened), _opt(last_reopened)
            h.last_closed_at = _opt(last_closed)
        parts.items[_str(subject)] = st
    for row in plain["calls"]:
        subject, pid, opened, answered, abandoned, ended, resolved, outcome, outcomes, keys = row
        call = CallState(profiles[_int(pid)], _num(opened), _keys(keys))
        if call.profile.family != "call":
            raise ValueError("a call refers to an item profile")
        call.answered_at, call.abandoned_at = _opt(answered), _opt(abandoned)
        call.ended_at = _opt(ended)
        if resolved is not None and type(resolved) is not bool:
            raise ValueError("resolved must be a boolean or null")
        call.resolved = resolved
        call.outcome = _int(outcome)
        if not 0 <= call.outcome < len(CALL_OUTCOME_NAMES):
            raise ValueError("unknown call outcome")
        call.outcomes = _int(outcomes)
        parts.calls[_str(subject)] = call
    _load_index(parts.index, plain["index"], len(norms))
    _load_totals(parts.totals, plain["totals"], norm_ids)
    for day, hexkeys in plain["seen"]:
        raw = bytes.fromhex(_str(hexkeys))
        for i in range(0, len(raw), 8):
            parts.seen.add(raw[i : i + 8], _int(day) * 86_400.0)
    _load_held(parts.held, plain["held"], decode)
    now, cutoff, last_event, week = plain["clock"]
    parts.clock = Clock(
        now=-math.inf if now is None else _num(now),
        cutoff=-math.inf if cutoff is None else _num(cutoff),
        last_event=_opt(last_event),
        housekeeping_week=None if week is None else _int(week),
    )
    parts.finished_items = deque((_num(t), _str(s)) for t, s in plain["finished_items"])
    parts.finished_calls = deque((_num(t), _str(s)) for t, s in plain["finished_calls"])
    return parts


def _step(value: Any) -> int:
    if value not in (1, -1) or type(value) is not int:
        raise ValueError("a pause step is +1 or -1")
    return int(value)


def _profile(row: list[Any], norms: tuple[Norm, ...], parts: ShardParts) -> Profile:
    family, kind, channel, segment, category, source_system, team, queue, slot = row
    if family not in ("item", "call"):
        raise ValueError("unknown profile family")
    slots = parts.totals.categories
    if not 0 <= _int(slot) <= len(slots.names) or (slot and slots.names[slot - 1] != category):
        raise ValueError("a profile names a category slot that is not its category's")
    key = (
        _str(family),
        _opt_str(kind),
        _str(channel),
        _str(segment),
        _opt_str(category),
        _opt_str(source_system),
        _opt_str(team),
        _opt_str(queue),
    )
    applicable = tuple(
        i for i, n in enumerate(norms) if n.applies(family, kind, channel, segment, category)
    )
    profile = Profile(*key, applicable, slot)
    if slot == slots.slot(_opt_str(category)):  # else its category got a slot after it was made
        parts.profiles[key] = profile
    return profile


def _load_index(index: DeadlineIndex, rows: list[Any], norm_count: int) -> None:
    for n, due, subjects, waiting in rows:
        norm = _int(n)
        if not 0 <= norm < 2 * norm_count:  # past norm_count: the very-late checks
            raise ValueError("the deadline index names a norm that does not exist")
        key = (norm, _num(due))
        index.buckets[key] = [_str(s) for s in subjects]
        if waiting is not None:
            counts = [_int(c) for c in waiting]
            if len(counts) != index.groups:
                raise ValueError("waiting counts for another number of segments")
            index.waiting[key] = counts
    index.heap = sorted((due, n) for n, due in index.buckets)  # a sorted list is a heap


def _counts(value: Any, names: tuple[str, ...] | list[str]) -> dict[str, int]:
    if not isinstance(value, dict) or set(value) != set(names):
        raise ValueError("a counter family has other names than the vocabulary's")
    return {name: _int(value[name]) for name in names}


def _load_totals(totals: Aggregates, plain: Plain, norm_ids: tuple[str, ...]) -> None:
    totals.events_total = _counts(plain["events_total"], list(totals.events_total))
    totals.duplicates = _int(plain["duplicates"])
    totals.reopened = _counts(plain["reopened"], list(totals.reopened))
    totals.open_items = _counts(plain["open_items"], list(totals.open_items))
    totals.calls_waiting = _counts(plain["calls_waiting"], list(totals.calls_waiting))
    labels = {OTHER_CATEGORY, *totals.categories.names}
    for n, s, c, o, v in plain["outcomes_total"]:
        if n not in norm_ids or s not in SEGMENTS or c not in labels or o not in NORM_OUTCOMES:
            raise ValueError("outcome counter of an unknown norm, segment, category or outcome")
        if _int(v) < 0:
            raise ValueError("a negative outcome counter")
        totals.outcomes_total[(n, s, c, o)] = v
    for c, o, v in plain["calls_total"]:
        if (c, o) not in totals.calls_total:
            raise ValueError("call counter of an unknown channel")
        totals.calls_total[(c, o)] = _int(v)
    overdue = [[_int(v) for v in per] for per in plain["overdue_decided"]]
    if len(overdue) != len(norm_ids) or len(plain["compliance"]) != len(norm_ids):
        raise ValueError("per-norm figures for another number of norms")
    if any(len(per) != GROUPS for per in overdue):
        raise ValueError("per-group figures for another number of segments or category slots")
    totals.overdue_decided = overdue
    for windows, data in zip(totals.compliance, plain["compliance"], strict=True):
        for window, one in zip(windows, data, strict=True):
            window.load_plain(one)
    for n, month, counts in plain["cohorts"]:
        values = [_int(c) for c in counts]
        if not 0 <= _int(n) < len(norm_ids) or len(values) != 4:
            raise ValueError("a cohort of an unknown norm")
        totals.cohorts[(n, _int(month))] = values
    for kind, stage, data in plain["durations"]:
        sketch = totals.durations.get((kind, stage))
        if sketch is None:
            raise ValueError("durations of an unknown kind or stage")
        sketch.load_plain(data)
    for channel, data in plain["satisfaction"]:
        sums = RollingSums(2)
        sums.load_plain(data)
        totals.satisfaction[_str(channel)] = sums


def _load_categories(slots: CategorySlots, plain: Plain) -> None:
    names = [_str(c) for c in plain["slots"]]
    if len(names) > CATEGORY_SLOTS or len(set(names)) != len(names) or OTHER_CATEGORY in names:
        raise ValueError("category slots: too many, repeated, or overig")
    counts = {_str(c): _int(v) for c, v in plain["counts"]}
    if len(counts) > CATEGORIES_COUNTED or set(counts) & {OTHER_CATEGORY, *names}:
        raise ValueError("category counts: too many, or of a category with a slot")
    if any(v <= 0 for v in counts.values()):
        raise ValueError("category counts must be positive")
    slots.names, slots.counts = names, counts


def upgrade_v3(plain: Plain) -> Plain:
    """Format 3 parts (no category slots) in the shape of format 4; ``plain`` is left as it was.

    Format 3 kept waiting and overdue counts per segment: they become the ``overig`` group of
    their segment, as do the outcome counters and the profiles (slot 0).
    """

    def per_group(per_segment: list[Any]) -> list[Any]:
        if len(per_segment) != len(SEGMENTS):
            raise ValueError("per-segment figures for another number of segments")
        groups: list[Any] = [0] * GROUPS
        for s, value in enumerate(per_segment):
            groups[group_of(s, 0)] = value
        return groups

    totals = dict(plain["totals"])
    totals["outcomes_total"] = [
        [n, s, OTHER_CATEGORY, o, v] for n, s, o, v in totals["outcomes_total"]
    ]
    totals["overdue_decided"] = [per_group(per) for per in totals["overdue_decided"]]
    totals["categories"] = {"slots": [], "counts": []}
    return {
        **plain,
        "profiles": [[*row, 0] for row in plain["profiles"]],
        "index": [
            [n, due, subjects, None if waiting is None else per_group(waiting)]
            for n, due, subjects, waiting in plain["index"]
        ],
        "totals": totals,
    }


def _load_held(held: HeldEvents, rows: list[Any], decode: Callable[[bytes], Event]) -> None:
    events = [decode(base64.b64decode(_str(r), validate=True)) for r in rows]
    for ev in sorted(events, key=lambda e: e.time):
        if ev.subject is None:
            raise ValueError("a held event without a subject")
        held.hold(ev.subject, ev)
