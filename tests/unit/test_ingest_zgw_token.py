"""The ZGW JWT of `contactmon ingest`: the scheme's claims, signed once per reuse period."""

from __future__ import annotations

import asyncio
from pathlib import Path

import jwt

from streams.ingest.zgw_token import USER_ID, ZgwToken
from tests.unit.test_ingest_http import Harness, fixture, run

SECRET = "zgw-secret-for-the-token-test-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = 1_720_000_000.25

    def __call__(self) -> float:
        return self.now


def claims(header: str) -> dict[str, object]:
    scheme, _, token = header.partition(" ")
    assert scheme == "Bearer"
    decoded: dict[str, object] = jwt.decode(token, SECRET, algorithms=["HS256"])
    return decoded


def test_the_token_carries_the_zgw_claims() -> None:
    clock = Clock()
    token = ZgwToken("contactmon", SECRET, 60.0, clock=clock)
    assert claims(token.header()) == {
        "iss": "contactmon",
        "client_id": "contactmon",
        "iat": 1_720_000_000,
        "user_id": USER_ID,
        "user_representation": USER_ID,
    }
    assert SECRET not in repr(token)


def test_one_token_is_reused_for_the_reuse_period_then_signed_again() -> None:
    clock = Clock()
    token = ZgwToken("contactmon", SECRET, 60.0, clock=clock)
    first = token.header()
    for _ in range(100):
        clock.now += 0.5  # 50 s of requests
        assert token.header() == first
    assert token.signed == 1
    clock.now += 10.0  # 60.25 s after the iat it carries
    second = token.header()
    assert second != first
    assert claims(second)["iat"] == int(clock.now)
    assert token.signed == 2


def test_reuse_zero_signs_one_per_request_and_a_clock_set_back_gets_a_new_one() -> None:
    clock = Clock()
    every = ZgwToken("contactmon", SECRET, 0.0, clock=clock)
    for _ in range(3):
        every.header()
    assert every.signed == 3

    reused = ZgwToken("contactmon", SECRET, 60.0, clock=clock)
    reused.header()
    clock.now -= 3600.0  # an iat in the future would be refused
    assert claims(reused.header())["iat"] == int(clock.now)
    assert reused.signed == 2


def zgw_fetches(h: Harness) -> list[bool]:
    return [ok for path, ok in h.fake.requests if not path.startswith("/klantinteracties/")]


def test_the_service_signs_once_for_many_fetches_and_the_api_accepts_it(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        answers = await asyncio.gather(
            *(h.post("/notificaties", fixture("notificatie-status-create.json")) for _ in range(10))
        )
        assert [status for status, _ in answers] == [200] * 10
        assert len(zgw_fetches(h)) > 30
        assert all(zgw_fetches(h))  # every fetch authorised
        assert h.fetcher.token is not None
        assert h.fetcher.token.signed == 1  # all with the one token

    run(tmp_path, scenario)


def test_reuse_zero_in_the_settings_signs_one_per_fetch(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        for _ in range(3):
            status, _ = await h.post("/notificaties", fixture("notificatie-status-create.json"))
            assert status == 200
        assert h.fetcher.token is not None
        assert h.fetcher.token.signed == len(zgw_fetches(h))
        assert all(zgw_fetches(h))

    run(tmp_path, scenario, CONTACTMON_ZGW_TOKEN_REUSE="0")
