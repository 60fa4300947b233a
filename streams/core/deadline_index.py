"""The deadline index: which subjects are due when, so the sweep costs O(due items).

Subjects are kept in buckets per (norm index, deadline); a heap orders the bucket keys by deadline.
An entry can go stale (the subject met the norm, was excluded, or a pause moved its deadline): the
sweep checks each subject against its current deadline and skips stale ones, so nothing is ever
removed from a bucket.

Beside the buckets, the index counts how many subjects of each bucket are still *waiting* for the
norm's stage, per group (the segment: residents, entrepreneurs, …). Overdue and at-risk gauges are
sums over these counts, not scans over items. A subject stops waiting when it reaches the stage, is
excluded or paused; :meth:`stop_waiting` must then be called with exactly the deadline and group it
was added under.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

BucketKey = tuple[int, float]  # (norm index, deadline)


class DeadlineIndex:
    """Buckets of subjects per (norm, deadline), a heap of their keys, and waiting counts."""

    __slots__ = ("buckets", "groups", "heap", "waiting")

    def __init__(self, groups: int = 1) -> None:
        self.groups = groups
        self.buckets: dict[BucketKey, list[str]] = {}
        self.heap: list[tuple[float, int]] = []
        self.waiting: dict[BucketKey, list[int]] = {}  # per bucket: waiting subjects per group

    def add(
        self, subject: str, norm: int, due: float, group: int = 0, *, waiting: bool = True
    ) -> None:
        """Index ``subject`` under ``due`` for ``norm``; ``waiting`` counts it in ``group``."""
        key = (norm, due)
        bucket = self.buckets.get(key)
        if bucket is None:
            self.buckets[key] = [subject]
            heapq.heappush(self.heap, (due, norm))
        else:
            bucket.append(subject)
        if waiting:
            counts = self.waiting.get(key)
            if counts is None:
                counts = self.waiting[key] = [0] * self.groups
            counts[group] += 1

    def stop_waiting(self, norm: int, due: float | None, group: int = 0) -> None:
        """A subject added (waiting) under ``due`` and ``group`` no longer waits for the stage."""
        if due is None:
            return
        counts = self.waiting.get((norm, due))
        if counts is not None:
            counts[group] -= 1

    def pop_due(
        self, cutoff: float, *, inclusive: bool = True
    ) -> Iterator[tuple[int, float, list[str]]]:
        """Remove and yield (norm, deadline, subjects) of every bucket due at or before ``cutoff``
        (strictly before it when not ``inclusive``), earliest first. Their waiting counts go too
        (whoever still waits is decided now)."""
        heap = self.heap
        while heap and (heap[0][0] <= cutoff if inclusive else heap[0][0] < cutoff):
            due, norm = heapq.heappop(heap)
            key = (norm, due)
            self.waiting.pop(key, None)
            yield norm, due, self.buckets.pop(key, [])

    def waiting_counts(self) -> Iterator[tuple[int, float, int, int]]:
        """(norm, deadline, group, subjects still waiting) for every group with someone waiting."""
        for (norm, due), counts in self.waiting.items():
            for group, count in enumerate(counts):
                if count > 0:
                    yield norm, due, group, count
