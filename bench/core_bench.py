"""Benchmark of the pure core: events/s of the full core path beside orjson.loads alone.

Run with ``make bench`` (or ``python -m bench.core_bench --events 1000000 --write BENCHMARKS.md``).
Measures, in one run on one core:

1. parse only: ``orjson.loads`` over every line of a simulated file;
2. the full core path: ``Monitor.process`` (decode, validate, de-duplicate, state, sweep) over the
   same lines, then the final sweep; and the ratio of the two rates;
3. memory per open item: the growth of the process's resident set while one million
   ``item.opened`` events are applied and none is closed, divided by one million.

The core runs compiled when ``make install`` built it for the current sources (see
``events.native``; the table says which), else (or with ``CONTACTMON_PURE_PYTHON=1``) as pure
Python. Rates are in CPU time of this process, so other work on a shared machine disturbs them
less; a parse run and a core run alternate, and each ratio is taken from one such pair. Each rate
is the median of ``--repeat`` runs. The figures replace the "core" section of
BENCHMARKS.md when ``--write`` is given.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson

from bench.report import write_section
from events import native
from streams.core import snapshot
from streams.core.config import load_norms
from streams.core.monitor import Monitor
from streams.core.seen_keys import SeenKeys

CACHE = Path(os.environ.get("CONTACTMON_BENCH_CACHE", Path.home() / ".cache" / "contactmon-bench"))
WALL = 4_102_444_800.0  # 2100-01-01: no simulated event counts as "in the future"
MARK_BEGIN = "<!-- core-bench:begin -->"
MARK_END = "<!-- core-bench:end -->"


def simulated_file(min_events: int) -> Path:
    """A simulated JSON Lines file with at least ``min_events`` events (cached between runs)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    months = max(1, -(-min_events // 13_000))  # about 14,000 events a month for the four
    while True:
        path = CACHE / f"sim-2012-01-{months}m-seed7.jsonl"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            cmd = [
                sys.executable,
                "-m",
                "streams.cli",
                "simulate",
                "--start",
                "2012-01-01",
                "--months",
                str(months),
                "--seed",
                "7",
                "--out",
                str(tmp),
            ]
            print(f"bench: simulating {months} months -> {path}", file=sys.stderr)
            subprocess.run(cmd, check=True)
            tmp.replace(path)
        with path.open("rb") as f:
            count = sum(1 for _ in f)
        if count >= min_events:
            return path
        months = int(months * min_events / max(count, 1)) + 1


def read_lines(path: Path, limit: int) -> list[bytes]:
    with path.open("rb") as f:
        return [line.rstrip(b"\n") for _, line in zip(range(limit), f, strict=False)]


def rate_parse(lines: list[bytes], clock: Callable[[], float] = time.perf_counter) -> float:
    loads = orjson.loads
    t0 = clock()
    for line in lines:
        loads(line)
    return len(lines) / (clock() - t0)


def rate_core(lines: list[bytes], clock: Callable[[], float] = time.perf_counter) -> float:
    """Events per second of the full core path (wall time unless ``clock`` says otherwise)."""
    monitor = Monitor(load_norms())
    process = monitor.process
    gc.collect()
    t0 = clock()
    for line in lines:
        process(line, WALL)
    monitor.finish()
    elapsed = clock() - t0
    monitor.take_rejections()
    return len(lines) / elapsed


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def opened_events(n: int) -> Iterator[bytes]:
    """``n`` item.opened events over four municipalities and a year, none closed."""
    slugs = ("bergen", "castricum", "heiloo", "uitgeest")
    kinds = ("melding", "vraag", "terugbelverzoek", "klacht")
    start = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    for i in range(n):
        t = datetime.fromtimestamp(start + i * 30, tz=UTC).isoformat()
        yield orjson.dumps(
            {
                "specversion": "1.0",
                "id": f"bench-{i:08d}",
                "source": "urn:nld:gemeente:bench:fixi",
                "type": "nl.contactmonitor.item.opened",
                "time": t,
                "subject": f"fixi-{i:08x}",
                "data": {
                    "municipality": slugs[i % 4],
                    "kind": kinds[i % 4],
                    "channel": "app",
                    "category": "straatverlichting",
                    "segment": "inwoner",
                },
            }
        )


def bytes_per_open_item(n: int) -> tuple[float, int]:
    monitor = Monitor(load_norms())
    # warm up: profiles, calendar tables, deadline caches
    for raw in opened_events(1000):
        monitor.process(raw.replace(b"bench-", b"warm-").replace(b"fixi-", b"warm-"), WALL)
    gc.collect()
    before = rss_bytes()
    for raw in opened_events(n):
        monitor.process(raw, WALL)
    gc.collect()
    after = rss_bytes()
    open_items = sum(sum(s.totals.open_items.values()) for s in monitor.shards.values())
    return (after - before) / n, open_items


def bytes_per_remembered_key(n: int) -> float:
    """The memory the duplicate horizon costs: bytes per event key of an evicted subject."""
    seen = SeenKeys()
    gc.collect()
    before = rss_bytes()
    for i in range(n):
        seen.add(i.to_bytes(8), 86_400.0 * (i % 400))
    gc.collect()
    return (rss_bytes() - before) / n


def checkpoint_figures(lines: list[bytes]) -> tuple[int, float, float, int]:
    """Items held, checkpoint bytes, and seconds to write and to read the checkpoint (format 3)."""
    config = load_norms()
    monitor = Monitor(config)
    for line in lines:
        monitor.process(line, WALL)
    items = sum(len(s.items) for s in monitor.shards.values())
    t0 = time.perf_counter()
    data = snapshot.dump(monitor.shards.values(), config)
    t1 = time.perf_counter()
    snapshot.load(data, config)
    t2 = time.perf_counter()
    return items, t1 - t0, t2 - t1, len(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="events in the file (default 1e6)"
    )
    parser.add_argument(
        "--open-items", type=int, default=1_000_000, help="items for the memory figure"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per rate; the median is reported"
    )
    parser.add_argument("--write", type=Path, help="replace the core section of this markdown file")
    args = parser.parse_args(argv)

    path = simulated_file(args.events)
    lines = read_lines(path, args.events)
    print(f"bench: {len(lines):,} events from {path}", file=sys.stderr)
    parse, core = [], []
    for i in range(args.repeat):
        parse.append(rate_parse(lines, time.process_time))
        core.append(rate_core(lines, time.process_time))
        print(f"bench: core run {i + 1}: {core[-1]:,.0f} events/s", file=sys.stderr)
    per_item, open_items = bytes_per_open_item(args.open_items)
    per_key = bytes_per_remembered_key(args.open_items)
    held, dump_s, load_s, size = checkpoint_figures(lines)
    p, c = statistics.median(parse), statistics.median(core)
    ratios = [ci / pi for ci, pi in zip(core, parse, strict=True)]
    report = "\n".join(
        [
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, "
            f"Python {platform.python_version()}, one core, CPU time, `make bench` "
            f"(`python -m bench.core_bench --events {args.events} "
            f"--open-items {args.open_items}`).",
            "",
            "| figure | value |",
            "|---|---|",
            f"| events in the simulated file | {len(lines):,} |",
            "| core | "
            + ("compiled with mypyc (`.native/`)" if native.active() else "pure Python")
            + " |",
            f"| `orjson.loads` only (median of {args.repeat}) | {p:,.0f} events/s |",
            f"| full core path: decode, validate, dedupe, state, sweep "
            f"(median of {args.repeat}) | {c:,.0f} events/s |",
            f"| ratio core / parse-only (median of per-run ratios) "
            f"| {statistics.median(ratios):.3f} |",
            f"| memory per open item ({open_items:,} items open) | {per_item:,.0f} bytes |",
            f"| memory per remembered event key (duplicate horizon, {args.open_items:,} keys) "
            f"| {per_key:,.0f} bytes |",
            f"| checkpoint of the whole replay's state ({held:,} items held): size "
            f"| {size / 1e6:,.1f} MB ({size / max(held, 1):,.0f} bytes per item) |",
            f"| checkpoint write / read (JSON, checked) | {dump_s:.2f} s / {load_s:.2f} s |",
        ]
    )
    print(report)
    if args.write:
        write_section(args.write, "Core", MARK_BEGIN, MARK_END, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
