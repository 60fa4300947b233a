"""Writing a benchmark's figures into its own section of BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, heading: str, begin: str, end: str, body: str) -> None:
    """Replace what stands between ``begin`` and ``end`` in ``path``, or append it."""
    block = f"{begin}\n{body}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n## {heading}\n\n{block}\n"
    path.write_text(text, encoding="utf-8")
