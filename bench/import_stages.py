"""Where ``contactmon import calls-csv --to file`` spends its time: each stage timed on its own.

`stage_costs` runs the importer's own pieces (`streams.importers`, `sources.calls`) over the
first `SAMPLE_ROWS` rows of a generic call-record file, one stage at a time over the output of
the stage before (kept in lists), and scales the CPU seconds to the whole file. The keyed
digests are timed apart from the rest of the mapping (the same `record_ids` calls the mapping
makes), and the whole chain once more as the importer runs it (generators, counting, progress),
so what no stage accounts for shows as its own line.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from events.vocabulary import TYPE_PREFIX

__all__ = ["SAMPLE_ROWS", "STAGES", "stage_costs"]

SAMPLE_ROWS = 50_000
STAGES = {
    "read": "read: bytes to text to `csv` rows (`streams.importers.tables.Table`)",
    "fields": "map: a row's cells to times, numbers and labels, the three event dicts",
    "digests": "map: four keyed HMAC-SHA256 digests, three formatted as UUIDs (`record_ids`)",
    "check": "check and encode: `orjson.dumps` and the decoder's checks of each event",
    "order": "order: the event-time window (a heap of 10,000 events)",
    "write": "write: JSON Lines to the file",
    "rest": "the chain of generators, counters and progress between the stages",
}


def _best(run: Callable[[], object], repeat: int) -> float:
    """CPU seconds of the fastest of `repeat` runs. The cyclic garbage collector is off while a
    stage runs: a stage keeps its output in a list, which the importer never does, and the
    collector would scan that list again and again (in the importer it costs under 1 %)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            started = time.process_time()
            run()
            best = min(best, time.process_time() - started)
        finally:
            gc.enable()
    return best


def stage_costs(path: Path, repeat: int) -> dict[str, float]:
    """CPU seconds per stage (`STAGES`) for all rows of ``path``, measured on a sample."""
    from sources.calls.common import CallMapper  # noqa: PLC0415
    from sources.calls.generic import GenericProfile  # noqa: PLC0415
    from streams.importers.command import setup  # noqa: PLC0415
    from streams.importers.csv_import import table_records  # noqa: PLC0415
    from streams.importers.output import Rejects, Tally, write_jsonl  # noqa: PLC0415
    from streams.importers.pipeline import (  # noqa: PLC0415
        EventCheck,
        checked_lines,
        in_time_order,
    )
    from streams.importers.tables import Table  # noqa: PLC0415

    options = argparse.Namespace(
        to="file", out=None, rejects=None, norms=None, source="calls-csv", dry_run=False
    )
    options.bootstrap_servers = options.rate = None
    options.ensure_topics = False
    s = setup(options)
    with path.open("rb") as f:
        total_rows = sum(1 for _ in f) - 1

    def profile(source: Path) -> tuple[Table, GenericProfile]:
        mapper = CallMapper(s.pseudonymiser, "calls", s.municipalities, s.times)
        generic = GenericProfile(mapper)
        table = Table(source)
        generic.header(table.header)
        return table, generic

    def sample(table: Table) -> list[tuple[int, list[str]]]:
        rows = []
        for number, fields in table.rows():
            rows.append((number, fields))
            if len(rows) == SAMPLE_ROWS:
                break
        return rows

    def check() -> EventCheck:
        return EventCheck(s.decoder, s.config.calendar.supported_span())

    table, generic = profile(path)
    costs: dict[str, float] = {"read": _best(lambda: sample(profile(path)[0]), repeat)}
    rows = sample(table)
    mapped = [generic.row(fields) for _, fields in rows]
    calls = [
        (fields[0], [str(e["type"]).removeprefix(TYPE_PREFIX) for e in m])
        for (_, fields), m in zip(rows, mapped, strict=True)
        if isinstance(m, list)
    ]
    record_ids = s.pseudonymiser.record_ids
    costs["digests"] = _best(lambda: [record_ids("calls", c, types) for c, types in calls], repeat)
    costs["fields"] = _best(lambda: [generic.row(f) for _, f in rows], repeat) - costs["digests"]
    records: list[tuple[Any, Any]] = [
        (("calls.csv", n), m) for (n, _), m in zip(rows, mapped, strict=True)
    ]
    costs["check"] = _best(
        lambda: list(checked_lines(records, check(), Tally(), Rejects(None))), repeat
    )
    timed = list(checked_lines(records, check(), Tally(), Rejects(None)))
    costs["order"] = _best(lambda: list(in_time_order(timed, 10_000)), repeat)
    lines = [line for _, line in timed]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "events.jsonl"

        def write() -> None:
            with out.open("wb") as f:
                write_jsonl(lines, f)

        costs["write"] = _best(write, repeat)

        sample_path = Path(tmp) / "sample.csv"
        with path.open("rb") as source, sample_path.open("wb") as target:
            for i, line in enumerate(source):
                if i > len(rows):
                    break
                target.write(line)

        def chain() -> None:
            table, generic = profile(sample_path)
            with out.open("wb") as f:
                write_jsonl(
                    in_time_order(
                        checked_lines(
                            table_records([table], generic),
                            check(),
                            Tally(),
                            Rejects(None),
                            progress=lambda: None,
                        ),
                        10_000,
                    ),
                    f,
                )

        whole = _best(chain, repeat)
    costs["rest"] = max(0.0, whole - sum(costs.values()))
    scale = total_rows / len(rows)
    return {name: cost * scale for name, cost in costs.items()}
