"""Rows per second of ``contactmon import calls-csv --to file`` against plain ``csv.reader``.

    python -m bench.import_bench --rows 200000 --write BENCHMARKS.md
    python -m bench.import_bench --baseline /tmp/before   # a checkout of an earlier commit too

One generated call-record file (the generic profile: a month of calls of four municipalities),
read in the same run by both, interleaved, best of ``--repeat``: ``csv.reader`` only iterates the
rows; the import reads, maps (pseudonymous subject and three keyed event ids per call), checks,
orders and writes every event. The ratio is import / csv.reader; the target is 0.2. Each import
runs as ``contactmon import`` would, in a process of its own (its imports and configuration
loaded on a small file first, then timed), by wall clock and by CPU time: on a shared machine
the CPU time is the steadier figure. ``--baseline DIR`` times the importer of another checkout
the same way in the same rounds (before and after a change). Then what each stage of the
pipeline adds per row (`bench.import_stages.stage_costs`), in this process.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import write_section

MARK_BEGIN = "<!-- import_bench:begin -->"
MARK_END = "<!-- import_bench:end -->"
HEADER = "call_id,municipality,queue,entered_at,answered_at,ended_at,outcome,wait_s,talk_s,resolved"
TARGET = 0.2
ROOT = Path(__file__).resolve().parents[1]

# Run in a child process with the checkout on sys.path: the same harness for any commit.
TIMED_IMPORT = """
import json, sys, time
from streams.cli import main
small, path, out = sys.argv[1:4]
args = ["import", "calls-csv", "--to", "file", "--out", out]
if main([*args[:2], small, *args[2:]]) != 0:
    raise SystemExit("the warm-up import failed")
wall, cpu = time.perf_counter(), time.process_time()
code = main([*args[:2], path, *args[2:]])
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({"code": code, "wall": wall, "cpu": cpu}))
"""


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


def plain_csv(path: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of csv.reader iterating the file."""
    wall, cpu = time.perf_counter(), time.process_time()
    with path.open(newline="") as f:
        for _ in csv.reader(f):
            pass
    return time.perf_counter() - wall, time.process_time() - cpu


def imported(checkout: Path, path: Path, small: Path, out: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of ``contactmon import calls-csv --to file`` of ``checkout``."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run(
        [sys.executable, "-c", TIMED_IMPORT, str(small), str(path), str(out)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        result = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise SystemExit(f"the import of {checkout} failed:\n{done.stderr[-2000:]}") from None
    if result["code"] != 0:
        raise SystemExit(f"contactmon import of {checkout} exited with {result['code']}")
    return float(result["wall"]), float(result["cpu"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="also time the importer of this checkout")
    parser.add_argument("--baseline-name", default="baseline", help="its name in the table")
    parser.add_argument("--write", type=Path, help="update this BENCHMARKS.md")
    args = parser.parse_args()
    os.environ.setdefault("CONTACTMON_PSEUDONYM_KEY", "bench-key-" + "0" * 32)
    from bench.import_stages import SAMPLE_ROWS, STAGES, stage_costs  # noqa: PLC0415

    checkouts = {"this checkout": ROOT}
    if args.baseline is not None:
        checkouts[args.baseline_name] = args.baseline.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        path, out, small = Path(tmp) / "calls.csv", Path(tmp) / "events.jsonl", Path(tmp) / "s.csv"
        write_calls(path, args.rows)
        write_calls(small, 100)
        size = path.stat().st_size
        reader: list[tuple[float, float]] = []
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in checkouts}
        for _ in range(args.repeat):
            for name, checkout in checkouts.items():
                reader.append(plain_csv(path))
                runs[name].append(imported(checkout, path, small, out))
        events = sum(1 for _ in out.open("rb"))
        costs = stage_costs(path, args.repeat)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rows = args.rows
    best_wall, best_cpu = min(w for w, _ in reader), min(c for _, c in reader)
    lines = [
        f"`python -m bench.import_bench --rows {rows} --repeat {args.repeat}`: one generic "
        f"call-record file ({rows:,} rows, {size / 1e6:.1f} MB, {events:,} events out), "
        "`csv.reader` and each importer in the same rounds, interleaved, best of each; each "
        "import a process of its own, timed after a warm-up import of 100 rows. Load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores when it ended.",
        "",
        "| reader | rows/s (wall) | ratio (wall) | rows per CPU second | ratio (CPU) |",
        "|---|---|---|---|---|",
        f"| `csv.reader` (iterate only) | {rows / best_wall:,.0f} | 1 "
        f"| {rows / best_cpu:,.0f} | 1 |",
    ]
    ratios = {}
    for name, times in runs.items():
        wall, cpu = min(w for w, _ in times), min(c for _, c in times)
        ratios[name] = best_wall / wall
        lines.append(
            f"| `contactmon import calls-csv --to file`, {name} | {rows / wall:,.0f} | "
            f"{best_wall / wall:.4f} | {rows / cpu:,.0f} | {best_cpu / cpu:.4f} |"
        )
    ratio = ratios["this checkout"]
    verdict = "meets" if ratio >= TARGET else "misses"
    total = sum(costs.values())
    lines += [
        "",
        f"Ratio {ratio:.3f} by wall clock: {verdict} the target of {TARGET}. Peak memory of an "
        f"import process {peak_mib:.0f} MiB. Where the import's time goes, per row: the "
        "importer's chain cut after each stage in turn and streamed as it runs, what each stage "
        f"adds (CPU time, best of {args.repeat}, on the first {SAMPLE_ROWS:,} rows; a call is "
        "three events; `bench/import_stages.py`):",
        "",
        "| stage | µs per row | share |",
        "|---|---|---|",
        *(
            f"| {STAGES[name]} | {cost * 1e6 / rows:.2f} | {cost / total:.0%} |"
            for name, cost in costs.items()
        ),
        f"| total | {total * 1e6 / rows:.2f} | 100% |",
    ]
    body = "\n".join(lines)
    print(body)
    if args.write is not None:
        write_section(args.write, "Importers", MARK_BEGIN, MARK_END, body)


if __name__ == "__main__":
    main()
