"""``python -m streams.dashboards.build [--check] [--root DIR]``: write or check generated files.

Writes the dashboards (``grafana/dashboards/<name>.json``) and the Kubernetes manifests generated
from them and from the alert rules (``deploy/k8s/base/generated/``). With ``--check`` nothing is
written: the command lists every file that is missing, stale, or a dashboard JSON that no code
builds, and exits 1 if there is any (0 when all are current). Run it after changing a dashboard
module, ``streams/norms/default.yaml`` or ``alerts/contactmon.rules.yml``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from streams.dashboards import k8s
from streams.dashboards.render import dumps, render_all

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = "grafana/dashboards"


def expected_files(root: Path) -> dict[str, str]:
    """Every generated file (path relative to ``root``) with the text it should have."""
    dashboards = {stem: dumps(data) for stem, data in render_all().items()}
    files = {f"{DASHBOARD_DIR}/{stem}.json": text for stem, text in dashboards.items()}
    files[k8s.DASHBOARDS_FILE] = k8s.dashboard_configmaps(dashboards)
    rules = root / k8s.RULES_SOURCE
    files[k8s.RULES_FILE] = k8s.prometheus_rule(rules.read_text(encoding="utf-8"))
    return files


def unknown_dashboards(root: Path, expected: dict[str, str]) -> list[str]:
    """Dashboard JSON files under ``grafana/dashboards/`` that no dashboard module builds."""
    found = (str(p.relative_to(root)) for p in (root / DASHBOARD_DIR).glob("*.json"))
    return sorted(path for path in found if path not in expected)


def stale_files(root: Path) -> list[str]:
    """Generated files that differ from what the code builds, and dashboards no code builds."""
    expected = expected_files(root)
    stale = [
        path
        for path, text in expected.items()
        if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != text
    ]
    return sorted(stale) + unknown_dashboards(root, expected)


def write_files(root: Path) -> list[str]:
    """Write every generated file whose text changed; returns the paths written."""
    written = []
    for path, text in expected_files(root).items():
        target = root / path
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streams.dashboards.build",
        description="Write (or --check) the Grafana dashboards and the generated k8s manifests.",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when a file is stale"
    )
    parser.add_argument(
        "--root", type=Path, default=REPO_ROOT, help="the repository root (default: this one)"
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    if not (root / k8s.RULES_SOURCE).is_file():
        print(f"build: {root / k8s.RULES_SOURCE} is missing (the alert rules)", file=sys.stderr)
        return 2
    if args.check:
        stale = stale_files(root)
        for path in stale:
            print(f"stale: {path}", file=sys.stderr)
        if stale:
            print("run: python -m streams.dashboards.build", file=sys.stderr)
            return 1
        print("dashboards and generated manifests are current")
        return 0
    for path in write_files(root):
        print(f"wrote {path}")
    for path in unknown_dashboards(root, expected_files(root)):
        print(f"not built by any dashboard module (remove it?): {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
