"""`contactmon publish` on a real broker: good lines sent keyed by municipality, bad ones not."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.cli import main
from tests.factories import event, opened
from tests.integration.conftest import free_ports
from tests.integration.worker_harness import Names, consume_all
from tests.unit.test_publish import DECODER_BAD

pytestmark = pytest.mark.integration


def test_publish_twice_sends_every_good_line_twice_keyed_by_municipality(
    kafka_broker: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    names = Names()
    monkeypatch.setenv("CONTACTMON_EVENTS_TOPIC", names.events)
    monkeypatch.setenv("CONTACTMON_DLQ_TOPIC", names.dlq)
    good = [
        opened("k1", "2024-03-04 09:00"),
        event("item.opened", "k2", "2024-03-04 09:05", "heiloo", kind="vraag", channel="email"),
        event("item.responded", "k1", "2024-03-05 09:00"),
    ]
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"\n".join([good[0], *DECODER_BAD.values(), good[1], good[2]]) + b"\n")
    rejects = tmp_path / "rejects.jsonl"
    argv = ["publish", str(path), "--bootstrap-servers", kafka_broker, "--rejects", str(rejects)]
    assert main([*argv, "--ensure-topics"]) == 0
    assert "3 events" in capsys.readouterr().err
    assert main([*argv, "--rate", "50"]) == 0
    records = consume_all(kafka_broker, names.events, expect=6)
    assert len(records) == 6
    assert sorted(value for _, value, _ in records) == sorted(good * 2)
    for key, value, _ in records:
        assert key == orjson.loads(value)["data"]["municipality"].encode()
    assert len(rejects.read_bytes().splitlines()) == len(DECODER_BAD)


def test_no_broker_is_exit_1_or_2_with_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "one.jsonl"
    path.write_bytes(opened("k1", "2024-03-04 09:00") + b"\n")
    (port,) = free_ports(1)
    code = main(["publish", str(path), "--bootstrap-servers", f"127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code in (1, 2)
    assert err.startswith("contactmon publish: ")
    assert "Traceback" not in err
