"""The keys of events whose subjects are no longer in memory, for duplicates at any distance.

The contract says a second event with the same (source, id) changes nothing, whenever it arrives.
Items and calls keep the keys of their own events while they are held; feedback has no subject, and
finished items and calls are evicted after their retention. Their keys land here, per day, and are
kept for the de-duplication horizon (400 days by default, configurable), so a producer that re-sends
last year's events adds nothing. A key costs about 70 bytes (an int in a set and in a day's list);
BENCHMARKS.md has the measured figure.
"""

from __future__ import annotations

DEFAULT_DEDUPE_HORIZON = 400 * 86_400.0
_DAY = 86_400


class SeenKeys:
    """A set of 8-byte event keys (as ints) and the day each was stored under, for expiry."""

    __slots__ = ("by_day", "keys")

    def __init__(self) -> None:
        self.keys: set[int] = set()
        self.by_day: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, bytes) and int.from_bytes(key) in self.keys

    def add(self, key: bytes, at: float) -> bool:
        """Remember ``key`` under the day of ``at``; False when it was already known."""
        number = int.from_bytes(key)
        if number in self.keys:
            return False
        self.keys.add(number)
        self.by_day.setdefault(int(at // _DAY), []).append(number)
        return True

    def add_all(self, keys: bytes, at: float) -> None:
        """Remember each 8-byte key of ``keys`` (a subject's event keys) under the day of ``at``."""
        known = self.keys
        new = [
            number
            for i in range(0, len(keys), 8)
            if (number := int.from_bytes(keys[i : i + 8])) not in known
        ]
        if new:
            known.update(new)
            self.by_day.setdefault(int(at // _DAY), []).extend(new)

    def prune(self, before: float) -> None:
        """Forget the keys stored under days wholly before ``before``."""
        horizon = int(before // _DAY)
        for day in [d for d in self.by_day if d < horizon]:
            self.keys.difference_update(self.by_day.pop(day))
