"""Does the overview page hold under load? The worker's processing delay with and without readers.

Run with ``make bench`` (or ``python -m bench.overview_bench --write BENCHMARKS.md``). In one run,
on this machine:

1. a broker is started (deploy/kafka.sh) and one worker on the wall clock, with the shipped six
   norms shrunk to 20 seconds each (as the demo does), so that every norm of every municipality
   is decided during the run and the page is as full as in production (24 trend charts);
2. events stamped with the wall clock are produced at ``--rate`` events/s for the whole run: items
   of every kind opened, answered and closed after 5 or 30 seconds, calls queued and answered
   after 5 or 40 seconds; the worker's processing delay
   (``contact_worker_processing_delay_seconds``: wall clock minus the event time of the last
   applied event) is sampled every 250 ms;
3. phases of ``--seconds`` each: without readers (baseline), then ``--clients`` concurrent
   clients (in a process of their own, so they take no time from the sampler) that each load
   ``/overzicht`` (the whole page, gzip accepted as a browser does) once a second, then without
   readers again; p50 and p99 of the delay per phase, and of the page's response time;
4. the verdict: the p99 under load against the p99 of the two quiet phases together (at most
   +20 %).
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
import yaml
from kafka import KafkaProducer

from bench.live_bench import free_port
from bench.report import write_section
from streams.core.config import DEFAULT_NORMS_PATH
from tests.integration.worker_harness import Names, Worker, parse
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
PARTITIONS = 12
MARK_BEGIN = "<!-- overview-bench:begin -->"
MARK_END = "<!-- overview-bench:end -->"
LIMIT = 1.20  # the bound: p99 under load at most 20 % above the quiet p99
SLUGS = ("bergen", "castricum", "heiloo", "uitgeest")
KINDS = ("melding", "vraag", "terugbelverzoek", "klacht")
NORM_SECONDS = 20


def fast_norms(dst: Path) -> Path:
    """The shipped norms, each within NORM_SECONDS seconds (same ids and targets)."""
    data = yaml.safe_load(DEFAULT_NORMS_PATH.read_text(encoding="utf-8"))
    for norm in data["norms"]:
        norm["within"], norm["unit"] = NORM_SECONDS, "seconds"
    dst.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return dst


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _event(etype: str, slug: str, subject: str, **data: str) -> bytes:
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": f"{etype}-{subject}",
            "source": f"urn:nld:gemeente:{slug}:bench",
            "type": f"nl.contactmonitor.{etype}",
            "time": datetime.now(UTC).isoformat(),
            "subject": subject,
            "data": {"municipality": slug, **data},
        }
    )


def produce(bootstrap: str, topic: str, rate: float, stop: threading.Event) -> int:
    """Items and calls at ``rate`` events/s: every third one late, so each norm has both. Every
    event is stamped when it is sent."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=5)
    # (when, seq, slug, type, subject, data) of the follow-up events still to send
    due: list[tuple[float, int, str, str, str, dict[str, str]]] = []
    started = time.monotonic()
    sent = n = 0
    while not stop.is_set():
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, _, slug, etype, subject, data = heapq.heappop(due)
            producer.send(topic, key=slug.encode(), value=_event(etype, slug, subject, **data))
            sent += 1
        slug = SLUGS[(n // 2) % 4]  # each municipality gets items of every kind and calls
        late = n % 3 == 0
        if n % 2 == 0:  # an item: opened, responded, closed
            subject = f"b-{n:09d}"
            raw = _event("item.opened", slug, subject, kind=KINDS[(n // 8) % 4], channel="app")
            after = 30.0 if late else 5.0
            heapq.heappush(due, (now + after, n * 4, slug, "item.responded", subject, {}))
            closed = {"resolution": "afgehandeld"}
            heapq.heappush(due, (now + after + 1, n * 4 + 1, slug, "item.closed", subject, closed))
        else:  # a phone call: queued, answered
            subject = f"t-{n:09d}"
            raw = _event("call.queued", slug, subject, channel="telefoon")
            answered = now + (40.0 if late else 5.0)
            heapq.heappush(due, (answered, n * 4, slug, "call.answered", subject, {}))
        producer.send(topic, key=slug.encode(), value=raw)
        sent += 1
        n += 1
        ahead = sent / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    producer.flush()
    producer.close()
    return sent


class DelaySampler(threading.Thread):
    """Samples the worker's processing delay every 250 ms, labelled with the current phase."""

    def __init__(self, worker: Worker) -> None:
        super().__init__(daemon=True)
        self.worker = worker
        self.phase = "warm-up"
        self.samples: dict[str, list[float]] = {}
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                scraped = parse(self.worker.metrics_text())
            except OSError:
                scraped = {}
            delays = [
                v for (n, _), v in scraped.items() if n == "contact_worker_processing_delay_seconds"
            ]
            if delays:
                self.samples.setdefault(self.phase, []).append(max(delays))
            self.halt.wait(0.25)


async def readers(url: str, clients: int, seconds: float) -> dict[str, object]:
    """``clients`` readers loading ``url`` once a second for ``seconds``: response times (s),
    failed responses and bytes of one page."""
    times: list[float] = []
    failed = 0
    size = 0
    end = time.monotonic() + seconds

    async def one(session: aiohttp.ClientSession, offset: float) -> None:
        nonlocal failed, size
        await asyncio.sleep(offset)
        while (start := time.monotonic()) < end:
            try:
                async with session.get(url, headers={"Accept-Encoding": "gzip"}) as r:
                    body = await r.read()
                    if r.status != 200:
                        failed += 1
                    size = max(size, len(body))
            except aiohttp.ClientError:
                failed += 1
            took = time.monotonic() - start
            times.append(took)
            await asyncio.sleep(max(0.0, 1.0 - took))

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        await asyncio.gather(*(one(session, i / clients) for i in range(clients)))
    return {"times": times, "failed": failed, "size": size}


def run_readers(url: str, clients: int, seconds: float) -> dict[str, object]:
    """The readers in a process of their own (``--readers``), their figures as JSON."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.overview_bench",
            "--readers",
            url,
            "--clients",
            str(clients),
            "--seconds",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--clients", type=int, default=50, help="concurrent page readers")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    parser.add_argument("--write", type=Path, help="replace the overview section of this file")
    parser.add_argument("--readers", metavar="URL", help=argparse.SUPPRESS)  # the reader process
    args = parser.parse_args(argv)
    if args.readers:
        print(json.dumps(asyncio.run(readers(args.readers, args.clients, args.seconds))))
        return 0

    port = free_port()
    state = Path(tempfile.mkdtemp(prefix="contactmon-overview-bench-"))
    env = {**os.environ, "CONTACTMON_STATE": str(state)}
    kafka = [str(ROOT / "deploy" / "kafka.sh")]
    subprocess.run([*kafka, "start", "--port", str(port)], check=True, env=env)
    bootstrap = f"127.0.0.1:{port}"
    worker: Worker | None = None
    load_before = os.getloadavg()[1]
    try:
        from streams.live.settings import KafkaSettings  # noqa: PLC0415
        from streams.live.topics import ensure_topics  # noqa: PLC0415

        names = Names()
        ensure_topics(
            KafkaSettings(
                bootstrap_servers=bootstrap, events_topic=names.events, dlq_topic=names.dlq
            )
        )
        worker = Worker(
            bootstrap,
            names,
            state,
            f"sqlite:///{state / 'store.sqlite3'}",
            CONTACTMON_CLOCK="wall",
            CONTACTMON_LATENESS="0",
            CONTACTMON_NORMS_FILE=str(fast_norms(state / "norms.yaml")),
        )
        worker.start()
        wait_until(
            "partitions assigned",
            lambda: worker is not None and int(worker.owned()) == PARTITIONS,
            timeout=120,
        )
        page = f"http://127.0.0.1:{worker.port}/overzicht"
        stop = threading.Event()
        producer = threading.Thread(
            target=produce, args=(bootstrap, names.events, args.rate, stop), daemon=True
        )
        producer.start()
        sampler = DelaySampler(worker)
        sampler.start()
        time.sleep(45)  # the producer at its pace, every norm deciding, the ring's first samples
        run_readers(page, 1, 5)  # one reader first: the chart process starts, 24 charts drawn
        sampler.phase = "quiet"
        time.sleep(args.seconds)
        sampler.phase = "load"
        loaded = run_readers(page, args.clients, args.seconds)
        sampler.phase = "quiet-after"
        time.sleep(args.seconds)
        sampler.halt.set()
        stop.set()
        producer.join()
        sampler.join()
        charts = get_charts(page)
        worker.stop()
        worker = None
    finally:
        if worker is not None:
            worker.stop()
        subprocess.run([*kafka, "stop", "--port", str(port)], check=False, env=env)
    load_after = os.getloadavg()[1]

    times: list[float] = loaded["times"]  # type: ignore[assignment]
    failed, size = loaded["failed"], int(loaded["size"])  # type: ignore[call-overload]
    quiet = sampler.samples.get("quiet", []) + sampler.samples.get("quiet-after", [])
    load = sampler.samples.get("load", [])
    q99, l99 = quantile(quiet, 0.99), quantile(load, 0.99)
    ratio = l99 / q99 if q99 > 0 else float("nan")
    verdict = "held" if ratio <= LIMIT else "NOT held"

    def ms(v: float) -> str:
        return f"{v * 1000:,.0f} ms"

    report = "\n".join(
        [
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, Python "
            f"{platform.python_version()}, 2 cores shared by broker, worker, producer and the "
            f"{args.clients} readers (load average {load_before:.1f} before, {load_after:.1f} "
            f"after: other work on the machine included); `make bench` (`python -m "
            f"bench.overview_bench --rate {args.rate:g} --clients {args.clients} --seconds "
            f"{args.seconds:g}`).",
            "",
            "| figure | value |",
            "|---|---|",
            f"| events produced, stamped with the wall clock | {args.rate:,.0f} events/s |",
            f"| processing delay without readers ({len(quiet)} samples, before and after): "
            f"p50 / p99 | {ms(statistics.median(quiet))} / {ms(q99)} |",
            f"| processing delay with {args.clients} readers loading /overzicht every second "
            f"({len(load)} samples): p50 / p99 | {ms(statistics.median(load))} / {ms(l99)} |",
            f"| p99 with readers / p99 without (bound {LIMIT:.2f}) | {ratio:.2f}: {verdict} |",
            f"| page loads served ({failed} failed) | {len(times):,} |",
            f"| page response time: p50 / p99 | {ms(statistics.median(times))} / "
            f"{ms(quantile(times, 0.99))} |",
            f"| page size, gzip ({charts} trend charts inline) | {size / 1024:,.0f} KiB |",
        ]
    )
    print(report)
    if args.write:
        write_section(args.write, "Overview page under load", MARK_BEGIN, MARK_END, report)
    return 0


def get_charts(url: str) -> int:
    import urllib.request  # noqa: PLC0415

    with urllib.request.urlopen(url, timeout=10) as r:
        page = r.read()
    notes = sorted(set(re.findall(rb'class="nochart">([^<]*)', page)))
    print(f"bench: charts {page.count(b'<svg id=')}; notes {notes}", file=sys.stderr)
    return int(page.count(b'<svg id="chart-'))


if __name__ == "__main__":
    sys.exit(main())
