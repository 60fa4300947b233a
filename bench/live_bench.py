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
4. latency at half the worker's rate: the same events go to a fresh topic at 50 % of the measured
   rate, in order, for ``--latency-seconds``, and a fresh worker reads them; /metrics is scraped
   every 200 ms: the event→/metrics delay is the scrape's time minus the moment the newest event
   it shows (``contact_last_event_timestamp_seconds``, event time) was handed to the producer;
   p50 and p99 (and the same at a quarter of the rate). The events keep their simulated times
   (event clock), so the worker's state evolves as in step 3, not as a day of wall time
   compressed into seconds would make it;
5. rebuild: ``--rebuild-events`` simulated events (1,000,000 by default) on a topic;
   ``contactmon replay FILE --store sqlite:///…`` (a process, timed from start to exit) against
   ``contactmon worker --rebuild`` (a process, timed from start until its offsets reach the end
   and it has stopped after its final checkpoint); the ratio of the two;
6. the worker's peak resident set (VmHWM) in step 3.

Placement (``--placement``, off by default): the worker process on the last CPU and the broker,
the load generator and this script's scraping on the others; the core's own rate is measured on
the worker's CPU too. Measured on the two-core machine it made the event→/metrics delay worse,
not better (the checkpoint capture thread and the event loop then share one CPU, and a scrape
during a capture shows the series as last rendered), so the default lets the operating system
place the processes.

The machine is shared (two cores for broker, worker and load generator, and other people's
work): absolute rates move with its load, so every figure is compared with one taken in the same
run, and CPU-time ratios are given beside wall-clock ones.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
from kafka import KafkaProducer

from bench.core_bench import rate_core, read_lines, simulated_file
from bench.report import write_section
from events.decode import time_to_epoch
from tests.integration.worker_harness import CONTACTMON, Names, Worker
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
PARTITIONS = 12  # the worker's default (CONTACTMON_PARTITIONS)
MARK_BEGIN = "<!-- live-bench:begin -->"
MARK_END = "<!-- live-bench:end -->"
TICKS = os.sysconf("SC_CLK_TCK")
# the worker as it runs in production, not the tests' one-second timers
PRODUCTION_TIMERS = {"CONTACTMON_CHECKPOINT_INTERVAL": "5", "CONTACTMON_SWEEP_INTERVAL": "5"}


class Placement:
    """Which CPUs the worker gets and which the rest (broker, load generator, scrapes) gets.

    Child processes inherit the CPU set of the process that starts them, so each part is started
    inside `worker_cpus()` or `other_cpus()`.
    """

    def __init__(self, enabled: bool) -> None:
        cpus = sorted(os.sched_getaffinity(0))
        self.enabled = enabled and len(cpus) >= 2
        self.all = set(cpus)
        self.worker = {cpus[-1]} if self.enabled else set(cpus)
        self.others = set(cpus[:-1]) if self.enabled else set(cpus)

    @contextlib.contextmanager
    def _on(self, cpus: set[int]) -> Iterator[None]:
        os.sched_setaffinity(0, cpus)
        try:
            yield
        finally:
            os.sched_setaffinity(0, self.others)

    def worker_cpus(self) -> contextlib.AbstractContextManager[None]:
        return self._on(self.worker)

    def other_cpus(self) -> contextlib.AbstractContextManager[None]:
        return self._on(self.others)

    def describe(self) -> str:
        if not self.enabled:
            return "no placement: broker, worker and load generator share every CPU"
        return (
            f"the worker on CPU {min(self.worker)}, broker and load generator on CPU "
            f"{', '.join(str(c) for c in sorted(self.others))}"
        )


PLACE = Placement(enabled=False)  # set in main()


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
    with PLACE.worker_cpus():  # where the worker runs
        cpu = time.process_time()
        wall = rate_core(lines)
        return wall, len(lines) / (time.process_time() - cpu)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def paced(
    lines: list[bytes], rate: float, seconds: float, bootstrap: str, topic: str, out: Path
) -> None:
    """Produce ``lines`` in order at ``rate`` events/s for ``seconds`` (in a process of its own,
    so that scraping does not slow it down); write to ``out`` the number of events, the seconds
    it took and, per event time, the wall-clock moment the first event with that time was handed
    to the producer."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=1)
    # parsed before the clock starts: the load generator's own work per event stays small
    needed = min(len(lines), int(rate * seconds * 1.1) + 1)
    prepared = []
    for line in lines[:needed]:
        event = orjson.loads(line)
        key = event["data"]["municipality"].encode()
        prepared.append((key, time_to_epoch(event["time"]), line))
    sent: dict[float, float] = {}
    started = time.monotonic()
    n = 0
    for n, (key, event_time, line) in enumerate(prepared):
        if time.monotonic() - started > seconds:
            break
        if event_time not in sent:
            sent[event_time] = time.time()
        producer.send(topic, key=key, value=line)
        ahead = (n + 1) / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    took = time.monotonic() - started
    ended = time.time()
    producer.flush()
    producer.close()
    out.write_bytes(
        orjson.dumps({"events": n + 1, "seconds": took, "ended": ended, "sent": list(sent.items())})
    )


def newest_event(text: str) -> float | None:
    """The newest ``contact_last_event_timestamp_seconds`` of an exposition (read cheaply)."""
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("contact_last_event_timestamp_seconds{")
    ]
    return max(values) if values else None


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
        with PLACE.worker_cpus():
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


def latency(
    bootstrap: str, state: Path, lines: list[bytes], rate: float, seconds: float
) -> dict[str, float]:
    """Event→/metrics delays (p50, p99) with ``lines`` produced at ``rate``."""
    names = Names()
    ensure(bootstrap, names)
    worker = Worker(
        bootstrap,
        names,
        state,
        f"sqlite:///{state / 'latency.sqlite3'}",
        CONTACTMON_CLOCK="event",
        CONTACTMON_LATENESS="300",
        **PRODUCTION_TIMERS,
    )
    report = state / "paced.json"
    seen: list[tuple[float, float]] = []  # (scrape time, newest event time shown)
    try:
        with PLACE.worker_cpus():
            worker.start()
        wait_until("partitions assigned", lambda: worker.owned() == PARTITIONS, timeout=120)
        producer = multiprocessing.get_context("fork").Process(
            target=paced, args=(lines, rate, seconds, bootstrap, names.events, report)
        )
        producer.start()
        time.sleep(2.0)  # let the producer reach its pace
        url = f"http://127.0.0.1:{worker.port}/metrics"
        while producer.is_alive():
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
            newest = newest_event(text)
            if newest is not None:
                seen.append((time.time(), newest))
            time.sleep(0.2)  # a scrape renders every series: it costs the worker too
        producer.join()
    finally:
        worker.stop()
    produced = orjson.loads(report.read_bytes())
    sent = dict(produced["sent"])
    # while the producer sends: after its last event the newest one only gets older
    visible = [
        now - sent[newest] for now, newest in seen if newest in sent and now <= produced["ended"]
    ]
    return {
        "visible_p50": percentile(visible, 0.5),
        "visible_p99": percentile(visible, 0.99),
        "samples": float(len(visible)),
        "events": float(produced["events"]),
        "rate": produced["events"] / produced["seconds"],
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
    with PLACE.worker_cpus():
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
    with PLACE.worker_cpus():
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
            every=1.0,  # a second's resolution on a run of a minute or more, few scrapes
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
    parser.add_argument(
        "--placement",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="the worker on a CPU of its own, broker and load generator on the others",
    )
    parser.add_argument("--write", type=Path, help="replace the live section of this markdown file")
    args = parser.parse_args(argv)
    global PLACE  # noqa: PLW0603 - one placement for the whole run
    PLACE = Placement(enabled=args.placement)
    os.sched_setaffinity(0, PLACE.others)
    print(f"bench: {PLACE.describe()}", file=sys.stderr)

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
        # the rebuild's million events, so that the half-rate run does not run out of them
        delays = latency(bootstrap, state, big or lines, half, args.latency_seconds)
        quarter = latency(bootstrap, state, big or lines, live / 4, args.latency_seconds)
        replay_s, rebuild_s = rebuild(bootstrap, state, big) if big else (0.0, 0.0)
    finally:
        subprocess.run([*kafka, "stop", "--port", str(port)], check=False, env=env)
        shutil.rmtree(state, ignore_errors=True)  # the broker's data: about a gigabyte

    core_mean = (core + core_after) / 2
    rows = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, "
        f"{len(PLACE.all)} CPUs: {PLACE.describe()} (and other work on the machine); "
        f"`make bench` (`python -m bench.live_bench --events {args.events} --rebuild-events "
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
        f"| event→/metrics delay at half that rate ({half:,.0f} events/s asked, "
        f"{delays['rate']:,.0f} produced and processed, {delays['samples']:.0f} scrapes): "
        f"p50 / p99 (target p99 ≤ 250 ms) | {delays['visible_p50'] * 1000:,.0f} ms / "
        f"{delays['visible_p99'] * 1000:,.0f} ms |",
        f"| the same at a quarter of that rate ({quarter['rate']:,.0f} events/s, "
        f"{quarter['samples']:.0f} scrapes): p50 / p99 | {quarter['visible_p50'] * 1000:,.0f} ms "
        f"/ {quarter['visible_p99'] * 1000:,.0f} ms |",
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
