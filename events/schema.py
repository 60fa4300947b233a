"""JSON Schemas of the contract's events, generated from the pydantic models in `events.models`.

`python -m events.schema` (or `make schemas`) writes `events/schemas/<type>.json` for each event
type (`item.opened.json`, ...) and `envelope.json` for the envelope every event shares; `--check`
only reports files that differ from what the models say. The files are JSON with sorted keys,
two-space indent and a trailing newline, so a change to a model shows up as a readable diff; a unit
test fails while they are stale.

Source systems can validate their output with these files; the worker never does (it decodes with
`events.decode`). A schema can only say so much: membership of the configured municipalities and the
future-time bound are context, so they are not in it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from events.models import MODELS, CloudEvent

SCHEMA_DIR: Final = Path(__file__).resolve().parent / "schemas"
ENVELOPE: Final = "envelope"
DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"


class _NullMeansAbsent(GenerateJsonSchema):
    """pydantic's generator, plus: an optional field also accepts null, as the models do.

    The models read a JSON null as an absent field (so it takes its default); pydantic's schema for
    a field like `category: str = "overig"` would refuse null, so such fields get an `anyOf` with
    null.
    """

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        json_schema = super().default_schema(schema)
        if schema["schema"]["type"] == "nullable" or "default" not in json_schema:
            return json_schema
        default = json_schema.pop("default")
        return {"anyOf": [json_schema, {"type": "null"}], "default": default}


def _document(model: type[CloudEvent]) -> dict[str, Any]:
    schema = model.model_json_schema(schema_generator=_NullMeansAbsent)
    return {"$schema": DIALECT, **schema}


def schema_documents() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema: one per event type, plus the envelope."""
    documents = {
        f"{event_type.value}.json": _document(model) for event_type, model in MODELS.items()
    }
    documents[f"{ENVELOPE}.json"] = _document(CloudEvent)
    return documents


def render(document: dict[str, Any]) -> str:
    """The file text of one schema: sorted keys, two-space indent, UTF-8 as is, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale_files(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of schema files that are missing or differ from the models, sorted."""
    stale = []
    for name, document in sorted(schema_documents().items()):
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != render(document):
            stale.append(name)
    return stale


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema file into `directory` (created when missing); return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in sorted(schema_documents().items()):
        path = directory / name
        path.write_text(render(document), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the schemas, or with --check report stale ones (exit status 1)."""
    parser = argparse.ArgumentParser(prog="python -m events.schema", description=__doc__)
    parser.add_argument("--out", type=Path, default=SCHEMA_DIR, help="directory of the files")
    parser.add_argument("--check", action="store_true", help="write nothing; fail when stale")
    arguments = parser.parse_args(argv)
    if arguments.check:
        stale = stale_files(arguments.out)
        for name in stale:
            print(f"stale: {arguments.out / name}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_schemas(arguments.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
