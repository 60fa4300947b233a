"""End-to-end benchmark of one `contactmon worker` on a real Kafka broker, beside a bare consumer.

Run with ``make bench`` (or ``python -m bench.live_bench --events 200000 --write BENCHMARKS.md``).
In one run, on this machine:

1. a broker is started (deploy/kafka.sh) and a topic is pre-filled with simulated events;
2. a bare aiokafka consumer reads the whole topic (no processing): events/s;
3. one worker (event clock) processes the same topic from the start: events/s from the moment its
   partitions are assigned until its offsets reach the end; the ratio of the two;
4. latency at half the worker's rate: events stamped with the wall clock are produced at 50 % of
   the measured rate into a second topic, and the worker's processing delay (wall clock minus
   event time of the last applied event, ``contact_worker_processing_delay_seconds``) is sampled
   every 250 ms; p50 and p99 of the samples;
5. the worker's peak resident set (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]
from kafka import KafkaProducer

from bench.core_bench import simulated_file
from bench.report import write_section
from tests.integration.worker_harness import Names, Worker, parse, total, wait_until

ROOT = Path(__file__).resolve().parent.parent
PARTITIONS = 12  # the worker's default (CONTACTMON_PARTITIONS)
MARK_BEGIN = "<!-- live-bench:begin -->"
MARK_END = "<!-- live-bench:end -->"


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill(bootstrap: str, topic: str, lines: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=20, batch_size=262_144)
    for line in lines:
        producer.send(topic, key=orjson.loads(line)["data"]["municipality"].encode(), value=line)
    producer.flush(timeout=120)
    producer.close()


async def bare_consumer(bootstrap: str, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    seen = 0
    started = time.perf_counter()
    try:
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batch.values():
                seen += len(records)
    finally:
        await consumer.stop()
    return count / (time.perf_counter() - started)


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def live_events(
    rate: float, seconds: float, bootstrap: str, topic: str, stop: threading.Event
) -> int:
    """Produce item.opened/responded pairs stamped with the wall clock at ``rate`` events/s."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=1)
    slugs = ("bergen", "castricum", "heiloo", "uitgeest")
    started = time.monotonic()
    n = 0
    while not stop.is_set() and time.monotonic() - started < seconds:
        slug = slugs[n % 4]
        now = datetime.now(UTC).isoformat()
        raw = orjson.dumps(
            {
                "specversion": "1.0",
                "id": f"lat-{n}",
                "source": "urn:nld:gemeente:bench:kcc",
                "type": "nl.contactmonitor.call.queued",
                "time": now,
                "subject": f"kcc-{n:08x}",
                "data": {"municipality": slug, "channel": "telefoon"},
            }
        )
        producer.send(topic, key=slug.encode(), value=raw)
        n += 1
        ahead = n / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    producer.flush()
    producer.close()
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, default=100_000, help="events in the pre-filled topic"
    )
    parser.add_argument(
        "--latency-seconds", type=float, default=20.0, help="length of the half-load run"
    )
    parser.add_argument("--write", type=Path, help="replace the live section of this markdown file")
    args = parser.parse_args(argv)

    lines = [
        line
        for line in simulated_file(args.events).read_bytes().splitlines()[: args.events]
        if line
    ]
    port = free_port()
    state = Path(tempfile.mkdtemp(prefix="contactmon-bench-"))
    env = {**os.environ, "CONTACTMON_STATE": str(state)}
    kafka = [str(ROOT / "deploy" / "kafka.sh")]
    subprocess.run([*kafka, "start", "--port", str(port)], check=True, env=env)
    bootstrap = f"127.0.0.1:{port}"
    worker: Worker | None = None
    try:
        names = Names()
        from streams.live.settings import KafkaSettings  # noqa: PLC0415
        from streams.live.topics import ensure_topics  # noqa: PLC0415

        ensure_topics(
            KafkaSettings(
                bootstrap_servers=bootstrap, events_topic=names.events, dlq_topic=names.dlq
            )
        )
        print(f"bench: filling {names.events} with {len(lines):,} events", file=sys.stderr)
        fill(bootstrap, names.events, lines)
        bare = asyncio.run(bare_consumer(bootstrap, names.events, len(lines)))
        print(f"bench: bare aiokafka consumer {bare:,.0f} events/s", file=sys.stderr)

        store = f"sqlite:///{state / 'store.sqlite3'}"
        worker = Worker(
            bootstrap, names, state, store, CONTACTMON_CLOCK="event", CONTACTMON_LATENESS="300"
        )
        worker.start()
        wait_until(
            "partitions assigned",
            lambda: worker is not None and worker.owned() == PARTITIONS,
            timeout=120,
        )
        started = time.perf_counter()
        wait_until(
            "the worker to reach the end of the topic",
            lambda: worker is not None and worker.next_offsets() >= len(lines),
            timeout=3600,
            every=0.2,
        )
        live_rate = len(lines) / (time.perf_counter() - started)
        print(f"bench: worker {live_rate:,.0f} events/s", file=sys.stderr)
        worker.stop()

        # latency at half load, on a fresh topic and a fresh worker on the wall clock
        names2 = Names()
        ensure_topics(
            KafkaSettings(
                bootstrap_servers=bootstrap, events_topic=names2.events, dlq_topic=names2.dlq
            )
        )
        worker = Worker(
            bootstrap,
            names2,
            state,
            f"sqlite:///{state / 'store2.sqlite3'}",
            CONTACTMON_CLOCK="wall",
        )
        worker.start()
        wait_until(
            "partitions assigned",
            lambda: worker is not None and worker.owned() == PARTITIONS,
            timeout=120,
        )
        stop = threading.Event()
        half = live_rate / 2
        producer = threading.Thread(
            target=live_events, args=(half, args.latency_seconds, bootstrap, names2.events, stop)
        )
        producer.start()
        samples: list[float] = []
        time.sleep(2.0)  # let the producer reach its pace
        while producer.is_alive():
            scraped = parse(worker.metrics_text())
            delays = [
                v for (n, _), v in scraped.items() if n == "contact_worker_processing_delay_seconds"
            ]
            if delays:
                samples.append(max(delays))
            time.sleep(0.25)  # a scrape renders every series: sample gently
        producer.join()
        assert worker.proc is not None
        rss = peak_rss(worker.proc.pid)
        processed = total(worker.scrape(), "contact_worker_events_processed_total")
        worker.stop()
        worker = None
    finally:
        if worker is not None:
            worker.stop()
        subprocess.run([*kafka, "stop", "--port", str(port)], check=False, env=env)

    samples.sort()
    p50 = statistics.median(samples) if samples else float("nan")
    p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))] if samples else float("nan")
    report = "\n".join(
        [
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, 2 cores shared by "
            "broker, worker and load generator; `make bench` "
            f"(`python -m bench.live_bench --events {args.events}`).",
            "",
            "| figure | value |",
            "|---|---|",
            f"| events in the pre-filled topic ({PARTITIONS} partitions) | {len(lines):,} |",
            f"| bare aiokafka consumer, same topic | {bare:,.0f} events/s |",
            f"| one worker, end to end (assignment to last offset) | {live_rate:,.0f} events/s |",
            f"| ratio worker / bare consumer | {live_rate / bare:.3f} |",
            f"| processing delay at half load ({half:,.0f} events/s, {len(samples)} samples, "
            f"{processed:,.0f} events): p50 / p99 | {p50 * 1000:,.0f} ms / {p99 * 1000:,.0f} ms |",
            f"| worker peak RSS (VmHWM) | {rss / 2**20:,.0f} MiB |",
        ]
    )
    print(report)
    if args.write:
        write_section(args.write, "Live worker", MARK_BEGIN, MARK_END, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
