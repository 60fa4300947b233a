"""Rolling 1d/7d/30d windows over event time, with bounded memory and exact eviction.

Values are added to hourly slots keyed by the time they belong to (a decision time, a feedback
time). Each window keeps a running total of the slots inside it; when the clock moves on, the slots
that fall out are subtracted exactly, so reading a window is O(1) for counts and O(buckets) for a
sketch, and memory is bounded by the longest window (30 days = 720 slots per series).

Windows move lazily: the owner calls ``advance(clock)`` before an ``add`` and before reading, so
a series that nobody touches costs nothing while the clock runs on.

A :class:`RollingSketch` is a DDSketch-style log-bucket histogram (about 1 % relative error) whose
buckets add and subtract exactly, so quantiles over a rolling window need no re-scan.
"""

from __future__ import annotations

import math
from typing import Any

SLOT_SECONDS = 3600
WINDOWS: dict[str, int] = {"1d": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}
_LONGEST = max(WINDOWS.values()) // SLOT_SECONDS


class RollingSums:
    """Rolling sums of a fixed-width vector of numbers (e.g. met/decided, sum/count)."""

    __slots__ = ("_now_slot", "_slots", "_start", "_totals", "_width")

    def __init__(self, width: int) -> None:
        self._width = width
        self._slots: dict[int, list[float]] = {}
        self._now_slot: int | None = None
        # per window: the first slot index inside it, and the running totals of its slots
        self._start: dict[str, int] = {}
        self._totals: dict[str, list[float]] = {w: [0.0] * width for w in WINDOWS}

    def add(self, t: float, *values: float) -> None:
        """Add ``values`` at time ``t`` (ignored when older than the longest window)."""
        slot = int(t // SLOT_SECONDS)
        if self._now_slot is not None and slot <= self._now_slot - _LONGEST:
            return
        acc = self._slots.get(slot)
        if acc is None:
            acc = self._slots[slot] = [0.0] * self._width
        for i, v in enumerate(values):
            acc[i] += v
        for name, start in self._start.items():
            if slot >= start:
                tot = self._totals[name]
                for i, v in enumerate(values):
                    tot[i] += v

    def advance(self, now: float) -> None:
        """Move the windows' right edge to ``now`` (never backwards)."""
        now_slot = int(now // SLOT_SECONDS)
        if self._now_slot is not None and now_slot <= self._now_slot:
            return
        first = self._now_slot is None
        self._now_slot = now_slot
        for name, seconds in WINDOWS.items():
            new_start = now_slot - seconds // SLOT_SECONDS + 1
            if first:
                self._start[name] = new_start
                self._totals[name] = self._sum_from(new_start)
                continue
            tot = self._totals[name]
            for slot in range(self._start[name], new_start):
                acc = self._slots.get(slot)
                if acc is not None:
                    for i, v in enumerate(acc):
                        tot[i] -= v
            self._start[name] = max(self._start[name], new_start)
        _drop_before(self._slots, now_slot - _LONGEST)

    def _sum_from(self, start: int) -> list[float]:
        tot = [0.0] * self._width
        for slot, acc in self._slots.items():
            if slot >= start:
                for i, v in enumerate(acc):
                    tot[i] += v
        return tot

    def totals(self, window: str) -> list[float]:
        """The running totals of ``window`` (all added values when the clock never advanced)."""
        if self._now_slot is None:
            return self._sum_from(-(2**62))
        return list(self._totals[window])


_ALPHA = 0.01
_GAMMA = (1 + _ALPHA) / (1 - _ALPHA)
_LOG_GAMMA = math.log(_GAMMA)
_MIN_VALUE = 1.0  # durations below one second share the lowest bucket


def bucket_of(value: float) -> int:
    """The log bucket of ``value``: bucket b covers (γ^(b−1), γ^b]."""
    if value <= _MIN_VALUE:
        return 0
    return math.ceil(math.log(value) / _LOG_GAMMA)


def bucket_value(bucket: int) -> float:
    """The representative value of a bucket (relative error ≤ α for any value inside it)."""
    if bucket <= 0:
        return _MIN_VALUE if bucket == 0 else 0.0
    return 2 * _GAMMA**bucket / (_GAMMA + 1)


class RollingSketch:
    """Rolling log-bucket histograms over the same windows as :class:`RollingSums`."""

    __slots__ = ("_now_slot", "_slots", "_start", "_totals")

    def __init__(self) -> None:
        self._slots: dict[int, dict[int, int]] = {}
        self._now_slot: int | None = None
        self._start: dict[str, int] = {}
        self._totals: dict[str, dict[int, int]] = {w: {} for w in WINDOWS}

    def add(self, t: float, value: float, n: int = 1) -> None:
        """Count ``value`` at time ``t`` ``n`` times (n = -1 takes an earlier add back exactly)."""
        slot = int(t // SLOT_SECONDS)
        if self._now_slot is not None and slot <= self._now_slot - _LONGEST:
            return
        b = bucket_of(value)
        hist = self._slots.get(slot)
        if hist is None:
            hist = self._slots[slot] = {}
        _bump(hist, b, n)
        for name, start in self._start.items():
            if slot >= start:
                _bump(self._totals[name], b, n)

    def advance(self, now: float) -> None:
        now_slot = int(now // SLOT_SECONDS)
        if self._now_slot is not None and now_slot <= self._now_slot:
            return
        first = self._now_slot is None
        self._now_slot = now_slot
        for name, seconds in WINDOWS.items():
            new_start = now_slot - seconds // SLOT_SECONDS + 1
            if first:
                self._start[name] = new_start
                self._totals[name] = self._merge_from(new_start)
                continue
            tot = self._totals[name]
            for slot in range(self._start[name], new_start):
                for b, n in self._slots.get(slot, {}).items():
                    _bump(tot, b, -n)
            self._start[name] = max(self._start[name], new_start)
        _drop_before(self._slots, now_slot - _LONGEST)

    def _merge_from(self, start: int) -> dict[int, int]:
        tot: dict[int, int] = {}
        for slot, hist in self._slots.items():
            if slot >= start:
                for b, n in hist.items():
                    tot[b] = tot.get(b, 0) + n
        return tot

    def count(self, window: str) -> int:
        return sum(self._hist(window).values())

    def _hist(self, window: str) -> dict[int, int]:
        return self._merge_from(-(2**62)) if self._now_slot is None else self._totals[window]

    def quantile(self, window: str, q: float) -> float | None:
        """The q-quantile (nearest rank) of the window, or None when it is empty."""
        hist = self._hist(window)
        total = sum(hist.values())
        if total == 0:
            return None
        rank = max(1, math.ceil(q * total))
        seen = 0
        for b in sorted(hist):
            seen += hist[b]
            if seen >= rank:
                return bucket_value(b)
        raise AssertionError("unreachable: rank <= total")


def _bump(hist: dict[int, int], bucket: int, n: int) -> None:
    left = hist.get(bucket, 0) + n
    if left:
        hist[bucket] = left
    else:
        del hist[bucket]


def _drop_before(slots: dict[int, Any], horizon: int) -> None:
    """Forget slots at or before ``horizon``; slots are created in (mostly) increasing order, so
    the dict's first key is (almost always) the oldest and the common case costs one look."""
    if slots and next(iter(slots)) <= horizon:
        for slot in [s for s in slots if s <= horizon]:
            del slots[slot]
