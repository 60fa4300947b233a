"""The worker's memory of recent figures for the trend charts: a bounded ring per norm.

The worker samples its own figures every `SAMPLE_SECONDS` (`streams.overview.sources`) and
keeps the last `CAPACITY` samples (six hours) of each (municipality, norm): the 1-day compliance
ratio, or None while nothing was decided. Memory is fixed: one 8-byte float per series and sample
(about 11 KiB per series at full length, 270 KiB for four municipalities of six norms). A series
that stops coming (a partition moved to another worker) is padded with None and dropped once it
holds no value any more. The ring lives in memory only: after a restart the charts start again;
`contactmon overview` takes its trends from Prometheus instead.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

SAMPLE_SECONDS = 15.0
CAPACITY = 1440  # six hours at one sample per 15 s

Key = tuple[str, str]  # (municipality, norm)


@dataclass(frozen=True, slots=True)
class Trend:
    """Times (epoch seconds) and values (None: no value then) of one series, oldest first."""

    times: tuple[float, ...]
    values: tuple[float | None, ...]

    def known(self) -> list[float]:
        return [v for v in self.values if v is not None]


class History:
    """A ring of samples per series, all sharing one time axis."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        if capacity < 2:
            raise ValueError("a trend needs room for at least two samples")
        self.capacity = capacity
        self._times: deque[float] = deque(maxlen=capacity)
        self._series: dict[Key, array[float]] = {}
        self._start = 0  # index of the oldest sample in every array (a ring)
        self.version = 0  # grows with every sample: a chart cache key

    def __len__(self) -> int:
        return len(self._times)

    def add(self, when: float, values: Mapping[Key, float | None]) -> None:
        """One sample of every series at ``when`` (seconds); ignored unless later than the last."""
        if self._times and when <= self._times[-1]:
            return
        full = len(self._times) == self.capacity
        slot = self._start if full else len(self._times)
        self._times.append(when)
        for key in values.keys() - self._series.keys():
            self._series[key] = array("d", [math.nan] * self.capacity)
        for key, series in list(self._series.items()):
            value = values.get(key)
            series[slot] = math.nan if value is None else float(value)
        if full:
            self._start = (self._start + 1) % self.capacity
        self._drop_gone(values)
        self.version += 1

    def _drop_gone(self, present: Mapping[Key, float | None]) -> None:
        """Forget a series that no longer comes and holds no value any more."""
        for key, series in list(self._series.items()):
            if key not in present and all(math.isnan(v) for v in series):
                del self._series[key]

    def trends(self) -> dict[Key, Trend]:
        """Every series as a `Trend`, oldest sample first."""
        n = len(self._times)
        times = tuple(self._times)
        out: dict[Key, Trend] = {}
        for key, series in self._series.items():
            ordered = [series[(self._start + i) % self.capacity] for i in range(n)]
            out[key] = Trend(times, tuple(None if math.isnan(v) else v for v in ordered))
        return out
