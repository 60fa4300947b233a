"""Benchmark: `contactmon report --month` against `contactmon export --month`, same month, same run.

Run with ``make bench`` (or ``python -m bench.report_bench --write BENCHMARKS.md``). A simulated
year of the four municipalities (April 2023 … March 2024, cached in the bench cache) is replayed
into a SQLite store once; then, alternating, the two commands are run as the user runs them (a
new process each, into an empty directory) for March 2024: `export` (the tidy CSV) and `report`
(HTML and PDF, which reads thirteen months and prints with Chromium). Each figure is the median of
``--repeat`` runs; the ratio report / export is the median of the per-round ratios. Target: ≤ 10.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.report import write_section

CACHE = Path(os.environ.get("CONTACTMON_BENCH_CACHE", Path.home() / ".cache" / "contactmon-bench"))
MARK_BEGIN = "<!-- report-bench:begin -->"
MARK_END = "<!-- report-bench:end -->"
MONTH = "2024-03"
CLI = [sys.executable, "-m", "streams.cli"]


def store() -> Path:
    """A store with a replayed simulated year (made once, cached)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / "report-year-2023-04-12m-seed7.sqlite3"
    if not path.exists():
        events = CACHE / "report-year-2023-04-12m-seed7.jsonl"
        simulate = ["simulate", "--start", "2023-04-01", "--months", "12", "--seed", "7"]
        subprocess.run([*CLI, *simulate, "--slip", "heiloo", "--out", str(events)], check=True)
        temp = path.with_suffix(".tmp")
        temp.unlink(missing_ok=True)
        replay = ["replay", str(events), "--until", "2024-05-01T00:00:00+02:00"]
        subprocess.run([*CLI, *replay, "--store", f"sqlite:///{temp}"], check=True)
        temp.replace(path)
    return path


def timed(args: list[str]) -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [*CLI, "--log-level", "WARNING", *args, "--out", out],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", type=Path, help="update this BENCHMARKS.md")
    args = parser.parse_args()
    if shutil.which("chromium") is None:
        print("bench: the report's PDF needs chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    url = f"sqlite:///{store()}"
    exports, reports, htmls, ratios = [], [], [], []
    for _ in range(args.repeat):
        export = timed(["export", "--month", MONTH, "--store", url])
        report = timed(["report", "--month", MONTH, "--store", url])
        html = timed(["report", "--month", MONTH, "--store", url, "--format", "html"])
        exports.append(export)
        reports.append(report)
        htmls.append(html)
        ratios.append(report / export)
    ratio = statistics.median(ratios)
    body = "\n".join(
        [
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, Python "
            f"{platform.python_version()}, `make bench` (`python -m bench.report_bench "
            f"--repeat {args.repeat}`); a simulated year of the four municipalities in SQLite, "
            f"month {MONTH}, each command a new process.",
            "",
            "| figure | value |",
            "|---|---|",
            f"| `contactmon export --month {MONTH}` (tidy CSV), median | "
            f"{statistics.median(exports):.2f} s |",
            f"| `contactmon report --month {MONTH}` (HTML and PDF), median | "
            f"{statistics.median(reports):.2f} s |",
            f"| `contactmon report --month {MONTH} --format html`, median | "
            f"{statistics.median(htmls):.2f} s |",
            f"| ratio report / export (median of per-round ratios; target ≤ 10) | {ratio:.1f} |",
        ]
    )
    print(body)
    if args.write is not None:
        write_section(args.write, "Report", MARK_BEGIN, MARK_END, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
