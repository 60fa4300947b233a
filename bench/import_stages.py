"""Where ``contactmon import calls-csv --to file`` spends its time, stage by stage.

`stage_costs` runs the importer's own chain (`streams.importers`, `sources.calls`) over the
first `SAMPLE_ROWS` rows of a generic call-record file, cut after each stage in turn and
streamed as the importer streams it (reading; mapping without the keyed digests; with them;
checking and encoding; ordering; writing), and takes what each stage adds. Stages timed apart,
over lists of the stage before, cost more than they do in the chain: 150,000 event dicts no
longer fit in the CPU's caches, and the chain encodes each event while it is still there. The
keyed digests are the difference between the mapping with `record_ids` and with fixed ids.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["SAMPLE_ROWS", "STAGES", "stage_costs"]

SAMPLE_ROWS = 50_000
STAGES = {
    "read": "read: bytes to text to `csv` rows (`streams.importers.tables.Table`)",
    "fields": "map: a row's cells to times, numbers and labels, the three event dicts",
    "digests": "map: four keyed HMAC-SHA256 digests, three formatted as UUIDs (`record_ids`)",
    "check": "check and encode: `orjson.dumps` and the decoder's checks of each event",
    "order": "order: the event-time window (a heap of 10,000 events)",
    "write": "write: JSON Lines to the file",
}
FIXED_ID = "00000000-0000-8000-8000-000000000000"


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
    from sources.pseudonym import Pseudonymiser  # noqa: PLC0415
    from streams.importers.command import setup  # noqa: PLC0415
    from streams.importers.csv_import import table_records  # noqa: PLC0415
    from streams.importers.output import Rejects, Tally, write_jsonl  # noqa: PLC0415
    from streams.importers.pipeline import (  # noqa: PLC0415
        EventCheck,
        checked_lines,
        in_time_order,
    )
    from streams.importers.tables import Table  # noqa: PLC0415

    class NoDigests(Pseudonymiser):
        """Fixed ids instead of the keyed digests: the mapping's cost without them."""

        def record_ids(
            self, system: str, record: str, whats: Iterable[str]
        ) -> tuple[str, list[str]]:
            return "calls-0", [FIXED_ID for _ in whats]

    options = argparse.Namespace(
        to="file", out=None, rejects=None, norms=None, source="calls-csv", dry_run=False
    )
    options.bootstrap_servers = options.rate = None
    options.ensure_topics = False
    s = setup(options)
    with path.open("rb") as f:
        total_rows = sum(1 for _ in f) - 1

    def records(source: Path, digests: bool = True) -> Iterator[Any]:
        p = s.pseudonymiser if digests else NoDigests(b"n" * 32)
        generic = GenericProfile(CallMapper(p, "calls", s.municipalities, s.times))
        table = Table(source)
        generic.header(table.header)
        return table_records([table], generic)

    def checked(source: Path) -> Iterator[Any]:
        check = EventCheck(s.decoder, s.config.calendar.supported_span())
        return checked_lines(records(source), check, Tally(), Rejects(None), progress=lambda: None)

    def drain(items: Iterable[object]) -> None:
        for _ in items:
            pass

    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample.csv"
        with path.open("rb") as source, sample.open("wb") as target:
            for i, line in enumerate(source):
                if i > SAMPLE_ROWS:
                    break
                target.write(line)
        rows = min(total_rows, SAMPLE_ROWS)
        out = Path(tmp) / "events.jsonl"

        def written() -> None:
            with out.open("wb") as f:
                write_jsonl(in_time_order(checked(sample), 10_000), f)

        # each level is the importer's own chain up to that stage, streamed as it runs
        levels = {
            "read": lambda: drain(Table(sample).rows()),
            "fields": lambda: drain(records(sample, digests=False)),
            "digests": lambda: drain(records(sample)),
            "check": lambda: drain(checked(sample)),
            "order": lambda: drain(in_time_order(checked(sample), 10_000)),
            "write": written,
        }
        cumulative = {name: _best(run, repeat) for name, run in levels.items()}
    costs, before = {}, 0.0
    for name, total in cumulative.items():
        costs[name] = max(0.0, total - before)
        before = max(before, total)
    scale = total_rows / rows
    return {name: cost * scale for name, cost in costs.items()}
