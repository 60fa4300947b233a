"""Rolling windows: exact eviction, bounded memory, and sketch quantiles within 1 %."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.windows import SLOT_SECONDS, RollingSketch, RollingSums, bucket_of, bucket_value

DAY = 86_400.0
T0 = 1_700_000_000.0 - (1_700_000_000.0 % SLOT_SECONDS)


class TestRollingSums:
    """Sums over 1d/7d/30d windows that evict exactly when the clock moves on."""

    def test_values_leave_each_window_when_it_moves_past_them(self) -> None:
        r = RollingSums(2)
        r.advance(T0)
        r.add(T0, 1, 1)
        r.add(T0 - 2 * DAY, 0, 1)
        assert r.totals("1d") == [1, 1]
        assert r.totals("7d") == [1, 2]
        r.advance(T0 + DAY)
        assert r.totals("1d") == [0, 0]
        assert r.totals("7d") == [1, 2]
        r.advance(T0 + 6 * DAY)
        assert r.totals("7d") == [1, 1]
        r.advance(T0 + 31 * DAY)
        assert r.totals("30d") == [0, 0]

    def test_values_older_than_the_longest_window_are_ignored(self) -> None:
        r = RollingSums(1)
        r.advance(T0)
        r.add(T0 - 31 * DAY, 5)
        assert r.totals("30d") == [0]

    def test_adds_before_the_first_advance_are_kept(self) -> None:
        r = RollingSums(1)
        r.add(T0, 3)
        assert r.totals("1d") == [3]
        r.advance(T0)
        assert r.totals("1d") == [3]

    def test_memory_is_bounded_by_the_longest_window(self) -> None:
        r = RollingSums(1)
        for hour in range(24 * 90):
            t = T0 + hour * SLOT_SECONDS
            r.add(t, 1)
            r.advance(t)
        assert len(r._slots) <= 30 * 24 + 1

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 40 * 24), st.integers(0, 3)), max_size=60))
    def test_running_totals_equal_a_recount(self, adds: list[tuple[int, int]]) -> None:
        r = RollingSums(1)
        now = T0
        seen: list[tuple[float, int]] = []
        for hour, step in adds:
            t = T0 + hour * SLOT_SECONDS
            now = max(now, T0 + (hour + step) * SLOT_SECONDS)
            r.advance(now)
            r.add(t, 1)
            if t > now - 30 * DAY:
                seen.append((t, 1))
        for window, seconds in (("1d", DAY), ("7d", 7 * DAY), ("30d", 30 * DAY)):
            start_slot = int(now // SLOT_SECONDS) - int(seconds // SLOT_SECONDS) + 1
            expect = sum(v for t, v in seen if int(t // SLOT_SECONDS) >= start_slot)
            assert r.totals(window) == [expect]


class TestSketch:
    """Log-bucket quantiles with about 1 % relative error and exact removal."""

    @settings(max_examples=100, deadline=None)
    @given(st.floats(min_value=1.01, max_value=1e8))
    def test_bucket_value_is_within_one_percent(self, value: float) -> None:
        assert abs(bucket_value(bucket_of(value)) - value) <= 0.0101 * value

    def test_quantiles_track_exact_ones(self) -> None:
        rng = random.Random(3)
        values = [rng.lognormvariate(11, 1) for _ in range(5000)]
        s = RollingSketch()
        s.advance(T0)
        for v in values:
            s.add(T0, v)
        values.sort()
        for q in (0.5, 0.9):
            exact = values[max(0, int(q * len(values)) - 1)]
            got = s.quantile("1d", q)
            assert got is not None
            assert abs(got - exact) <= 0.02 * exact

    def test_removal_is_exact(self) -> None:
        s = RollingSketch()
        s.advance(T0)
        s.add(T0, 100.0)
        s.add(T0, 5000.0)
        s.add(T0, 5000.0, -1)
        assert s.count("30d") == 1
        assert s.quantile("30d", 0.9) == bucket_value(bucket_of(100.0))

    def test_empty_window_has_no_quantile(self) -> None:
        s = RollingSketch()
        s.advance(T0)
        s.add(T0, 10.0)
        s.advance(T0 + 2 * DAY)
        assert s.quantile("1d", 0.5) is None
        assert s.quantile("7d", 0.5) is not None
