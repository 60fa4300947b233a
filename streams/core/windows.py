"""Rolling 1d/7d/30d windows over event time, with bounded memory and exact eviction.

Values are added to hourly slots keyed by the time they belong to (a decision time, a feedback
time). Each window keeps a running total of the slots inside it; when the clock moves on, the slots
that fall out are subtracted exactly, so reading a window is O(1) for sums and O(buckets) for a
sketch, and memory is bounded by the longest window (30 days = at most 720 slots per series).

Windows move lazily: ``add`` needs no current clock (a value added to a slot that a stale window
still covers is subtracted again, with its slot, when the window moves past it), so the owner calls
``advance(clock)`` only before reading and now and then to bound memory. Moving visits only the
slots that exist (a sorted list of their indices), so a quiet series costs nothing per hour.

A :class:`RollingSketch` is a DDSketch-style log-bucket histogram (about 1 % relative error) whose
buckets add and subtract exactly, so quantiles over a rolling window need no re-scan.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from typing import Any, Generic, TypeVar

SLOT_SECONDS = 3600
WINDOWS: dict[str, int] = {"1d": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}
_SPAN = {name: seconds // SLOT_SECONDS for name, seconds in WINDOWS.items()}
_LONGEST = max(_SPAN.values())

_Acc = TypeVar("_Acc")


class _Slotted(Generic[_Acc]):
    """Hourly slots with a sorted index, and per window its first slot and running total."""

    __slots__ = ("_keys", "_now_slot", "_slots", "_start", "_totals")

    def __init__(self) -> None:
        self._slots: dict[int, _Acc] = {}
        self._keys: list[int] = []  # sorted slot indices present in _slots
        self._now_slot: int | None = None
        self._start: dict[str, int] = {}  # empty until the first advance
        self._totals: dict[str, _Acc] = {w: self._empty() for w in WINDOWS}

    # the accumulator type's three operations
    def _empty(self) -> _Acc:
        raise NotImplementedError

    def _merge(self, into: _Acc, acc: _Acc, sign: int) -> None:
        raise NotImplementedError

    def _slot(self, t: float) -> _Acc | None:
        """The accumulator of ``t``'s slot (created when needed); None when too old to count."""
        slot = int(t // SLOT_SECONDS)
        if self._now_slot is not None and slot <= self._now_slot - _LONGEST:
            return None
        acc = self._slots.get(slot)
        if acc is None:
            acc = self._slots[slot] = self._empty()
            keys = self._keys
            if not keys or slot > keys[-1]:
                keys.append(slot)
            else:
                insort(keys, slot)
        return acc

    def advance(self, now: float) -> None:
        """Move the windows' right edge to ``now`` (never backwards)."""
        now_slot = int(now // SLOT_SECONDS)
        if self._now_slot is not None and now_slot <= self._now_slot:
            return
        first = self._now_slot is None
        self._now_slot = now_slot
        keys, slots = self._keys, self._slots
        for name, span in _SPAN.items():
            new_start = now_slot - span + 1
            total = self._totals[name]
            if first:
                for slot in keys[bisect_left(keys, new_start) :]:
                    self._merge(total, slots[slot], 1)
            else:
                old_start = self._start[name]
                if new_start > old_start:
                    lo, hi = bisect_left(keys, old_start), bisect_left(keys, new_start)
                    for slot in keys[lo:hi]:
                        self._merge(total, slots[slot], -1)
            self._start[name] = max(self._start.get(name, new_start), new_start)
        drop = bisect_left(keys, now_slot - _LONGEST + 1)
        if drop:
            for slot in keys[:drop]:
                del slots[slot]
            del keys[:drop]

    # plain data, for checkpoints: the slots, the clock and the window starts; the running totals
    # are sums of the slots and are recomputed on load, so they cannot disagree with them
    def _acc_to_plain(self, acc: _Acc) -> list[Any]:
        raise NotImplementedError

    def _acc_from_plain(self, plain: Any) -> _Acc:
        raise NotImplementedError

    def to_plain(self) -> dict[str, Any]:
        return {
            "slots": [[slot, self._acc_to_plain(self._slots[slot])] for slot in self._keys],
            "now": self._now_slot,
            "start": dict(self._start),
        }

    def load_plain(self, plain: dict[str, Any]) -> None:
        """Replace the contents with ``plain`` (from :meth:`to_plain`); ValueError if it is not."""
        slots = {int(slot): self._acc_from_plain(acc) for slot, acc in plain["slots"]}
        now = plain["now"]
        start = {str(w): int(s) for w, s in plain["start"].items()}
        if (now is not None and not isinstance(now, int)) or not set(start) <= set(WINDOWS):
            raise ValueError("window clock or starts are not what a window holds")
        self._slots = slots
        self._keys = sorted(slots)
        self._now_slot = now
        self._start = start
        self._totals = {w: self._empty() for w in WINDOWS}
        for name, first in start.items():
            for slot in self._keys:
                if slot >= first:
                    self._merge(self._totals[name], slots[slot], 1)

    def _total(self, window: str) -> _Acc:
        if self._now_slot is not None:
            return self._totals[window]
        total = self._empty()  # never advanced: everything added so far
        for acc in self._slots.values():
            self._merge(total, acc, 1)
        return total


class RollingSums(_Slotted[list[float]]):
    """Rolling sums of a fixed-width vector of numbers (e.g. met/decided, score sum/count)."""

    __slots__ = ("_width",)

    def __init__(self, width: int) -> None:
        self._width = width
        super().__init__()

    def _empty(self) -> list[float]:
        return [0.0] * self._width

    def _merge(self, into: list[float], acc: list[float], sign: int) -> None:
        for i, v in enumerate(acc):
            into[i] += sign * v

    def _acc_to_plain(self, acc: list[float]) -> list[Any]:
        return list(acc)

    def _acc_from_plain(self, plain: Any) -> list[float]:
        values = [float(v) for v in plain]
        if len(values) != self._width:
            raise ValueError(f"a slot holds {len(values)} sums, not {self._width}")
        return values

    def add(self, t: float, *values: float) -> None:
        """Add ``values`` at time ``t`` (ignored when older than the longest window)."""
        acc = self._slot(t)
        if acc is None:
            return
        slot = t // SLOT_SECONDS
        totals = self._totals
        for i, v in enumerate(values):
            acc[i] += v
        for name, start in self._start.items():
            if slot >= start:
                total = totals[name]
                for i, v in enumerate(values):
                    total[i] += v

    def totals(self, window: str) -> list[float]:
        """The running totals of ``window`` (of everything when the clock never advanced)."""
        return list(self._total(window))


_ALPHA = 0.01
_GAMMA = (1 + _ALPHA) / (1 - _ALPHA)
_LOG_GAMMA = math.log(_GAMMA)
_MIN_VALUE = 1.0  # durations up to one second share the lowest bucket


def bucket_of(value: float) -> int:
    """The log bucket of ``value``: bucket b covers (γ^(b−1), γ^b]."""
    if value <= _MIN_VALUE:
        return 0
    return math.ceil(math.log(value) / _LOG_GAMMA)


def bucket_value(bucket: int) -> float:
    """The representative value of a bucket (relative error ≤ α for any value inside it)."""
    if bucket <= 0:
        return _MIN_VALUE
    return 2 * _GAMMA**bucket / (_GAMMA + 1)


def _bump(hist: dict[int, int], bucket: int, n: int) -> None:
    left = hist.get(bucket, 0) + n
    if left:
        hist[bucket] = left
    else:
        del hist[bucket]


class RollingSketch(_Slotted[dict[int, int]]):
    """Rolling log-bucket histograms over the same windows as :class:`RollingSums`."""

    __slots__ = ()

    def _empty(self) -> dict[int, int]:
        return {}

    def _merge(self, into: dict[int, int], acc: dict[int, int], sign: int) -> None:
        for b, n in acc.items():
            _bump(into, b, sign * n)

    def _acc_to_plain(self, acc: dict[int, int]) -> list[Any]:
        return [[b, n] for b, n in sorted(acc.items())]

    def _acc_from_plain(self, plain: Any) -> dict[int, int]:
        return {int(b): int(n) for b, n in plain}

    def add(self, t: float, value: float, n: int = 1) -> None:
        """Count ``value`` at time ``t`` ``n`` times (n = -1 takes an earlier add back exactly)."""
        acc = self._slot(t)
        if acc is None:
            return
        b = bucket_of(value)
        _bump(acc, b, n)
        slot = t // SLOT_SECONDS
        for name, start in self._start.items():
            if slot >= start:
                _bump(self._totals[name], b, n)

    def count(self, window: str) -> int:
        return sum(self._total(window).values())

    def quantile(self, window: str, q: float) -> float | None:
        """The q-quantile (nearest rank) of the window, or None when it is empty."""
        hist = self._total(window)
        total = sum(hist.values())
        if total <= 0:
            return None
        rank = max(1, math.ceil(q * total))
        seen = 0
        for b in sorted(hist):
            seen += hist[b]
            if seen >= rank:
                return bucket_value(b)
        raise AssertionError("unreachable: rank <= total")
