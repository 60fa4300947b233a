"""`contactmon import signalen` against a local fake of Signalen's private API (aiohttp).

The fake serves the fixtures in tests/fixtures/signalen (written after the API's published list
and history responses, and validated here with the importer's models): signals page by page
(two per page), each signal's history filtered by ``what``, tokens from a client-credentials
endpoint that the API stops accepting after a few requests (a token expiring mid-poll), one
HTTP 500, and a history entry that appears after a restart.
"""

from __future__ import annotations

import asyncio
import csv
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from sources.signalen import HistoryEntry, Signal, SignalPage
from streams.cli import main
from tests.fixtures.generate_sources import TEST_KEY
from tests.integration.conftest import free_ports

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "signalen"
SECRET = "client-secret-canary-7f3a"
TOKEN_REQUESTS = 4  # the API refuses a token after this many requests


class FakeSignalen:
    """The fake API's state; `app` serves it."""

    def __init__(self) -> None:
        self.signals: list[dict[str, Any]] = json.loads((FIXTURES / "signals.json").read_text())[
            "results"
        ]
        self.histories: dict[str, list[dict[str, Any]]] = json.loads(
            (FIXTURES / "histories.json").read_text()
        )
        self.tokens: dict[str, int] = {}  # token -> requests left
        self.token_fetches = 0
        self.fail_next: set[str] = {"/signals/v1/private/signals/102/history"}
        self.requests: list[str] = []
        self.always_fail = False

    def restart_with_new_entry(self) -> None:
        later = json.loads((FIXTURES / "after-restart.json").read_text())
        for key, entry in later["history"].items():
            self.histories[key].append(entry)
            for signal in self.signals:
                if str(signal["id"]) == key:
                    signal["updated_at"] = later["updated_at"]
                    signal["status"]["state"] = "o"

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "client_credentials" or form.get("client_secret") != SECRET:
            return web.json_response({"error": "invalid_client"}, status=401)
        self.token_fetches += 1
        token = f"token-{self.token_fetches}"
        self.tokens[token] = TOKEN_REQUESTS
        return web.json_response({"access_token": token, "expires_in": 3600})

    def _authorised(self, request: web.Request) -> bool:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        left = self.tokens.get(token, 0)
        if left <= 0:
            return False
        self.tokens[token] = left - 1
        return True

    async def api(self, request: web.Request) -> web.Response:
        self.requests.append(request.path_qs)
        if self.always_fail or request.path in self.fail_next:
            self.fail_next.discard(request.path)
            return web.Response(status=500, text="Internal Server Error")
        if not self._authorised(request):
            return web.json_response({"detail": "token expired"}, status=401)
        signal_id = request.match_info.get("id")
        if signal_id is not None:
            what = request.query.get("what")
            entries = [e for e in self.histories.get(signal_id, []) if what in (None, e["what"])]
            return web.json_response(sorted(entries, key=lambda e: e["when"], reverse=True))
        after = request.query.get("updated_after")
        rows = sorted(self.signals, key=lambda s: s["updated_at"])
        if after is not None:
            from datetime import datetime  # noqa: PLC0415

            limit = datetime.fromisoformat(after)
            rows = [s for s in rows if datetime.fromisoformat(s["updated_at"]) >= limit]
        page = int(request.query.get("page", "1"))
        size = 2
        chunk = rows[(page - 1) * size : page * size]
        more = len(rows) > page * size
        base = f"{request.scheme}://{request.host}{request.path}"
        query = f"?page={page + 1}&ordering=updated_at" + (
            f"&updated_after={after.replace('+', '%2B')}" if after else ""
        )
        return web.json_response(
            {
                "_links": {
                    "self": {"href": str(request.url)},
                    "next": {"href": base + query if more else None},
                    "previous": {"href": None},
                },
                "count": len(rows),
                "results": chunk,
            }
        )

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self.token)
        app.router.add_get("/signals/v1/private/signals/", self.api)
        app.router.add_get("/signals/v1/private/signals/{id}/history", self.api)
        return app


@pytest.fixture
def fake() -> Iterator[tuple[FakeSignalen, str]]:
    state = FakeSignalen()
    (port,) = free_ports(1)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(state.app())
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTACTMON_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.setenv("CONTACTMON_SIGNALEN_CLIENT_SECRET", SECRET)


def poll(url: str, tmp: Path, *extra: str) -> int:
    return main(
        [
            "import",
            "signalen",
            "--url",
            url,
            "--municipality",
            "castricum",
            "--token-url",
            f"{url}/token",
            "--client-id",
            "contactmon",
            "--store",
            f"sqlite:///{tmp / 'store.sqlite3'}",
            "--out",
            str(tmp / "events.jsonl"),
            "--once",
            *extra,
        ]
    )


def short(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(e["type"]).removeprefix("nl.contactmonitor."), str(e["time"])) for e in events]


def test_fixtures_fit_the_models() -> None:
    page = SignalPage.model_validate(
        json.loads((FIXTURES / "signals.json").read_text()) | {"_links": {"next": {"href": None}}}
    )
    assert [s.id for s in page.results] == [101, 102, 103]
    for entries in json.loads((FIXTURES / "histories.json").read_text()).values():
        assert all(HistoryEntry.model_validate(e).identifier for e in entries)
    assert Signal.model_validate(page.results[0].model_dump()).signal_id


def test_poll_restart_and_a_new_entry(
    fake: tuple[FakeSignalen, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, url = fake
    out = tmp_path / "events.jsonl"
    assert poll(url, tmp_path) == 0
    events = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    by_subject: dict[str, list[tuple[str, str]]] = {}
    for e in events:
        by_subject.setdefault(str(e["subject"]), []).extend(short([e]))
    assert sorted(by_subject.values()) == sorted(
        [
            [  # 101: reaction requested is the response, and a pause until the reaction
                ("item.opened", "2024-03-04T09:00:00+01:00"),
                ("item.responded", "2024-03-05T08:10:00+01:00"),
                ("item.paused", "2024-03-05T08:10:00+01:00"),
                ("item.resumed", "2024-03-06T10:00:00+01:00"),
            ],
            [  # 102: in behandeling, on hold, ingepland (resumed), afgehandeld, KTO
                ("item.opened", "2024-03-05T14:30:00+01:00"),
                ("item.responded", "2024-03-06T09:00:00+01:00"),
                ("item.paused", "2024-03-07T12:00:00+01:00"),
                ("item.resumed", "2024-03-11T12:00:00+01:00"),
                ("item.closed", "2024-03-12T16:00:00+01:00"),
                ("feedback.given", "2024-03-13T08:00:00+01:00"),
            ],
            [  # 103: cancelled: closed as withdrawn
                ("item.opened", "2024-03-28T11:00:00+01:00"),
                ("item.closed", "2024-04-08T09:30:00+02:00"),
            ],
        ]
    )
    closed = [e for e in events if e["type"].endswith("closed")]
    assert sorted(e["data"]["resolution"] for e in closed) == ["afgehandeld", "ingetrokken"]
    feedback = next(e for e in events if e["type"].endswith("feedback.given"))
    assert feedback["data"]["score"] == 8
    opened = next(e for e in events if e["time"] == "2024-03-05T14:30:00+01:00")
    assert opened["data"]["channel"] == "telefoon"
    assert (
        opened["data"]["category"] == "wegen-verkeer-straatmeubilair-lantaarnpaal-straatverlichting"
    )
    text = out.read_text()
    for secret in (
        "example.nl",
        "0612345678",
        "Dorpsstraat",
        "5b0f8c1e",
        "UPDATE_STATUS",
        SECRET,
        "token-",
    ):
        assert secret not in text
    err = capsys.readouterr().err
    assert "deadline_disagreements 1" in err  # Easter Monday: Signalen counts it, we do not
    assert "deadlines_compared 3" in err
    assert SECRET not in err
    assert "token-" not in err
    # the token expired mid-poll and was fetched again; the 500 was retried
    assert state.token_fetches >= 2
    assert not state.fail_next
    assert sum("page=2" in r for r in state.requests) >= 1

    # a restart without changes: nothing new, nothing repeated
    before = out.read_bytes()
    assert poll(url, tmp_path) == 0
    assert out.read_bytes() == before

    # a history entry appears (101 is closed); the next poll sends exactly that
    state.restart_with_new_entry()
    assert poll(url, tmp_path) == 0
    added = [orjson.loads(line) for line in out.read_bytes()[len(before) :].splitlines()]
    assert short(added) == [("item.closed", "2024-04-09T10:00:00+02:00")]
    assert {e["id"] for e in added}.isdisjoint({e["id"] for e in events})


def test_dry_run_keeps_the_cursor(fake: tuple[FakeSignalen, str], tmp_path: Path) -> None:
    _, url = fake
    assert poll(url, tmp_path, "--dry-run") == 0
    assert not (tmp_path / "events.jsonl").exists()
    assert poll(url, tmp_path) == 0
    assert len((tmp_path / "events.jsonl").read_bytes().splitlines()) == 12


def test_without_credentials_or_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CONTACTMON_SIGNALEN_CLIENT_SECRET")
    assert poll("http://127.0.0.1:9", tmp_path) == 2
    assert "CONTACTMON_SIGNALEN_CLIENT_SECRET" in capsys.readouterr().err
    monkeypatch.delenv("CONTACTMON_PSEUDONYM_KEY")
    assert poll("http://127.0.0.1:9", tmp_path) == 2
    assert "CONTACTMON_PSEUDONYM_KEY" in capsys.readouterr().err


def test_a_server_that_keeps_failing_is_exit_1(
    fake: tuple[FakeSignalen, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, url = fake
    state.always_fail = True
    assert poll(url, tmp_path) == 1
    err = capsys.readouterr().err
    assert "kept failing" in err


def test_one_instance_for_several_municipalities(
    fake: tuple[FakeSignalen, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An area mapping places each signal by its buurt code; the default takes the rest; the
    cursor is the instance's (named in the file), so a second poll repeats nothing; the response
    counts from the first reply; the KTO scores come from the file."""
    state, url = fake
    codes = {101: "BU03830001", 102: "BU03730204"}  # Castricum, Bergen; 103 has none
    for signal in state.signals:
        signal["location"]["buurt_code"] = codes.get(signal["id"])
    config = tmp_path / "signalen.yaml"
    config.write_text(
        "name: regio\n"
        "municipality:\n  default: Heiloo\n  field: location.buurt_code\n"
        "  values: {BU0383: castricum, BU0373: Bergen (NH)}\n"
        "response: {from: reply}\n"
        "kto: {satisfied: 9, unsatisfied: 2}\n",
        encoding="utf-8",
    )
    base = [
        "import",
        "signalen",
        "--url",
        url,
        "--config",
        str(config),
        "--token-url",
        f"{url}/token",
        "--client-id",
        "contactmon",
        "--store",
        f"sqlite:///{tmp_path / 'store.sqlite3'}",
        "--out",
        str(tmp_path / "events.jsonl"),
        "--deadlines",
        str(tmp_path / "deadlines.csv"),
        "--once",
    ]
    assert main(base) == 0
    out = tmp_path / "events.jsonl"
    events = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    places = {e["data"]["municipality"] for e in events}
    assert places == {"castricum", "bergen", "heiloo"}
    for e in events:
        assert e["source"] == f"urn:nld:gemeente:{e['data']['municipality']}:signalen"
    bergen = [e for e in events if e["data"]["municipality"] == "bergen"]  # signal 102
    responded = [e["time"] for e in bergen if e["type"].endswith("item.responded")]
    assert responded == ["2024-03-12T16:00:00+01:00"]  # the first text to the reporter
    assert [e["data"]["score"] for e in bergen if e["type"].endswith("feedback.given")] == [9]

    rows = list(csv.DictReader((tmp_path / "deadlines.csv").open(encoding="utf-8")))
    assert [(r["municipality"], r["agree"]) for r in rows] == [
        ("castricum", "ja"),
        ("bergen", "ja"),
        ("heiloo", "nee"),
    ]
    easter = rows[2]
    assert (easter["opened"], easter["deadline_signalen"], easter["deadline_ours"]) == (
        "2024-03-28",
        "2024-04-04",
        "2024-04-08",
    )
    subjects = {e["subject"] for e in events}
    assert {r["subject"] for r in rows} <= subjects
    text = (tmp_path / "deadlines.csv").read_text()
    for secret in ("5b0f8c1e", "SIG-", "Dorpsstraat", "example.nl", ",101,", ",103,"):
        assert secret not in text
    assert oct((tmp_path / "deadlines.csv").stat().st_mode & 0o777) == "0o600"
    err = capsys.readouterr().err
    assert "deadline_disagreements 1" in err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    compared = [line for line in lines if line.get("event") == "signalen deadlines compared"]
    assert sorted((c["municipality"], c["rows"], c["count"]) for c in compared) == [
        ("bergen", 1, 0),
        ("castricum", 1, 0),
        ("heiloo", 1, 1),
    ]
    assert all("dropped_keys" not in line for line in lines)

    # again: the instance's cursor holds, nothing new in either file
    before, table = out.read_bytes(), (tmp_path / "deadlines.csv").read_bytes()
    assert main(base) == 0
    assert out.read_bytes() == before
    assert (tmp_path / "deadlines.csv").read_bytes() == table


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("municipality: {field: location.buurt_code, values: {BU1: alkmaar}}", "alkmaar"),
        ("kto: {satisfied: 0}", "kto.satisfied"),
        ("response: {from: sometimes}", "response.from"),
    ],
)
def test_a_bad_configuration_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, says: str
) -> None:
    config = tmp_path / "signalen.yaml"
    config.write_text(text, encoding="utf-8")
    assert poll("http://127.0.0.1:9", tmp_path, "--config", str(config)) == 2
    err = capsys.readouterr().err
    assert says in err
    assert "Traceback" not in err
    assert not (tmp_path / "events.jsonl").exists()
