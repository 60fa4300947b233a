"""The pure core imports neither Kafka, Faust nor Prometheus (one core, two drivers)."""

from __future__ import annotations

import ast
from pathlib import Path

import streams.core

FORBIDDEN = {"faust", "mode", "aiokafka", "kafka", "prometheus_client"}
CORE = Path(streams.core.__file__).parent


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


class TestCorePurity:
    """Every module of streams.core and events stays free of the transport and exporter."""

    def test_no_forbidden_imports(self) -> None:
        files = [*CORE.glob("*.py"), *(CORE.parent.parent / "events").glob("*.py")]
        assert len(files) > 5
        offenders = {
            str(f.name): imported_roots(f) & FORBIDDEN
            for f in files
            if imported_roots(f) & FORBIDDEN
        }
        assert offenders == {}

    def test_the_check_would_catch_an_offender(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.py"
        bad.write_text("from prometheus_client import Counter\nimport faust.tables\n")
        assert imported_roots(bad) & FORBIDDEN == {"prometheus_client", "faust"}
