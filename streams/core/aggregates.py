"""A shard's aggregates: the counters, gauges and rolling windows the metrics read.

Counters only grow (the live worker persists them with the state, so they survive restarts and
partition moves); gauges go up and down with the lifecycles; rolling windows hold decisions,
durations and feedback scores by the time they happened (see ``streams.core.windows``).

Everything about norms is kept per segment (residents, entrepreneurs, societal partners, unknown:
contract section 4, version 2), so every norm figure can be split by segment and the totals are
sums. The current month's cohort (items opened this month, per norm) is counted too, for the
month-end projection and the headroom.
"""

from __future__ import annotations

from streams.core.state import (
    CALL_CHANNELS,
    EVENT_TYPES,
    ITEM_KINDS,
    ITEM_STAGES,
    MET,
    SEGMENTS,
    Profile,
)
from streams.core.windows import RollingSketch, RollingSums

NORM_OUTCOMES = ("met", "breached", "very_late")  # very_late is a subset of breached

# The counts of one norm's cohort of one month: applicable, met, breached, out (excluded, or a
# call abandoned within its deadline).
APPLICABLE, COHORT_MET, COHORT_BREACHED, COHORT_OUT = range(4)
COHORT_MONTHS_KEPT = 3


class Aggregates:
    """Everything of one municipality that the metrics read, kept up to date per event."""

    __slots__ = (
        "calls_total",
        "calls_waiting",
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
        self.outcomes_total = {
            (n, s, o): 0 for n in norm_ids for s in SEGMENTS for o in NORM_OUTCOMES
        }
        self.calls_total = {(c, o): 0 for c in CALL_CHANNELS for o in ("answered", "abandoned")}
        # gauges
        self.open_items = dict.fromkeys(ITEM_KINDS, 0)
        self.calls_waiting = dict.fromkeys(CALL_CHANNELS, 0)
        # per norm and segment: breached, still waiting and not paused
        self.overdue_decided = [[0] * len(SEGMENTS) for _ in norm_ids]
        # rolling windows, per norm and segment: (met, decided) by decision time
        self.compliance = [[RollingSums(2) for _ in SEGMENTS] for _ in norm_ids]
        self.durations = {(k, s): RollingSketch() for k in ITEM_KINDS for s in ITEM_STAGES}
        self.satisfaction: dict[str, RollingSums] = {}  # channel -> (score sum, count)
        # per (norm, month number): [applicable, met, breached, out]
        self.cohorts: dict[tuple[int, int], list[int]] = {}

    def decided(self, norm: int, profile: Profile, code: int, when: float) -> None:
        """A norm was decided met or breached at ``when`` for a subject of ``profile``."""
        met = code == MET
        seg = profile.segment_index
        key = (self.norm_ids[norm], SEGMENTS[seg], "met" if met else "breached")
        self.outcomes_total[key] += 1
        self.compliance[norm][seg].add(when, 1 if met else 0, 1)

    def outcomes(self, norm_id: str, outcome: str) -> int:
        """How many decisions of ``outcome`` norm ``norm_id`` had, all segments together."""
        return sum(self.outcomes_total[(norm_id, s, outcome)] for s in SEGMENTS)

    def very_late(self, norm: int, profile: Profile) -> None:
        """A breached subject is now very late (counted once, beside its breach)."""
        self.outcomes_total[(self.norm_ids[norm], profile.segment, "very_late")] += 1

    def decision_moved(self, norm: int, profile: Profile, old: float, new: float) -> None:
        """A met decision moved from ``old`` to ``new`` (an earlier achievement arrived late)."""
        window = self.compliance[norm][profile.segment_index]
        window.add(old, -1, -1)
        window.add(new, 1, 1)

    def overdue(self, norm: int, profile: Profile, change: int) -> None:
        """A breached subject started (+1) or stopped (-1) waiting for the norm's stage."""
        self.overdue_decided[norm][profile.segment_index] += change

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
