"""A shard's aggregates: the counters, gauges and rolling windows the metrics read.

Counters only grow (the live worker persists them with the state, so they survive restarts and
partition moves); gauges go up and down with the lifecycles; rolling windows hold decisions,
durations and feedback scores by the time they happened (see ``streams.core.windows``).

Everything about norms is kept per segment (residents, entrepreneurs, societal partners, unknown:
contract section 4, version 2), so every norm figure can be split by segment and the totals are
sums. Outcome counters and overdue counts are also kept per category slot (:class:`CategorySlots`):
the categories that got a series of their own, and ``overig`` for the rest. The current month's
cohort (items opened this month, per norm) is counted too, for the month-end projection and the
headroom.
"""

from __future__ import annotations

from streams.core.state import (
    CALL_CHANNELS,
    CATEGORY_SLOTS,
    EVENT_TYPES,
    GROUPS,
    ITEM_KINDS,
    ITEM_STAGES,
    MET,
    OTHER_CATEGORY,
    SEGMENTS,
    Profile,
)
from streams.core.windows import RollingSketch, RollingSums

NORM_OUTCOMES = ("met", "breached", "very_late")  # very_late is a subset of breached

# The counts of one norm's cohort of one month: applicable, met, breached, out (excluded, or a
# call abandoned within its deadline).
APPLICABLE, COHORT_MET, COHORT_BREACHED, COHORT_OUT = range(4)
COHORT_MONTHS_KEPT = 3

CATEGORY_SLOT_AFTER = 20  # items opened in a category before it gets a series of its own
CATEGORIES_COUNTED = 1_000  # categories without a slot whose openings are counted, at most

OutcomeKey = tuple[str, str, str, str]  # (norm id, segment, category label, outcome)


class CategorySlots:
    """Which categories of a municipality have series of their own: at most ten, for good.

    Prometheus counters may never go down, so a category never gives its slot back: were it
    to, either its series would stop (and ``sum without (category)`` drop) or its count would
    move to ``overig`` (a jump in a counter that rate() reads as a burst). Slots are handed out
    by size instead: a category gets a free slot once :data:`CATEGORY_SLOT_AFTER` of its items
    were opened, so the ten that get there first — in practice the largest — keep them. What a
    category counted before its slot stays in ``overig``; its subjects opened before stay there
    too (their profile holds the slot of their opening). ``overig`` itself never gets a slot.

    Slots depend on the order of events only, never on the wall clock or on scrapes, so a
    replay and the live worker hand out the same ones; a checkpoint keeps them.
    """

    __slots__ = ("counts", "names")

    def __init__(self) -> None:
        self.names: list[str] = []  # slot i + 1 is names[i]
        self.counts: dict[str, int] = {}  # items opened per category still without a slot

    def slot(self, category: str | None) -> int:
        """The slot of ``category`` (0: none, counted as ``overig``)."""
        if category is None or category not in self.names:
            return 0
        return self.names.index(category) + 1

    def label(self, slot: int) -> str:
        """The category label of ``slot``."""
        return OTHER_CATEGORY if slot == 0 else self.names[slot - 1]

    def opened(self, category: str | None) -> bool:
        """An item of ``category`` was opened; True when that gave the category its slot."""
        if (
            category is None
            or category == OTHER_CATEGORY
            or len(self.names) >= CATEGORY_SLOTS
            or category in self.names
        ):
            return False
        count = self.counts.get(category)
        if count is None:
            if len(self.counts) >= CATEGORIES_COUNTED:
                return False
            count = 0
        count += 1
        if count < CATEGORY_SLOT_AFTER:
            self.counts[category] = count
            return False
        self.counts.pop(category, None)
        self.names.append(category)
        if len(self.names) == CATEGORY_SLOTS:
            self.counts.clear()  # no slot left to hand out
        return True


class Aggregates:
    """Everything of one municipality that the metrics read, kept up to date per event."""

    __slots__ = (
        "calls_total",
        "calls_waiting",
        "categories",
        "cohorts",
        "compliance",
        "duplicates",
        "durations",
        "events_total",
        "norm_ids",
        "open_items",
        "outcomes_total",
        "overdue_decided",
        "reopened",
        "satisfaction",
    )

    def __init__(self, norm_ids: tuple[str, ...]) -> None:
        self.norm_ids = norm_ids
        # counters
        self.events_total = dict.fromkeys(EVENT_TYPES, 0)
        self.duplicates = 0
        self.reopened = dict.fromkeys(ITEM_KINDS, 0)
        # (norm, segment, category label, outcome): every ``overig`` one from the start, a
        # category's from its first decision on
        self.outcomes_total: dict[OutcomeKey, int] = {
            (n, s, OTHER_CATEGORY, o): 0 for n in norm_ids for s in SEGMENTS for o in NORM_OUTCOMES
        }
        self.categories = CategorySlots()
        self.calls_total = {(c, o): 0 for c in CALL_CHANNELS for o in ("answered", "abandoned")}
        # gauges
        self.open_items = dict.fromkeys(ITEM_KINDS, 0)
        self.calls_waiting = dict.fromkeys(CALL_CHANNELS, 0)
        # per norm and group (segment and category slot): breached, still waiting and not paused
        self.overdue_decided = [[0] * GROUPS for _ in norm_ids]
        # rolling windows, per norm and segment: (met, decided) by decision time
        self.compliance = [[RollingSums(2) for _ in SEGMENTS] for _ in norm_ids]
        self.durations = {(k, s): RollingSketch() for k in ITEM_KINDS for s in ITEM_STAGES}
        self.satisfaction: dict[str, RollingSums] = {}  # channel -> (score sum, count)
        # per (norm, month number): [applicable, met, breached, out]
        self.cohorts: dict[tuple[int, int], list[int]] = {}

    def decided(self, norm: int, profile: Profile, code: int, when: float) -> None:
        """A norm was decided met or breached at ``when`` for a subject of ``profile``."""
        met = code == MET
        self._count(norm, profile, "met" if met else "breached")
        self.compliance[norm][profile.segment_index].add(when, 1 if met else 0, 1)

    def _count(self, norm: int, profile: Profile, outcome: str) -> None:
        key = (self.norm_ids[norm], profile.segment, profile.category_label, outcome)
        self.outcomes_total[key] = self.outcomes_total.get(key, 0) + 1

    def outcomes(self, norm_id: str, outcome: str) -> int:
        """How many decisions of ``outcome`` norm ``norm_id`` had, all segments and categories
        together."""
        return sum(
            v for (n, _, _, o), v in self.outcomes_total.items() if n == norm_id and o == outcome
        )

    def very_late(self, norm: int, profile: Profile) -> None:
        """A breached subject is now very late (counted once, beside its breach)."""
        self._count(norm, profile, "very_late")

    def decision_moved(self, norm: int, profile: Profile, old: float, new: float) -> None:
        """A met decision moved from ``old`` to ``new`` (an earlier achievement arrived late)."""
        window = self.compliance[norm][profile.segment_index]
        window.add(old, -1, -1)
        window.add(new, 1, 1)

    def overdue(self, norm: int, profile: Profile, change: int) -> None:
        """A breached subject started (+1) or stopped (-1) waiting for the norm's stage."""
        self.overdue_decided[norm][profile.group] += change

    def cohort(self, norm: int, month: int, field: int, change: int = 1) -> None:
        """Count in the cohort of ``month`` (year * 12 + month - 1) of ``norm``."""
        counts = self.cohorts.get((norm, month))
        if counts is None:
            counts = self.cohorts[(norm, month)] = [0, 0, 0, 0]
        counts[field] += change

    def forget_cohorts_before(self, month: int) -> None:
        """Drop cohorts of months before ``month`` (the projection looks at this month only)."""
        for key in [k for k in self.cohorts if k[1] < month]:
            del self.cohorts[key]

    def duration(self, kind: str, stage: str, at: float, seconds: float, weight: int = 1) -> None:
        """An item of ``kind`` took ``seconds`` to reach ``stage`` at ``at`` (-1 takes it back)."""
        self.durations[(kind, stage)].add(at, seconds, weight)

    def score(self, channel: str, at: float, score: int) -> None:
        sums = self.satisfaction.get(channel)
        if sums is None:
            sums = self.satisfaction[channel] = RollingSums(2)
        sums.add(at, score, 1)

    def advance_windows(self, now: float) -> None:
        """Move every rolling window to ``now`` (before reading them, and now and then)."""
        for per_segment in self.compliance:
            for sums in per_segment:
                sums.advance(now)
        for sketch in self.durations.values():
            sketch.advance(now)
        for sums in self.satisfaction.values():
            sums.advance(now)
