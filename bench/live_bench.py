"""End-to-end benchmark of `contactmon worker` on a real Kafka broker, beside the core's own rate.

Run with ``make bench`` (or ``python -m bench.live_bench --events 100000 --write BENCHMARKS.md``).
In one run, on this machine:

1. a broker is started (deploy/kafka.sh) and a topic is filled with ``--events`` simulated events;
2. the core's own replay rate over the same events: ``Monitor.process`` in this process
   (decode, validate, dedupe, state, sweep; `bench.core_bench.rate_core`), measured before and
   after the worker, by wall clock and by CPU time;
3. one worker (event clock, lateness 300 s, SQLite store, default checkpoint settings) reads the
   topic from the start: events/s from the moment its partitions are assigned until its offsets
   reach the end, by wall clock and by the worker process's CPU time; the ratios to the core;
4. latency at half the worker's rate: calls (queued, answered, ended) stamped with the wall clock
   go to a fresh topic at 50 % of the measured rate and a fresh wall-clock worker reads them;
   /metrics is scraped every 100 ms: the event→/metrics delay is the scrape's time minus the
   newest event time it shows
   (``contact_last_event_timestamp_seconds``), the processing delay is the worker's own
   ``contact_worker_processing_delay_seconds``; p50 and p99 of each;
5. rebuild: ``--rebuild-events`` simulated events (1,000,000 by default) on a topic;
   ``contactmon replay FILE --store sqlite:///…`` (a process, timed from start to exit) against
   ``contactmon worker --rebuild`` (a process, timed from start until its offsets reach the end
   and it has stopped after its final checkpoint); the ratio of the two;
6. the worker's peak resident set (VmHWM) in step 3.

The machine is shared (two cores for broker, worker and load generator, and other people's
work): absolute rates move with its load, so every figure is compared with one taken in the same
run, and CPU-time ratios are given beside wall-clock ones.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import orjson
from kafka import KafkaProducer

from bench.core_bench import rate_core, read_lines, simulated_file
from bench.report import write_section
from tests.integration.worker_harness import CONTACTMON, Names, Worker, parse, total, wait_until

ROOT = Path(__file__).resolve().parent.parent
PARTITIONS = 12  # the worker's default (CONTACTMON_PARTITIONS)
MARK_BEGIN = "<!-- live-bench:begin -->"
MARK_END = "<!-- live-bench:end -->"
TICKS = os.sysconf("SC_CLK_TCK")
# the worker as it runs in production, not the tests' one-second timers
PRODUCTION_TIMERS = {"CONTACTMON_CHECKPOINT_INTERVAL": "5", "CONTACTMON_SWEEP_INTERVAL": "5"}


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill(bootstrap: str, topic: str, lines: list[bytes]) -> None:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks=1, linger_ms=50, batch_size=1_048_576
    )
    for line in lines:
        producer.send(topic, key=orjson.loads(line)["data"]["municipality"].encode(), value=line)
    producer.flush(timeout=600)
    producer.close()


def ensure(bootstrap: str, names: Names) -> None:
    from streams.live.settings import KafkaSettings  # noqa: PLC0415
    from streams.live.topics import ensure_topics  # noqa: PLC0415

    ensure_topics(
        KafkaSettings(bootstrap_servers=bootstrap, events_topic=names.events, dlq_topic=names.dlq)
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def core_rates(lines: list[bytes]) -> tuple[float, float]:
    """The core's replay rate over ``lines``: (events per wall second, events per CPU second)."""
    cpu = time.process_time()
    wall = rate_core(lines)
    return wall, len(lines) / (time.process_time() - cpu)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def live_events(
    rate: float, seconds: float, bootstrap: str, topic: str, stop: threading.Event
) -> int:
    """Produce calls stamped with the wall clock at ``rate`` events/s: each call is queued,
    answered 20 calls later and ended 40 calls later, so the open calls stay few (as in a real
    contact centre) and the state does not grow for the length of the run."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=1)
    slugs = ("bergen", "castricum", "heiloo", "uitgeest")
    steps = (("call.queued", 0), ("call.answered", 20), ("call.ended", 40))
    started = time.monotonic()
    n = 0
    call = 0
    while not stop.is_set() and time.monotonic() - started < seconds:
        for kind, behind in steps:
            subject = call - behind
            if subject < 0:
                continue
            slug = slugs[subject % 4]
            raw = orjson.dumps(
                {
                    "specversion": "1.0",
                    "id": f"lat-{kind}-{subject}",
                    "source": "urn:nld:gemeente:bench:kcc",
                    "type": f"nl.contactmonitor.{kind}",
                    "time": datetime.now(UTC).isoformat(),
                    "subject": f"kcc-{subject:08x}",
                    "data": {"municipality": slug, "channel": "telefoon"},
                }
            )
            producer.send(topic, key=slug.encode(), value=raw)
            n += 1
        call += 1
        ahead = n / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    producer.flush()
    producer.close()
    return n


def throughput(
    bootstrap: str, state: Path, lines: list[bytes]
) -> tuple[float, float, float, float, float, int]:
    """Core (wall, CPU) before, the worker (wall, CPU), core (wall) after, worker peak RSS."""
    names = Names()
    ensure(bootstrap, names)
    print(f"bench: filling {names.events} with {len(lines):,} events", file=sys.stderr)
    fill(bootstrap, names.events, lines)
    core_before, core_cpu = core_rates(lines)
    print(f"bench: core {core_before:,.0f} events/s", file=sys.stderr)
    worker = Worker(
        bootstrap,
        names,
        state,
        f"sqlite:///{state / 'throughput.sqlite3'}",
        CONTACTMON_CLOCK="event",
        CONTACTMON_LATENESS="300",
        **PRODUCTION_TIMERS,
    )
    try:
        worker.start()
        wait_until("partitions assigned", lambda: worker.owned() == PARTITIONS, timeout=120)
        assert worker.proc is not None
        cpu_start = cpu_seconds(worker.proc.pid)
        started = time.perf_counter()
        wait_until(
            "the worker to reach the end of the topic",
            lambda: worker.next_offsets() >= len(lines),
            timeout=3600,
            every=0.25,  # a scrape renders every series: often enough, not so often it costs
        )
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(worker.proc.pid) - cpu_start
        rss = peak_rss(worker.proc.pid)
    finally:
        worker.stop()
    core_after, _ = core_rates(lines)
    print(f"bench: worker {len(lines) / elapsed:,.0f} events/s", file=sys.stderr)
    return core_before, core_cpu, len(lines) / elapsed, len(lines) / cpu, core_after, rss


def latency(bootstrap: str, state: Path, rate: float, seconds: float) -> dict[str, float]:
    """Event→/metrics and processing delays (p50, p99) at ``rate`` events/s, and the count."""
    names = Names()
    ensure(bootstrap, names)
    worker = Worker(
        bootstrap,
        names,
        state,
        f"sqlite:///{state / 'latency.sqlite3'}",
        CONTACTMON_CLOCK="wall",
        **PRODUCTION_TIMERS,
    )
    visible: list[float] = []
    processing: list[float] = []
    try:
        worker.start()
        wait_until("partitions assigned", lambda: worker.owned() == PARTITIONS, timeout=120)
        stop = threading.Event()
        producer = threading.Thread(
            target=live_events, args=(rate, seconds, bootstrap, names.events, stop)
        )
        producer.start()
        time.sleep(2.0)  # let the producer reach its pace
        url = f"http://127.0.0.1:{worker.port}/metrics"
        while producer.is_alive():
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
            now = time.time()
            scraped = parse(text)
            newest = [
                v for (n, _), v in scraped.items() if n == "contact_last_event_timestamp_seconds"
            ]
            if newest:
                visible.append(now - max(newest))
            delays = [
                v for (n, _), v in scraped.items() if n == "contact_worker_processing_delay_seconds"
            ]
            if delays:
                processing.append(max(delays))
            time.sleep(0.1)
        producer.join()
        processed = total(worker.scrape(), "contact_worker_events_processed_total")
    finally:
        worker.stop()
    return {
        "visible_p50": percentile(visible, 0.5),
        "visible_p99": percentile(visible, 0.99),
        "processing_p50": percentile(processing, 0.5),
        "processing_p99": percentile(processing, 0.99),
        "samples": float(len(visible)),
        "events": processed,
    }


def rebuild(bootstrap: str, state: Path, lines: list[bytes]) -> tuple[float, float]:
    """Seconds of ``contactmon replay`` and of ``contactmon worker --rebuild`` on ``lines``."""
    path = state / "rebuild.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    names = Names()
    ensure(bootstrap, names)
    print(f"bench: filling {names.events} with {len(lines):,} events", file=sys.stderr)
    fill(bootstrap, names.events, lines)

    replay_store = f"sqlite:///{state / 'rebuild-replay.sqlite3'}"
    started = time.perf_counter()
    subprocess.run(
        [CONTACTMON, "replay", str(path), "--store", replay_store, "--lateness", "300"],
        check=True,
        capture_output=True,
    )
    replay_s = time.perf_counter() - started
    print(f"bench: replay {replay_s:,.1f} s", file=sys.stderr)

    worker = Worker(
        bootstrap,
        names,
        state,
        f"sqlite:///{state / 'rebuild-worker.sqlite3'}",
        CONTACTMON_CLOCK="event",
        CONTACTMON_LATENESS="300",
        **PRODUCTION_TIMERS,
    )
    log = worker.log_path.open("ab")
    started = time.perf_counter()
    worker.proc = subprocess.Popen(
        [CONTACTMON, "worker", "--rebuild"],
        env=worker.env,
        stdout=log,
        stderr=log,
        cwd=worker.workdir,
    )
    try:
        wait_until(
            "the rebuild to reach the end of the topic",
            lambda: _offsets(worker) >= len(lines),
            timeout=7200,
            every=0.2,
        )
        worker.proc.send_signal(signal.SIGTERM)  # the final checkpoint, then exit
        worker.proc.wait(timeout=120)
        rebuild_s = time.perf_counter() - started
    finally:
        worker.stop()
        log.close()
    print(f"bench: worker --rebuild {rebuild_s:,.1f} s", file=sys.stderr)
    return replay_s, rebuild_s


def _offsets(worker: Worker) -> float:
    try:
        return worker.next_offsets()
    except OSError:  # not serving yet
        return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events of the throughput run")
    parser.add_argument(
        "--rebuild-events",
        type=int,
        default=1_000_000,
        help="events of the rebuild run (0: leave it out)",
    )
    parser.add_argument(
        "--latency-seconds", type=float, default=20.0, help="length of the half-load run"
    )
    parser.add_argument("--write", type=Path, help="replace the live section of this markdown file")
    args = parser.parse_args(argv)

    lines = read_lines(simulated_file(args.events), args.events)
    big = (
        read_lines(simulated_file(args.rebuild_events), args.rebuild_events)
        if args.rebuild_events
        else []
    )
    port, controller = free_port(), free_port()
    state = Path(tempfile.mkdtemp(prefix="contactmon-bench-"))
    env = {**os.environ, "CONTACTMON_STATE": str(state)}
    kafka = [str(ROOT / "deploy" / "kafka.sh")]
    subprocess.run(
        [*kafka, "start", "--port", str(port), "--controller-port", str(controller)],
        check=True,
        env=env,
    )
    bootstrap = f"127.0.0.1:{port}"
    try:
        core, core_cpu, live, live_cpu, core_after, rss = throughput(bootstrap, state, lines)
        half = live / 2
        delays = latency(bootstrap, state, half, args.latency_seconds)
        replay_s, rebuild_s = rebuild(bootstrap, state, big) if big else (0.0, 0.0)
    finally:
        subprocess.run([*kafka, "stop", "--port", str(port)], check=False, env=env)

    core_mean = (core + core_after) / 2
    rows = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, 2 cores shared by "
        "broker, worker, load generator and other work; `make bench` "
        f"(`python -m bench.live_bench --events {args.events} --rebuild-events "
        f"{args.rebuild_events}`).",
        "",
        "| figure | value |",
        "|---|---|",
        f"| events in the pre-filled topic ({PARTITIONS} partitions) | {len(lines):,} |",
        f"| the core's own replay rate, same events (before / after the worker) | "
        f"{core:,.0f} / {core_after:,.0f} events/s |",
        f"| one worker, end to end (assignment to last offset) | {live:,.0f} events/s |",
        f"| ratio worker / core, wall clock (target ≥ 0.7) | {live / core_mean:.2f} |",
        f"| ratio worker / core, CPU time ({live_cpu:,.0f} / {core_cpu:,.0f} events per CPU "
        f"second) | {live_cpu / core_cpu:.2f} |",
        f"| event→/metrics delay at half that rate ({half:,.0f} events/s, "
        f"{delays['samples']:.0f} scrapes, {delays['events']:,.0f} events): p50 / p99 "
        f"(target p99 ≤ 250 ms) | {delays['visible_p50'] * 1000:,.0f} ms / "
        f"{delays['visible_p99'] * 1000:,.0f} ms |",
        f"| processing delay (`contact_worker_processing_delay_seconds`) at half rate: "
        f"p50 / p99 | {delays['processing_p50'] * 1000:,.0f} ms / "
        f"{delays['processing_p99'] * 1000:,.0f} ms |",
        f"| worker peak RSS (VmHWM), throughput run | {rss / 2**20:,.0f} MiB |",
    ]
    if big:
        rows += [
            f"| rebuild: `contactmon replay` of {len(big):,} events into SQLite | "
            f"{replay_s:,.0f} s |",
            f"| rebuild: `contactmon worker --rebuild` of the same events from the topic | "
            f"{rebuild_s:,.0f} s |",
            f"| ratio rebuild / replay (target ≤ 1.5) | {rebuild_s / replay_s:.2f} |",
        ]
    report = "\n".join(rows)
    print(report)
    if args.write:
        write_section(args.write, "Live worker", MARK_BEGIN, MARK_END, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
