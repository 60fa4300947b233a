"""A shard's aggregates: the counters, gauges and rolling windows the metrics read.

Counters only grow (the live worker persists them with the state, so they survive restarts and
partition moves); gauges go up and down with the lifecycles; rolling windows hold decisions,
durations and feedback scores by the time they happened (see ``streams.core.windows``).
"""

from __future__ import annotations

from streams.core.state import CALL_CHANNELS, EVENT_TYPES, ITEM_KINDS, ITEM_STAGES, MET
from streams.core.windows import RollingSketch, RollingSums


class Aggregates:
    """Everything of one municipality that the metrics read, kept up to date per event."""

    __slots__ = (
        "calls_total",
        "calls_waiting",
        "compliance",
        "duplicates",
        "durations",
        "events_total",
        "open_items",
        "outcomes_total",
        "overdue_decided",
        "reopened",
        "satisfaction",
    )

    def __init__(self, norm_ids: tuple[str, ...]) -> None:
        # counters
        self.events_total = dict.fromkeys(EVENT_TYPES, 0)
        self.duplicates = 0
        self.reopened = dict.fromkeys(ITEM_KINDS, 0)
        self.outcomes_total = {(n, o): 0 for n in norm_ids for o in ("met", "breached")}
        self.calls_total = {(c, o): 0 for c in CALL_CHANNELS for o in ("answered", "abandoned")}
        # gauges
        self.open_items = dict.fromkeys(ITEM_KINDS, 0)
        self.calls_waiting = dict.fromkeys(CALL_CHANNELS, 0)
        self.overdue_decided = [0] * len(norm_ids)  # breached, still waiting and not paused
        # rolling windows
        self.compliance = [RollingSums(2) for _ in norm_ids]  # (met, decided) by decision time
        self.durations = {(k, s): RollingSketch() for k in ITEM_KINDS for s in ITEM_STAGES}
        self.satisfaction: dict[str, RollingSums] = {}  # channel -> (score sum, count)

    def decided(self, norm: int, norm_id: str, code: int, when: float) -> None:
        """A norm was decided met or breached at ``when``."""
        met = code == MET
        self.outcomes_total[(norm_id, "met" if met else "breached")] += 1
        self.compliance[norm].add(when, 1 if met else 0, 1)

    def decision_moved(self, norm: int, old: float, new: float) -> None:
        """A met decision moved from ``old`` to ``new`` (an earlier achievement arrived late)."""
        window = self.compliance[norm]
        window.add(old, -1, -1)
        window.add(new, 1, 1)

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
        for sums in self.compliance:
            sums.advance(now)
        for sketch in self.durations.values():
            sketch.advance(now)
        for sums in self.satisfaction.values():
            sums.advance(now)
