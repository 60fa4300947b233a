"""The state kept per item and per call, laid out for a million open items.

Memory matters here (≤ 300 bytes per open item, measured in BENCHMARKS.md): attributes that many
items share (kind, channel, segment, category, source system, team, and the norms that apply) live
once in an interned :class:`Profile`; each item holds a reference to it, a few timestamps, the
outcomes of its norms packed into one small int (:func:`outcome_at`), the keys of the events
applied to it (for de-duplication) as one bytes object, and an optional :class:`ItemHistory` for
the rare parts (pauses, reopens, later closes).

The word lists come from the contract's vocabulary (``events.vocabulary``), in its order, so a
word added there is known here too.
"""

from __future__ import annotations

from typing import Final, get_args

from events.vocabulary import DEFAULT_CATEGORY, CallChannel, EventType, Kind, Resolution, Segment

from streams.core.config import Stage

# The contract's words, in the vocabulary's order (metric series are rendered in this order).
ITEM_KINDS: Final = tuple(k.value for k in Kind)
CALL_CHANNELS: Final = tuple(c.value for c in CallChannel)
EVENT_TYPES: Final = tuple(t.value for t in EventType)
SEGMENTS: Final = tuple(s.value for s in Segment)
RESOLUTIONS: Final = tuple(r.value for r in Resolution)
WITHDRAWN: Final = frozenset({Resolution.INGETROKKEN.value, Resolution.VERVALLEN.value})
ITEM_STAGES: Final = tuple(s for s in get_args(Stage) if s != "answer")  # response, resolution

# Norm figures are counted per group: a segment and a category slot. Slot 0 is ``overig`` (every
# category without a slot of its own, and calls); slots 1..CATEGORY_SLOTS are the categories that
# got one (``streams.core.aggregates.CategorySlots``), for the metrics' bounded category label.
CATEGORY_SLOTS: Final = 10
OTHER_CATEGORY: Final = DEFAULT_CATEGORY  # "overig"
SLOTS_PER_SEGMENT: Final = CATEGORY_SLOTS + 1
GROUPS: Final = len(SEGMENTS) * SLOTS_PER_SEGMENT


def group_of(segment_index: int, slot: int) -> int:
    """The group of a segment and a category slot (``segment_of_group`` and ``slot_of_group``
    take it apart)."""
    return segment_index * SLOTS_PER_SEGMENT + slot


def segment_of_group(group: int) -> int:
    return group // SLOTS_PER_SEGMENT


def slot_of_group(group: int) -> int:
    return group % SLOTS_PER_SEGMENT


# Outcome codes of one norm for one subject, three bits per norm in ``outcomes``.
PENDING: Final = 0
MET: Final = 1
BREACHED: Final = 2
EXCLUDED: Final = 3  # withdrawn before the deadline
ABANDONED: Final = 4  # a call abandoned within its deadline: in neither met nor breached
VERY_LATE: Final = 5  # breached, and its stage not reached within three times the norm's duration
# As the store rows name them; "very_late" is a breach too (the export counts it in both).
OUTCOME_NAMES: Final = ("pending", "met", "breached", "excluded", "abandoned", "very_late")


def is_breach(code: int) -> bool:
    return code in (BREACHED, VERY_LATE)


_OUTCOME_BITS: Final = 3

# Where a call stands.
WAITING: Final = 0
ANSWERED: Final = 1
CALL_ABANDONED: Final = 2
CALL_OUTCOME_NAMES: Final = ("waiting", "answered", "abandoned")


def outcome_at(outcomes: int, pos: int) -> int:
    """The outcome code of the ``pos``-th norm of a profile, from the packed ``outcomes``."""
    return (outcomes >> (_OUTCOME_BITS * pos)) & 7


def with_outcome(outcomes: int, pos: int, code: int) -> int:
    """``outcomes`` with the ``pos``-th norm's code replaced by ``code``."""
    shift = _OUTCOME_BITS * pos
    return (outcomes & ~(7 << shift)) | (code << shift)


# How the latest close of an item ended, packed into one small int:
# resolution index × 4 + upheld (0 not given, 1 not upheld, 2 upheld).
def pack_closing(resolution: str, upheld: bool | None) -> int:
    return RESOLUTIONS.index(resolution) * 4 + (0 if upheld is None else 1 + bool(upheld))


def unpack_closing(closing: int) -> tuple[str, bool | None]:
    """(resolution, upheld) of a packed closing."""
    code = closing % 4
    return RESOLUTIONS[closing // 4], (None if code == 0 else code == 2)


class Profile:
    """What many items or calls share; interned per shard, never mutated.

    ``slot`` is the category's slot when the profile was made (0: ``overig``); when a category
    gets a slot later, its profiles are interned anew, so every subject keeps the group it was
    counted in from opening to eviction.
    """

    __slots__ = (
        "category",
        "category_label",
        "channel",
        "family",
        "group",
        "kind",
        "norms",
        "positions",
        "queue",
        "segment",
        "segment_index",
        "slot",
        "source_system",
        "team",
    )

    def __init__(
        self,
        family: str,
        kind: str | None,
        channel: str,
        segment: str,
        category: str | None,
        source_system: str | None,
        team: str | None,
        queue: str | None,
        norms: tuple[int, ...],
        slot: int = 0,
    ) -> None:
        self.family = family
        self.kind = kind
        self.channel = channel
        self.segment = segment
        self.segment_index = SEGMENTS.index(segment)  # the metrics split every norm by it
        self.category = category
        self.slot = slot
        self.group = group_of(self.segment_index, slot)  # waiting counts and overdue are per group
        self.category_label = category if slot and category is not None else OTHER_CATEGORY
        self.source_system = source_system
        self.team = team
        self.queue = queue
        self.norms = norms  # indices into the shard's norm list
        self.positions = {n: i for i, n in enumerate(norms)}


class ItemHistory:
    """The rare parts of an item: pauses, reopens and closes after the first."""

    __slots__ = ("last_closed_at", "last_reopened_at", "pauses", "reopened")

    def __init__(self) -> None:
        self.pauses: list[tuple[float, int]] = []  # (time, +1 paused / -1 resumed), sorted
        self.reopened = 0
        self.last_reopened_at: float | None = None
        self.last_closed_at: float | None = None


class ItemState:
    """One item; ``closed_at`` is its first close, reopens and later closes are in ``history``."""

    __slots__ = (
        "closed_at",
        "closing",
        "event_keys",
        "history",
        "opened_at",
        "outcomes",
        "profile",
        "responded_at",
    )

    def __init__(self, profile: Profile, opened_at: float, event_key: bytes) -> None:
        self.profile = profile
        self.opened_at = opened_at
        self.responded_at: float | None = None
        self.closed_at: float | None = None
        self.closing = 0  # the latest close, see pack_closing
        self.outcomes = 0  # per norm of the profile, see outcome_at
        self.history: ItemHistory | None = None
        self.event_keys = event_key  # 8 bytes per applied event, see has_key

    def is_open(self) -> bool:
        if self.closed_at is None:
            return True
        hist = self.history
        if hist is None or hist.last_reopened_at is None:
            return False
        last_close = hist.last_closed_at if hist.last_closed_at is not None else self.closed_at
        return hist.last_reopened_at > last_close

    def reached(self, stage: str) -> float | None:
        """When the item reached ``stage`` (response or resolution), None while it has not."""
        return self.responded_at if stage == "response" else self.closed_at

    def ensure_history(self) -> ItemHistory:
        if self.history is None:
            self.history = ItemHistory()
        return self.history


class CallState:
    """One call, chat or counter visit in a live queue."""

    __slots__ = (
        "abandoned_at",
        "answered_at",
        "ended_at",
        "event_keys",
        "opened_at",
        "outcome",
        "outcomes",
        "profile",
        "resolved",
    )

    def __init__(self, profile: Profile, opened_at: float, event_key: bytes) -> None:
        self.profile = profile
        self.opened_at = opened_at
        self.answered_at: float | None = None
        self.abandoned_at: float | None = None
        self.ended_at: float | None = None
        self.resolved: bool | None = None
        self.outcome = WAITING
        self.outcomes = 0
        self.event_keys = event_key

    def reached(self, stage: str) -> float | None:
        """When the call was answered (its only stage), None while it was not."""
        return self.answered_at


Subject = ItemState | CallState


def has_key(event_keys: bytes, key: bytes) -> bool:
    """Whether the 8-byte ``key`` is one of the aligned 8-byte entries of ``event_keys``."""
    i = event_keys.find(key)
    while i != -1:
        if i % 8 == 0:
            return True
        i = event_keys.find(key, i + 1)
    return False
