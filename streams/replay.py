"""``contactmon replay``: the live worker's processing over JSON Lines files, without Kafka.

The same :class:`~streams.core.monitor.Monitor` as the worker, driven on event time: every event
advances its municipality's clock, deadlines are decided by the sweep as the clock passes them, and
``--until`` finally moves every clock to that moment. Outcome rows go to the store in batches;
rejected lines go to the rejects file with their reason; the final metrics can be written in the
exposition format a scrape would return.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson
import structlog

from events.decode import DEFAULT_MAX_EVENT_BYTES, Rejection
from streams.core.config import MonitorConfig
from streams.core.monitor import Monitor
from streams.core.seen_keys import DEFAULT_DEDUPE_HORIZON
from streams.exposition import monitor_registry, render
from streams.files import atomic_write, open_private
from streams.logs import RejectionLog
from streams.progress import Progress
from streams.store import open_store

log = structlog.get_logger(__name__)

FLUSH_EVERY = 50_000
PROGRESS_EVERY = 1_000  # lines between moves of the progress line (it redraws twice a second)


@dataclass(frozen=True, slots=True)
class ReplaySummary:
    lines: int
    accepted: int
    duplicates: int
    rejected: int
    seconds: float


def rejection_line(rejection: Rejection) -> bytes:
    """One rejects-file line: the reason, the field, and the original bytes (UTF-8 or base64)."""
    record: dict[str, object] = {
        "reason": rejection.reason.value,
        "field": rejection.field,
        "detail": rejection.detail,
    }
    try:
        record["raw"] = rejection.raw.decode("utf-8")
    except UnicodeDecodeError:
        record["raw_base64"] = base64.b64encode(rejection.raw).decode("ascii")
    return orjson.dumps(record) + b"\n"


def _lines(paths: Sequence[Path], max_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Non-empty lines with the bytes read so far. A line longer than ``max_bytes`` is never held
    whole: its first ``max_bytes + 1`` bytes stand for it (the decoder rejects it as too large)."""
    done = 0
    for path in paths:
        with (
            path.open("rb")
            if str(path) != "-"
            else os.fdopen(sys.stdin.fileno(), "rb", closefd=False) as f
        ):
            while line := f.readline(max_bytes + 1):
                done += len(line)
                if len(line) > max_bytes and not line.endswith(b"\n"):
                    while (rest := f.readline(1 << 16)) and not rest.endswith(b"\n"):
                        done += len(rest)
                    done += len(rest)
                    yield line, done
                    continue
                stripped = line.strip()
                if stripped:
                    yield stripped, done


def replay(
    paths: Sequence[Path],
    config: MonitorConfig,
    *,
    store_url: str | None,
    until: float | None = None,
    metrics_file: Path | None = None,
    rejects: Path | None = None,
    lateness: float = 300.0,
    dedupe_horizon: float = DEFAULT_DEDUPE_HORIZON,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    now: float | None = None,
) -> tuple[Monitor, ReplaySummary]:
    """Replay ``paths`` through a fresh monitor; see the module docstring."""
    wall = time.time() if now is None else now
    monitor = Monitor(
        config,
        lateness=lateness,
        track_changes=store_url is not None,
        dedupe_horizon=dedupe_horizon,
        max_event_bytes=max_event_bytes,
    )
    store = open_store(store_url) if store_url is not None else None
    stdin = any(str(p) == "-" for p in paths)
    total = None if stdin else sum(p.stat().st_size for p in paths)
    progress = Progress("replay", total=total, unit="B")
    rejects_file = open_private(rejects) if rejects is not None else None
    logged = RejectionLog(log)
    started = time.monotonic()
    lines = done = 0
    try:
        for raw, done in _lines(paths, max_event_bytes):
            monitor.process(raw, wall)
            lines += 1
            if monitor.rejections:
                _drain(monitor, rejects_file, progress, logged)
            if lines % PROGRESS_EVERY == 0:
                progress.to(done, f"{lines:,} events")
            if lines % FLUSH_EVERY == 0 and store is not None:
                store.write(monitor.take_changes())
        progress.to(done, f"{lines:,} events")
        monitor.finish(until)
        _drain(monitor, rejects_file, progress, logged)
        with progress.aside():
            logged.flush()
        if store is not None:
            store.write(monitor.take_changes())
    finally:
        progress.close()
        if rejects_file is not None:
            rejects_file.close()
        if store is not None:
            store.close()
    if metrics_file is not None:
        atomic_write(metrics_file, render(monitor_registry(monitor, now=lambda: until)))
    accepted = sum(sum(s.totals.events_total.values()) for s in monitor.shards.values())
    duplicates = sum(s.totals.duplicates for s in monitor.shards.values())
    summary = ReplaySummary(
        lines=lines,
        accepted=accepted,
        duplicates=duplicates,
        rejected=sum(monitor.rejected.values()),
        seconds=time.monotonic() - started,
    )
    return monitor, summary


def _drain(
    monitor: Monitor, rejects_file: IO[bytes] | None, progress: Progress, logged: RejectionLog
) -> None:
    with progress.aside():
        for rejection in monitor.take_rejections():
            logged.rejected(rejection.reason.value, rejection.field, rejection.detail)
            if rejects_file is not None:
                rejects_file.write(rejection_line(rejection))
