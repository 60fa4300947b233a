"""The deadline index: which subjects are due when, so the sweep costs O(due items).

Subjects are kept in buckets per (norm index, deadline); a heap orders the bucket keys by deadline.
An entry can go stale (the subject met the norm, was excluded, or a pause moved its deadline): the
sweep checks each subject against its current deadline and skips stale ones, so nothing is ever
removed from a bucket.

Beside the buckets, the index counts per bucket how many subjects are still *waiting* for the
norm's stage. Overdue and at-risk gauges are sums over these counts, not scans over items. A
subject stops waiting when it reaches the stage, is excluded or paused; :meth:`stop_waiting` must
then be called with exactly the deadline it was added under.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

BucketKey = tuple[int, float]  # (norm index, deadline)


class DeadlineIndex:
    """Buckets of subjects per (norm, deadline), a heap of their keys, and waiting counts."""

    __slots__ = ("buckets", "heap", "waiting")

    def __init__(self) -> None:
        self.buckets: dict[BucketKey, list[str]] = {}
        self.heap: list[tuple[float, int]] = []
        self.waiting: dict[BucketKey, int] = {}

    def add(self, subject: str, norm: int, due: float, *, waiting: bool = True) -> None:
        """Index ``subject`` under ``due`` for ``norm``; ``waiting`` counts it as still waiting."""
        key = (norm, due)
        bucket = self.buckets.get(key)
        if bucket is None:
            self.buckets[key] = [subject]
            self.waiting[key] = int(waiting)
            heapq.heappush(self.heap, (due, norm))
        else:
            bucket.append(subject)
            if waiting:
                self.waiting[key] += 1

    def stop_waiting(self, norm: int, due: float | None) -> None:
        """A subject added (waiting) under ``due`` for ``norm`` no longer waits for the stage."""
        if due is None:
            return
        key = (norm, due)
        count = self.waiting.get(key)
        if count is not None:
            self.waiting[key] = count - 1

    def pop_due(self, cutoff: float) -> Iterator[tuple[int, float, list[str]]]:
        """Remove and yield (norm, deadline, subjects) of every bucket due at or before ``cutoff``,
        earliest first."""
        heap = self.heap
        while heap and heap[0][0] <= cutoff:
            due, norm = heapq.heappop(heap)
            key = (norm, due)
            self.waiting.pop(key, None)
            yield norm, due, self.buckets.pop(key, [])

    def waiting_counts(self) -> Iterator[tuple[int, float, int]]:
        """(norm, deadline, subjects still waiting) of every bucket with someone waiting."""
        for (norm, due), count in self.waiting.items():
            if count > 0:
                yield norm, due, count
