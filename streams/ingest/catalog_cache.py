"""Catalog resources kept in the process: a bounded LRU with a time to live, one fetch per miss.

Why keeping them is safe (docs/ingest.md, "Fetching"): a ZaakType of a published catalog does
not change — the Catalogi API refuses changes to a published ZaakType and to the StatusTypes and
other parts of it; a new version is a new resource with a new URL, which is then simply a miss.
Only a *concept* ZaakType (``concept: true``) may still change; the caller does not keep those
(``keep``) nor the parts of one. The time to live (``CONTACTMON_CATALOG_TTL``) bounds whatever
might slip through anyway, e.g. an administrator editing a published type in Open Zaak's admin.

- At most ``max_entries`` resources; the least recently used one goes first.
- Notifications that miss on the same URL at the same time share one fetch (the first starts
  it, the others wait for it); a failed fetch is not kept, so the next miss fetches again.
- Hits and misses are counted (``hits``, ``misses``: the fetches started).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class CatalogCache:
    """URL → validated resource, bounded and expiring (see the module doc)."""

    def __init__(
        self, max_entries: int, ttl: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1 or ttl <= 0:
            raise ValueError("a catalog cache needs room for one entry and a positive ttl")
        self._max = max_entries
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._loading: dict[str, asyncio.Future[Any]] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, url: object) -> bool:
        entry = self._entries.get(url) if isinstance(url, str) else None
        return entry is not None and entry[0] > self._clock()

    async def get(
        self,
        url: str,
        load: Callable[[], Awaitable[T]],
        *,
        keep: Callable[[T], bool] = lambda _value: True,
    ) -> T:
        """The resource at ``url``: kept, being loaded by another caller, or ``load()``-ed now
        (and kept when ``keep`` says so)."""
        entry = self._entries.get(url)
        if entry is not None:
            if entry[0] > self._clock():
                self._entries.move_to_end(url)
                self.hits += 1
                value: T = entry[1]
                return value
            del self._entries[url]
        loading = self._loading.get(url)
        if loading is None:
            self.misses += 1
            loading = asyncio.ensure_future(self._load(url, load, keep))
            self._loading[url] = loading
        else:
            self.hits += 1
        # shielded: a caller that is cancelled does not cancel the fetch the others wait for
        loaded: T = await asyncio.shield(loading)
        return loaded

    async def _load(
        self, url: str, load: Callable[[], Awaitable[T]], keep: Callable[[T], bool]
    ) -> T:
        try:
            value = await load()
        finally:
            del self._loading[url]
        if keep(value):
            self._entries[url] = (self._clock() + self._ttl, value)
            self._entries.move_to_end(url)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return value
