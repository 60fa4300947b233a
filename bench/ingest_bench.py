"""How many notifications per second one `contactmon ingest` accepts, against a bare aiohttp server.

Run with ``make bench`` (or ``python -m bench.ingest_bench --write BENCHMARKS.md``). In one run,
on this machine:

1. a broker is started (deploy/kafka.sh) and a local stand-in for Open Zaak
   (`tests.fixtures.zgw.fake_api`, serving ``--zaken`` zaken of `tests.integration.ingest_world`)
   in a process of its own;
2. one `contactmon ingest` process (plain http, the tests' configuration) and, in another process,
   a bare aiohttp server whose only handler answers 204 to any POST;
3. the same client (this process: aiohttp, ``--concurrency`` requests in flight, one connection
   each) POSTs for ``--seconds`` each, after a short warm-up, in this order: contract CloudEvents to
   the bare server; the same to ingest's ``/cloudevents``, one event per request; Open
   Notificaties' status notifications to ingest's ``/notificaties`` (each fetches the Status, the
   Zaak and the zaak's statuses from the stand-in at the same time, the catalog resources from
   ingest's cache, maps and produces); the bare server again. A request counts when it was
   answered 2xx — for ingest that is after Kafka acknowledged its records (acks=all);
4. the ratios of ingest's rates to the bare server's (the mean of its two phases); the target is
   0.3. Beside the rates: the CPU seconds per request of ingest, the stand-in and the bare server
   (from /proc), which say where the time goes.

Two cores are shared by the broker, the stand-in, ingest, the bare server and the client (and
other people's work): absolute rates move with the load, the ratios are taken in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web
from kafka import KafkaConsumer, TopicPartition

from bench.live_bench import free_port
from bench.report import write_section
from tests.fixtures.zgw.fake_api import FakeApis
from tests.integration.ingest_harness import AUTH, SECRET, TOKEN, Ingest
from tests.integration.ingest_world import world
from tests.integration.worker_harness import Names, total
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
MARK_BEGIN = "<!-- ingest-bench:begin -->"
MARK_END = "<!-- ingest-bench:end -->"
TARGET = 0.3
WARM_UP_S = 3.0
SLUGS = ("bergen", "castricum", "heiloo", "uitgeest")


def cloudevents(count: int) -> list[bytes]:
    """``count`` distinct contract events, one request body each."""
    return [
        orjson.dumps(
            {
                "specversion": "1.0",
                "id": f"bench-{n}",
                "source": f"urn:nld:gemeente:{SLUGS[n % 4]}:bench",
                "type": "nl.contactmonitor.item.opened",
                "time": "2024-05-21T09:30:00+02:00",
                "subject": f"bench-subject-{n}",
                "data": {"municipality": SLUGS[n % 4], "kind": "melding", "channel": "app"},
            }
        )
        for n in range(count)
    ]


@dataclass
class Phase:
    """What the client saw in one phase."""

    name: str
    seconds: float = 0.0
    accepted: int = 0
    other: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def load(name: str, url: str, bodies: list[bytes], concurrency: int, seconds: float) -> Phase:
    """POST ``bodies`` (cycling) to ``url`` from ``concurrency`` workers; count for ``seconds``
    after `WARM_UP_S`."""
    phase = Phase(name)
    cycle: Iterator[bytes] = itertools.cycle(bodies)
    started = time.perf_counter()
    counting_from = started + WARM_UP_S
    end = counting_from + seconds
    headers = {"Content-Type": "application/json", "Authorization": AUTH}

    async def worker(session: aiohttp.ClientSession) -> None:
        while (now := time.perf_counter()) < end:
            async with session.post(url, data=next(cycle), headers=headers) as response:
                await response.read()
                done = time.perf_counter()
            if now < counting_from or done > end:
                continue
            if 200 <= response.status < 300:
                phase.accepted += 1
                phase.latencies.append(done - now)
            else:
                phase.other[response.status] = phase.other.get(response.status, 0) + 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    phase.seconds = seconds
    return phase


# -- the two servers this script also is (in processes of their own) ----------------------------


def serve_bare(port: int) -> None:
    """An aiohttp server whose only handler answers 204."""

    async def answer(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def serve_fake_api(port: int, zaken: int) -> None:
    """The Open Zaak stand-in with the resources of ``world(zaken=zaken)``."""
    fake = FakeApis(SECRET, TOKEN)
    fake.base = f"http://127.0.0.1:{port}"
    for url, body in world(zaken=zaken).resources.items():
        fake.put(url, body)
    web.run_app(fake.application(), host="127.0.0.1", port=port, access_log=None, print=None)


def start_server(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bench.ingest_bench", *args], cwd=ROOT)


def answers(url: str) -> bool:
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return bool(r.status < 500)
    except urllib.error.HTTPError as error:
        return error.code < 500  # the stand-in says 403 or 404: it serves


def topic_size(bootstrap: str, topic: str) -> int:
    """Records on ``topic``: the sum of its partitions' end offsets."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return int(sum(consumer.end_offsets(partitions).values()))
    finally:
        consumer.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--zaken", type=int, default=100, help="zaken the stand-in holds")
    parser.add_argument("--write", type=Path, help="replace the ingest section of this file")
    parser.add_argument("--bare", type=int, help=argparse.SUPPRESS)  # the bare server's process
    parser.add_argument("--fake-api", type=int, help=argparse.SUPPRESS)  # the stand-in's
    args = parser.parse_args(argv)
    if args.bare:
        serve_bare(args.bare)
        return 0
    if args.fake_api:
        serve_fake_api(args.fake_api, args.zaken)
        return 0

    port = free_port()
    state = Path(tempfile.mkdtemp(prefix="contactmon-ingest-bench-"))
    env = {**os.environ, "CONTACTMON_STATE": str(state)}
    kafka = [str(ROOT / "deploy" / "kafka.sh")]
    subprocess.run([*kafka, "start", "--port", str(port)], check=True, env=env)
    bootstrap = f"127.0.0.1:{port}"
    servers: list[subprocess.Popen[bytes]] = []
    ingest: Ingest | None = None
    load_before = os.getloadavg()[1]
    try:
        bare_port, api_port = free_port(), free_port()
        servers.append(start_server("--bare", str(bare_port)))
        servers.append(start_server("--fake-api", str(api_port), "--zaken", str(args.zaken)))
        api = f"http://127.0.0.1:{api_port}"
        for url in (f"http://127.0.0.1:{bare_port}/", api + "/"):
            wait_until(f"{url} to serve", partial(answers, url), timeout=60, ignoring=(OSError,))
        names = Names()
        ingest = Ingest(bootstrap, names, state, api).start()
        assert ingest.proc is not None
        fake = FakeApis(SECRET, TOKEN)
        fake.base = api
        scenario = world(zaken=args.zaken)
        notifications = [
            orjson.dumps(fake.rebase(body))
            for body in scenario.notification_bodies()
            if body["resource"] == "status"
        ]
        events = cloudevents(200_000)

        def phase(name: str, url: str, bodies: list[bytes]) -> tuple[Phase, float, float, float]:
            """The phase, and the CPU seconds ingest, the stand-in and the bare server used."""
            assert ingest is not None
            assert ingest.proc is not None
            pids = (ingest.proc.pid, servers[1].pid, servers[0].pid)
            before = [cpu_seconds(pid) for pid in pids]
            result = asyncio.run(load(name, url, bodies, args.concurrency, args.seconds))
            used = [cpu_seconds(pid) - cpu for pid, cpu in zip(pids, before, strict=True)]
            print(f"bench: {name}: {result.rate:,.0f}/s {result.other}", file=sys.stderr)
            return result, used[0], used[1], used[2]

        bare_url = f"http://127.0.0.1:{bare_port}/cloudevents"
        bare_1, _, _, bare_cpu_1 = phase("bare", bare_url, events)
        ce, ce_cpu, _, _ = phase("cloudevents", ingest.url + "/cloudevents", events)
        notif, notif_cpu, api_cpu, _ = phase(
            "notificaties", ingest.url + "/notificaties", notifications
        )
        bare_2, _, _, bare_cpu_2 = phase("bare again", bare_url, events)
        served = ingest.metrics()
        produced = total(served, "contact_ingest_events_total")
        dead = total(served, "contact_ingest_dead_letters_total")
        on_topic = topic_size(bootstrap, names.events)
        assert on_topic >= produced > 0, (on_topic, produced)  # every acknowledged event is there
        ingest.stop()
        ingest = None
    finally:
        if ingest is not None and ingest.proc is not None and ingest.proc.poll() is None:
            ingest.kill()
        for proc in servers:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        subprocess.run([*kafka, "stop", "--port", str(port)], check=False, env=env)
        shutil.rmtree(state, ignore_errors=True)
    load_after = os.getloadavg()[1]

    bare = statistics.mean([bare_1.rate, bare_2.rate])
    bare_cpu = (bare_cpu_1 + bare_cpu_2) / max(bare_1.accepted + bare_2.accepted, 1)

    def ratio(p: Phase) -> str:
        value = p.rate / bare
        return f"{value:.2f}: {'met' if value >= TARGET else 'NOT met'}"

    def ms(v: float) -> str:
        return f"{v * 1000:,.1f} ms"

    report = "\n".join(
        [
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, Python "
            f"{platform.python_version()}, 2 cores shared by broker, stand-in API, ingest, the "
            f"bare server and the client (load average {load_before:.1f} before, "
            f"{load_after:.1f} after: other work on the machine included); `make bench` "
            f"(`python -m bench.ingest_bench --seconds {args.seconds:g} --concurrency "
            f"{args.concurrency} --zaken {args.zaken}`).",
            "",
            "| figure | value |",
            "|---|---|",
            f"| bare aiohttp handler answering 204, before / after | {bare_1.rate:,.0f} / "
            f"{bare_2.rate:,.0f} requests/s ({bare_cpu * 1e6:,.0f} µs server CPU each) |",
            f"| ingest `POST /cloudevents`, one event per request, 2xx after acks=all | "
            f"{ce.rate:,.0f} notifications/s (p50 {ms(ce.quantile(0.5))}, p99 "
            f"{ms(ce.quantile(0.99))}; {ce_cpu / max(ce.accepted, 1) * 1e6:,.0f} µs ingest CPU "
            "each) |",
            f"| ingest `POST /notificaties` (status create: Status, Zaak and statuses fetched at "
            f"the same time from the stand-in, catalog from the cache, mapped, produced) | "
            f"{notif.rate:,.0f} notifications/s (p50 "
            f"{ms(notif.quantile(0.5))}, p99 {ms(notif.quantile(0.99))}; "
            f"{notif_cpu / max(notif.accepted, 1) * 1e6:,.0f} µs ingest CPU and "
            f"{api_cpu / max(notif.accepted, 1) * 1e6:,.0f} µs stand-in CPU each) |",
            f"| ratio `/cloudevents` / bare (target {TARGET}) | {ratio(ce)} |",
            f"| ratio `/notificaties` / bare (target {TARGET}) | {ratio(notif)} |",
            f"| answers other than 2xx | cloudevents {sum(ce.other.values())}, notificaties "
            f"{sum(notif.other.values())} |",
            f"| events produced / dead letters (ingest's counters) / records on the topic | "
            f"{produced:,.0f} / {dead:,.0f} / {on_topic:,} |",
        ]
    )
    print(report)
    if args.write:
        write_section(args.write, "Ingest", MARK_BEGIN, MARK_END, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
