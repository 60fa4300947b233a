"""The pure core stands alone: it imports only the standard library, `events` and a short
allow-list of libraries (one core, two drivers; the store and the drivers depend on the core,
never the other way round)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import streams.core

CORE = Path(streams.core.__file__).parent
EVENTS = CORE.parent.parent / "events"

# Third-party libraries the core and the event models may use, each for one reason.
ALLOWED_LIBRARIES = {
    "orjson",  # the decoder's JSON parser
    "pydantic",  # the event models and the norms file's validation
    "pydantic_core",  # custom schema types of the event models
    "yaml",  # reading the norms file
    "holidays",  # Dutch public holidays for the business calendar
    "mypy_extensions",  # mypyc_attr: class options for the compiled core (events.native)
}
OWN_PACKAGES = {"events", "streams"}


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name a file imports (``from a.b import c`` gives ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def offending(path: Path) -> set[str]:
    """The imports of ``path`` that the pure core may not have."""
    bad = set()
    for name in imported_modules(path):
        root = name.split(".")[0]
        if root in sys.stdlib_module_names or root in ALLOWED_LIBRARIES or root == "__future__":
            continue
        if root == "events" or name == "streams.core" or name.startswith("streams.core."):
            continue
        bad.add(name)
    return bad


class TestCorePurity:
    """Every module of streams.core and events imports only what the allow-list names."""

    def test_only_allowed_imports(self) -> None:
        files = [*CORE.glob("*.py"), *EVENTS.glob("*.py")]
        assert len(files) > 5
        offenders = {f.name: offending(f) for f in files if offending(f)}
        assert offenders == {}

    def test_the_check_catches_transport_store_and_driver_imports(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.py"
        bad.write_text(
            "from prometheus_client import Counter\nimport faust.tables\n"
            "from streams.store.base import OutcomeStore\nimport streams.live.runtime\n"
            "import json\nfrom events.decode import Event\nfrom streams.core.state import X\n"
        )
        assert offending(bad) == {
            "prometheus_client",
            "faust.tables",
            "streams.store.base",
            "streams.live.runtime",
        }


class TestReasonsAreDocumented:
    """Every rejection reason the code can give is listed in the README (the contract asks it)."""

    def test_every_reason_in_the_readme(self) -> None:
        from events.decode import Reason  # noqa: PLC0415

        readme = (CORE.parent.parent / "README.md").read_text(encoding="utf-8")
        missing = [r.value for r in Reason if f"`{r.value}`" not in readme]
        assert missing == []


class TestSourceMappingsArePure:
    """The source adapters' mappings (`sources/`) are pure too: records in, events out. Fetching,
    polling, Kafka and HTTP live in the commands (`streams/ingest/`, `streams/importers/`)."""

    def test_only_allowed_imports(self) -> None:
        import sources  # noqa: PLC0415

        root = Path(sources.__file__).parent
        files = sorted(root.rglob("*.py"))
        assert len(files) > 5

        def bad(path: Path) -> set[str]:
            return {
                name
                for name in offending(path)
                if name != "sources" and not name.startswith("sources.")
            }

        offenders = {str(f.relative_to(root)): bad(f) for f in files if bad(f)}
        assert offenders == {}
