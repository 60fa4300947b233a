"""Importers end to end on a real broker: `import --to kafka` → worker → /metrics equals
`contactmon replay` of the same importers' `--to file` output; importing twice changes no figure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.cli import main
from streams.live.settings import KafkaSettings
from tests.fixtures.generate_sources import TEST_KEY
from tests.integration.worker_harness import Names, Worker, contract_only, parse, total, wait_until

pytestmark = pytest.mark.integration

LATENESS = "0"

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SOURCES = [
    ["calls-csv", "--profile", "teams", str(FIXTURES / "calls/teams-castricum-2024-03.csv")],
    # Fixi shares castricum and heiloo with the call records; its weeks of events move heiloo's
    # clock past the Asterisk calls that follow, which must still be decided as the replay does
    ["fixi-csv", str(FIXTURES / "fixi/fixi-castricum-2024-03.csv")],
    [
        "calls-csv",
        "--profile",
        "asterisk",
        str(FIXTURES / "calls/asterisk-heiloo-2024-03.queue_log"),
    ],
]


@pytest.fixture
def worker(kafka_broker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Worker]:
    names = Names()
    monkeypatch.setenv("CONTACTMON_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.setenv("CONTACTMON_EVENTS_TOPIC", names.events)
    monkeypatch.setenv("CONTACTMON_DLQ_TOPIC", names.dlq)
    store = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    w = Worker(
        kafka_broker, names, tmp_path, store, CONTACTMON_CLOCK="event", CONTACTMON_LATENESS=LATENESS
    )
    w.start()
    try:
        yield w
    finally:
        w.stop()


def import_all(kafka_broker: str) -> None:
    for args in SOURCES:
        assert main(["import", *args, "--to", "kafka", "--bootstrap-servers", kafka_broker]) == 0


def test_import_to_kafka_equals_replay_of_the_file_output(
    worker: Worker, kafka_broker: str, tmp_path: Path
) -> None:
    wait_until("partitions assigned", lambda: worker.owned() == KafkaSettings().partitions)
    files = []
    for n, args in enumerate(SOURCES):
        out = tmp_path / f"import-{n}.jsonl"
        assert main(["import", *args, "--to", "file", "--out", str(out)]) == 0
        files.append(out)
    count = sum(len(f.read_bytes().splitlines()) for f in files)
    metrics = tmp_path / "replay.prom"
    replay = ["replay", *map(str, files), "--no-store", "--lateness", LATENESS]
    assert main([*replay, "--metrics-file", str(metrics)]) == 0
    replayed = contract_only(parse(metrics.read_text()))

    import_all(kafka_broker)
    wait_until("every event processed", lambda: worker.next_offsets() >= count, timeout=120)
    live = contract_only(worker.scrape())
    assert live == replayed
    assert total(live, "contact_events_total") == count

    import_all(kafka_broker)  # the same sources again: duplicates only
    wait_until("the second import processed", lambda: worker.next_offsets() >= 2 * count)
    again = contract_only(worker.scrape())
    assert total(again, "contact_events_duplicate_total") == count

    def figures(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> object:
        return {k: v for k, v in samples.items() if k[0] != "contact_events_duplicate_total"}

    assert figures(again) == figures(live)
