"""Rows per second of ``contactmon import calls-csv --to file`` against plain ``csv.reader``.

    python -m bench.import_bench --rows 200000 --write BENCHMARKS.md

One generated call-record file (the generic profile: a month of calls of four municipalities),
read in the same run by both, interleaved, best of ``--repeat``: ``csv.reader`` only iterates the
rows; the import reads, maps (pseudonymous subject and three keyed event ids per call), checks,
orders and writes every event. The ratio is import / csv.reader; the target is 0.2.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import tempfile
import time
from pathlib import Path

from bench.report import write_section

MARK_BEGIN = "<!-- import_bench:begin -->"
MARK_END = "<!-- import_bench:end -->"
HEADER = "call_id,municipality,queue,entered_at,answered_at,ended_at,outcome,wait_s,talk_s,resolved"
TARGET = 0.2


def write_calls(path: Path, rows: int, seed: int = 13) -> None:
    rng = random.Random(seed)
    towns = ["bergen", "castricum", "heiloo", "uitgeest"]
    with path.open("w", newline="") as f:
        f.write(HEADER + "\n")
        for i in range(rows):
            day, second = 4 + i * 20 // rows, rng.randrange(8 * 3600, 17 * 3600)
            stamp = (
                f"2024-03-{day:02d} {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
            )
            wait, talk = rng.randrange(0, 120), rng.randrange(30, 600)
            outcome = "answered" if rng.random() < 0.9 else "abandoned"
            resolved = rng.choice(["ja", "nee", ""])
            f.write(f"c{i},{rng.choice(towns)},KCC,{stamp},,,{outcome},{wait},{talk},{resolved}\n")


def plain_csv(path: Path) -> float:
    started = time.perf_counter()
    with path.open(newline="") as f:
        count = sum(1 for _ in csv.reader(f)) - 1
    return count / (time.perf_counter() - started)


def imported(path: Path, out: Path, rows: int) -> float:
    from streams.cli import main  # noqa: PLC0415

    started = time.perf_counter()
    code = main(["import", "calls-csv", str(path), "--to", "file", "--out", str(out)])
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"contactmon import exited with {code}")
    return rows / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", type=Path, help="update this BENCHMARKS.md")
    args = parser.parse_args()
    os.environ.setdefault("CONTACTMON_PSEUDONYM_KEY", "bench-key-" + "0" * 32)
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "calls.csv", Path(tmp) / "events.jsonl"
        write_calls(path, args.rows)
        size = path.stat().st_size
        reader_rates, import_rates = [], []
        for _ in range(args.repeat):
            reader_rates.append(plain_csv(path))
            import_rates.append(imported(path, out, args.rows))
        events = sum(1 for _ in out.open("rb"))
    reader, importer = max(reader_rates), max(import_rates)
    ratio = importer / reader
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    verdict = "meets" if ratio >= TARGET else "misses"
    body = "\n".join(
        [
            f"`python -m bench.import_bench --rows {args.rows} --repeat {args.repeat}`: one "
            f"generic call-record file ({args.rows:,} rows, {size / 1e6:.1f} MB, {events:,} "
            "events out), both readers in the same run, interleaved, best of each.",
            "",
            "| reader | rows/s |",
            "|---|---|",
            f"| `csv.reader` (iterate only) | {reader:,.0f} |",
            f"| `contactmon import calls-csv --to file` | {importer:,.0f} |",
            "",
            f"Ratio {ratio:.3f}: {verdict} the target of {TARGET}. Peak memory of the process "
            f"{peak_mib:.0f} MiB. Per row the import makes four keyed HMAC-SHA256 digests "
            "(the subject and three event ids, `sources.pseudonym`), which alone take several "
            "times a `csv.reader` row; see docs/importers.md (Performance).",
        ]
    )
    print(body)
    if args.write is not None:
        write_section(args.write, "Importers", MARK_BEGIN, MARK_END, body)


if __name__ == "__main__":
    main()
