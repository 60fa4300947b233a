"""The catalog cache of `contactmon ingest`: bounded, expiring, one fetch per type.

`CatalogCache` on its own (a fake clock, loads that count), then through the whole HTTP side
against the local fake APIs: many notifications of one zaaktype fetch its catalog resources
once, a concept ZaakType (and its StatusTypes) every time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from streams.ingest.catalog_cache import CatalogCache
from tests.unit.test_ingest_http import Harness, fixture, run


class Loads:
    """A load function per URL that counts its calls and can be told to fail or to wait."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.gate: asyncio.Event | None = None
        self.failing: set[str] = set()

    def __call__(self, url: str):  # type: ignore[no-untyped-def]
        async def load() -> str:
            self.calls.append(url)
            if self.gate is not None:
                await self.gate.wait()
            if url in self.failing:
                raise RuntimeError(f"{url} unavailable")
            return f"value of {url}"

        return load


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_kept_resource_is_loaded_once() -> None:
    async def main() -> None:
        cache, loads = CatalogCache(10, 60.0), Loads()
        values = [await cache.get("a", loads("a")) for _ in range(50)]
        assert values == ["value of a"] * 50
        assert loads.calls == ["a"]
        assert (cache.misses, cache.hits) == (1, 49)

    asyncio.run(main())


def test_the_size_is_bounded_and_the_least_recently_used_goes_first() -> None:
    async def main() -> None:
        cache, loads = CatalogCache(3, 60.0), Loads()
        for url in ("a", "b", "c"):
            await cache.get(url, loads(url))
        await cache.get("a", loads("a"))  # a used again: b is now the least recently used
        for url in ("d", "e", "f", "g"):
            await cache.get(url, loads(url))
            assert len(cache) <= 3
        assert len(cache) == 3
        assert [url for url in "abcdefg" if url in cache] == ["e", "f", "g"]
        loads.calls.clear()
        await cache.get("b", loads("b"))  # evicted: loaded again
        await cache.get("g", loads("g"))  # kept
        assert loads.calls == ["b"]

    asyncio.run(main())


def test_a_resource_older_than_the_ttl_is_loaded_again() -> None:
    async def main() -> None:
        clock, loads = Clock(), Loads()
        cache = CatalogCache(10, 60.0, clock=clock)
        await cache.get("a", loads("a"))
        clock.now += 59.9
        await cache.get("a", loads("a"))
        assert loads.calls == ["a"]
        clock.now += 0.2
        assert "a" not in cache
        await cache.get("a", loads("a"))
        assert loads.calls == ["a", "a"]

    asyncio.run(main())


def test_concurrent_misses_share_one_load_and_a_failure_is_not_kept() -> None:
    async def main() -> None:
        cache, loads = CatalogCache(10, 60.0), Loads()
        loads.gate = asyncio.Event()
        waiting = [asyncio.ensure_future(cache.get("a", loads("a"))) for _ in range(20)]
        await asyncio.sleep(0)
        loads.gate.set()
        assert await asyncio.gather(*waiting) == ["value of a"] * 20
        assert loads.calls == ["a"]

        loads.gate, loads.failing = None, {"b"}
        failing = [cache.get("b", loads("b")) for _ in range(5)]
        outcomes = await asyncio.gather(*failing, return_exceptions=True)
        assert all(isinstance(o, RuntimeError) for o in outcomes)
        assert loads.calls == ["a", "b"]  # one load for the five
        assert "b" not in cache
        loads.failing.clear()
        assert await cache.get("b", loads("b")) == "value of b"  # tried again, then kept
        assert loads.calls == ["a", "b", "b"]

    asyncio.run(main())


def test_a_cancelled_caller_does_not_cancel_the_load_others_wait_for() -> None:
    async def main() -> None:
        cache, loads = CatalogCache(10, 60.0), Loads()
        loads.gate = asyncio.Event()
        first = asyncio.ensure_future(cache.get("a", loads("a")))
        second = asyncio.ensure_future(cache.get("a", loads("a")))
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.sleep(0)
        loads.gate.set()
        assert await second == "value of a"
        assert first.cancelled()
        assert "a" in cache

    asyncio.run(main())


def test_what_keep_refuses_is_loaded_every_time() -> None:
    async def main() -> None:
        cache, loads = CatalogCache(10, 60.0), Loads()
        for _ in range(3):
            await cache.get("concept", loads("concept"), keep=lambda _value: False)
        assert loads.calls == ["concept"] * 3
        assert len(cache) == 0

    asyncio.run(main())


def test_an_unusable_size_or_ttl_is_refused() -> None:
    with pytest.raises(ValueError, match="positive ttl"):
        CatalogCache(0, 60.0)
    with pytest.raises(ValueError, match="positive ttl"):
        CatalogCache(10, 0.0)


# -- through the service ----------------------------------------------------------------------


def catalog_requests(h: Harness) -> list[str]:
    return [path for path, _ in h.fake.requests if path.startswith("/catalogi/")]


def test_many_notifications_of_one_zaaktype_fetch_its_catalog_resources_once(
    tmp_path: Path,
) -> None:
    async def scenario(h: Harness) -> None:
        notifications = [
            fixture("notificatie-status-create.json"),
            fixture("cloudevent-status-create.json"),
        ] * 10
        answers = await asyncio.gather(*(h.post("/notificaties", n) for n in notifications))
        assert [status for status, _ in answers] == [200] * 20  # all at the same time
        assert len(h.events()) == 20
        fetched = catalog_requests(h)
        assert sorted(fetched) == sorted(set(fetched))  # each catalog resource once
        zaaktype = h.fake.path_of(fixture("zaaktype.json")["url"])
        ontvangen = h.fake.path_of(fixture("statustype-ontvangen.json")["url"])
        assert {zaaktype, ontvangen} <= set(fetched)
        zaken = [path for path, _ in h.fake.requests if path.startswith("/zaken/")]
        assert len(zaken) == 20 * 3  # the Status, the Zaak and its statuses: never kept

    run(tmp_path, scenario)


def test_a_concept_zaaktype_and_its_statustypes_are_fetched_every_time(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        concept = fixture("zaaktype.json") | {"concept": True}
        h.fake.put(concept["url"], concept)
        for _ in range(3):
            await h.post("/notificaties", fixture("notificatie-status-create.json"))
        assert len(h.events()) == 3
        fetched = catalog_requests(h)
        zaaktype = h.fake.path_of(concept["url"])
        ontvangen = h.fake.path_of(fixture("statustype-ontvangen.json")["url"])
        assert fetched.count(zaaktype) == 3
        assert fetched.count(ontvangen) == 3

    run(tmp_path, scenario)
