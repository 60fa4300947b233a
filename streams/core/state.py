"""The state kept per item and per call, laid out for a million open items.

Memory matters here (≤ 300 bytes per open item): attributes that many items share (kind, channel,
segment, category, source system, team, and the norms that apply) live once in an interned
:class:`Profile`; each item holds a reference to it, a few timestamps, the outcomes of its norms
packed into one small int, the hashes of the events applied to it (for de-duplication) as one
bytes object, and an optional :class:`Extra` for the rare parts (pauses, reopens).
"""

from __future__ import annotations

from typing import Final

# Outcome codes, three bits per norm in ``outcomes``.
PENDING: Final = 0
MET: Final = 1
BREACHED: Final = 2
EXCLUDED: Final = 3
ABANDONED: Final = 4
OUTCOME_NAMES: Final = ("pending", "met", "breached", "excluded", "abandoned")

RESOLUTIONS: Final = ("afgehandeld", "doorgestuurd", "ingetrokken", "vervallen")
WITHDRAWN: Final = frozenset({"ingetrokken", "vervallen"})

# Call outcomes
WAITING: Final = 0
ANSWERED: Final = 1
CALL_ABANDONED: Final = 2
CALL_OUTCOME_NAMES: Final = ("waiting", "answered", "abandoned")


def get_outcome(outcomes: int, pos: int) -> int:
    return (outcomes >> (3 * pos)) & 7


def set_outcome(outcomes: int, pos: int, code: int) -> int:
    shift = 3 * pos
    return (outcomes & ~(7 << shift)) | (code << shift)


class Profile:
    """What many items or calls share; interned per shard, never mutated."""

    __slots__ = (
        "category",
        "channel",
        "family",
        "kind",
        "norms",
        "positions",
        "queue",
        "segment",
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
    ) -> None:
        self.family = family
        self.kind = kind
        self.channel = channel
        self.segment = segment
        self.category = category
        self.source_system = source_system
        self.team = team
        self.queue = queue
        self.norms = norms  # indices into the shard's norm list
        self.positions = {n: i for i, n in enumerate(norms)}


class Extra:
    """The rare parts of an item: pauses and reopens."""

    __slots__ = ("last_closed_at", "last_reopened_at", "pauses", "reopened")

    def __init__(self) -> None:
        self.pauses: list[tuple[float, int]] = []  # (time, +1 paused / -1 resumed), sorted
        self.reopened = 0
        self.last_reopened_at: float | None = None
        self.last_closed_at: float | None = None


class ItemState:
    """One item (melding, vraag, …). ``closed_at`` is its first close; reopens live in ``extra``."""

    __slots__ = (
        "close_info",
        "closed_at",
        "extra",
        "opened_at",
        "outcomes",
        "profile",
        "responded_at",
        "seen",
    )

    def __init__(self, profile: Profile, opened_at: float, seen: bytes) -> None:
        self.profile = profile
        self.opened_at = opened_at
        self.responded_at: float | None = None
        self.closed_at: float | None = None
        # resolution index * 4 + upheld code (0 unknown, 1 false, 2 true) of the latest close
        self.close_info = 0
        self.outcomes = 0
        self.extra: Extra | None = None
        self.seen = seen

    def is_open(self) -> bool:
        if self.closed_at is None:
            return True
        ex = self.extra
        if ex is None or ex.last_reopened_at is None:
            return False
        last_close = ex.last_closed_at if ex.last_closed_at is not None else self.closed_at
        return ex.last_reopened_at > last_close

    def achieved(self, stage: str) -> float | None:
        return self.responded_at if stage == "response" else self.closed_at


class CallState:
    """One call, chat or counter visit in a live queue."""

    __slots__ = (
        "abandoned_at",
        "answered_at",
        "ended_at",
        "opened_at",
        "outcome",
        "outcomes",
        "profile",
        "resolved",
        "seen",
    )

    def __init__(self, profile: Profile, opened_at: float, seen: bytes) -> None:
        self.profile = profile
        self.opened_at = opened_at
        self.answered_at: float | None = None
        self.abandoned_at: float | None = None
        self.ended_at: float | None = None
        self.resolved: bool | None = None
        self.outcome = WAITING
        self.outcomes = 0
        self.seen = seen

    def achieved(self, stage: str) -> float | None:
        return self.answered_at


def seen_before(seen: bytes, key: bytes) -> bool:
    """Whether the 8-byte ``key`` is one of the aligned 8-byte entries of ``seen``."""
    i = seen.find(key)
    while i != -1:
        if i % 8 == 0:
            return True
        i = seen.find(key, i + 1)
    return False
