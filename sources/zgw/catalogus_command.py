"""``contactmon norms from-catalogus``: norm entries from saved ZaakTypen, for review.

Reads ZaakTypen as the Catalogi API returns them (one ZaakType, a list, or a page of
``GET /zaaktypen`` with ``results``) from a file, maps them with the ingest configuration's
``zgw.zaaktypen`` (kind and category) and writes the entries (`sources.zgw.catalogus`) to
``--out``; an existing file is not overwritten.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="norms_command", required=True, metavar="SUBCOMMAND")
    p = sub.add_parser(
        "from-catalogus",
        help="norm entries from ZaakType servicenorm/doorlooptijd, written to a file for review",
        description=(
            "Write norm entries from the ZaakTypen of a catalog (servicenorm and doorlooptijd, "
            "ISO 8601 durations in calendar days or weeks) to a file for review. Save the "
            "ZaakTypen first, e.g. GET /catalogi/api/v1/zaaktypen?catalogus=... with your ZGW "
            "credentials."
        ),
    )
    p.add_argument("zaaktypen", type=Path, help="JSON: a ZaakType, a list, or a page with results")
    p.add_argument("--config", type=Path, required=True, help="the ingest configuration (YAML)")
    p.add_argument("--out", type=Path, required=True, help="the file to write (must not exist)")
    p.add_argument("--target", type=float, default=0.9, help="target of servicenorm entries")
    p.add_argument("--legal-target", type=float, default=1.0, help="target of doorlooptijd")


def run(args: argparse.Namespace) -> int:
    import orjson  # noqa: PLC0415
    import yaml  # noqa: PLC0415
    from pydantic import TypeAdapter, ValidationError  # noqa: PLC0415

    from sources.zgw.catalogus import norm_entries, render  # noqa: PLC0415
    from sources.zgw.config import ZgwMapping  # noqa: PLC0415
    from sources.zgw.models import ZaakType  # noqa: PLC0415

    def fail(message: str) -> int:
        print(f"contactmon norms from-catalogus: {message}", file=sys.stderr)
        return EXIT_USAGE

    if args.out.exists():
        return fail(f"{args.out} exists; name a new file (nothing is overwritten)")
    if not (0 <= args.target <= 1 and 0 <= args.legal_target <= 1):
        return fail("--target and --legal-target are shares from 0 to 1")
    try:
        raw = orjson.loads(args.zaaktypen.read_bytes())
        config = yaml.safe_load(args.config.read_text(encoding="utf-8")) or {}
    except (OSError, orjson.JSONDecodeError, yaml.YAMLError) as exc:
        return fail(f"cannot read the input: {exc}")
    items = raw.get("results", [raw]) if isinstance(raw, dict) else raw
    try:
        zaaktypen = TypeAdapter(list[ZaakType]).validate_python(items)
        zgw = {k: v for k, v in (config.get("zgw") or {}).items() if k in ZgwMapping.model_fields}
        mapping = ZgwMapping.model_validate(zgw)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return fail(f"{where}: {first['msg']}")
    entries, skipped = norm_entries(
        zaaktypen, mapping, service_target=args.target, legal_target=args.legal_target
    )
    args.out.write_text(render(entries, skipped, str(args.zaaktypen)), encoding="utf-8")
    print(f"{len(entries)} norm entries written to {args.out}; {len(skipped)} skipped")
    return 0
