"""Hostile and careless norms files end in exit 2 with a message naming the line and field, in
bounded time and memory (enforced with resource limits on a real `contactmon replay` process)."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

GOOD_NORM = """norms:
  - id: melding-reactie
    applies_to: {kind: melding}
    stage: response
    within: 3
    unit: workdays
    target: 0.90
"""
LAUGHS = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)
CASES = {
    "billion laughs": (LAUGHS + GOOD_NORM, "line 1: the value anchored here"),
    "recursive alias": ("calendar: &c {x: *c}\n" + GOOD_NORM, "line 1: the value anchored here"),
    "deep nesting": ("calendar: " + "[" * 5000 + "]" * 5000 + "\n" + GOOD_NORM, "nested"),
    "impossible date": (
        "calendar:\n  closed_days: [2024-02-30]\n" + GOOD_NORM,
        "line 2: '2024-02-30' cannot be read",
    ),
    "infinite within": (GOOD_NORM.replace("within: 3", "within: .inf"), "line 5, norms[0].within"),
    "within past the calendar": (
        GOOD_NORM.replace("within: 3", "within: 100000"),
        "within 100000 workdays is longer than the calendar can place",
    ),
    "duplicate key": (
        GOOD_NORM.replace("    target: 0.90\n", "    target: 0.90\n    target: 0.5\n"),
        "line 8: norms[0].target is given twice",
    ),
    "boolean target": (GOOD_NORM.replace("target: 0.90", "target: yes"), "norms[0].target"),
    "boolean within": (GOOD_NORM.replace("within: 3", "within: true"), "norms[0].within"),
}


def limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (200 << 20, 200 << 20))  # 200 MB of address space
    resource.setrlimit(resource.RLIMIT_CPU, (2, 2))  # 2 s of CPU


def run_replay(norms: Path, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "replay",
            str(data),
            "--no-store",
            "--norms",
            str(norms),
        ],
        capture_output=True,
        text=True,
        preexec_fn=limits,
        timeout=60,
        check=False,
    )


class TestHostileNormsFiles:
    """Every hostile file is refused at load with the line and field, never a traceback."""

    @pytest.mark.parametrize("name", sorted(CASES))
    def test_refused_with_line_and_field(self, name: str, tmp_path: Path) -> None:
        text, expected = CASES[name]
        norms = tmp_path / "norms.yaml"
        norms.write_text(text)
        data = tmp_path / "events.jsonl"
        data.write_text("")
        done = run_replay(norms, data)
        assert done.returncode == 2, done.stderr
        assert expected in done.stderr
        assert "Traceback" not in done.stderr

    def test_a_huge_file_is_refused_before_it_is_read(self, tmp_path: Path) -> None:
        norms = tmp_path / "norms.yaml"
        with norms.open("w") as f:
            f.write(GOOD_NORM)
            f.write("# " + "x" * (2 << 20) + "\n")
        data = tmp_path / "events.jsonl"
        data.write_text("")
        done = run_replay(norms, data)
        assert done.returncode == 2
        assert "larger than 1024 KiB" in done.stderr
