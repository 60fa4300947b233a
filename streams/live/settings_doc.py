"""The settings' documentation, generated from the settings model so it cannot drift from it.

Both `contactmon worker --help` (`help_text`) and the settings table in README.md
(`markdown_table`, between the markers `README_START` and `README_END`) are rendered from the
fields of `streams.live.settings.WorkerSettings`: each field's environment variable, its values
(type, choices and bounds, from the annotation and its constraints), its default and its
``description``. A secret field (``SecretStr``) shows no default. To change a line, change the
field; then regenerate the README block::

    python -m streams.live.settings_doc            # rewrites the block in ./README.md
    python -m streams.live.settings_doc --check    # exit 1 when the block is stale

(``make settings-doc`` runs the first); a unit test fails while the block is stale.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import types
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from streams.live.settings import KafkaSettings, WorkerSettings

__all__ = [
    "README_END",
    "README_START",
    "Setting",
    "describe",
    "help_text",
    "markdown_table",
    "replace_block",
]

README_START = "<!-- settings:start -->"
README_END = "<!-- settings:end -->"
HELP_WIDTH = 100
HELP_INDENT = " " * 6


@dataclass(frozen=True)
class Setting:
    """One environment variable as documented: name, values, default, description, secrecy."""

    variable: str
    kind: str  # "integer", "file path", ...; empty when ``choices`` say it all
    choices: tuple[str, ...]
    bounds: str  # ">= 1", "from 1 to 65535", ... or empty
    default: str | None  # None: no default shown (unset, or a secret)
    description: str
    secret: bool

    def values(self, separator: str) -> str:
        """The values the variable takes, e.g. ``integer >= 1`` or ``wall | event``."""
        if self.choices:
            return separator.join(self.choices)
        return f"{self.kind} {self.bounds}".strip()


def describe(cls: type[KafkaSettings] = WorkerSettings) -> list[Setting]:
    """The documentation of every field of ``cls``, in the model's order."""
    secrets = set(cls.secret_fields())
    settings = []
    for name, info in cls.model_fields.items():
        if not info.description:
            raise ValueError(f"{cls.__name__}.{name} has no description")
        secret = name in secrets
        kind, choices = _kind(info.annotation)
        settings.append(
            Setting(
                variable=cls.env_name(name),
                kind=kind,
                choices=choices,
                bounds=_bounds(info),
                default=None if secret else _default(info),
                description=info.description,
                secret=secret,
            )
        )
    return settings


def _kind(annotation: Any) -> tuple[str, tuple[str, ...]]:
    """A word for the type (``integer``, ``file path``, ...) and the choices of a Literal."""
    if get_origin(annotation) in (Union, types.UnionType):
        (annotation,) = [arg for arg in get_args(annotation) if arg is not type(None)]
    file = False
    if get_origin(annotation) is Annotated:
        annotation, *extras = get_args(annotation)
        file = any(getattr(extra, "path_type", None) == "file" for extra in extras)
    if get_origin(annotation) is Literal:
        return "", tuple(str(choice) for choice in get_args(annotation))
    if annotation is SecretStr:
        return "text", ()
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return ("file path" if file else "path"), ()
    words = {int: "integer", float: "number", str: "text", bool: "true or false"}
    return words.get(annotation, str(annotation)), ()


def _bounds(info: FieldInfo) -> str:
    """The numeric constraints of a field as text: ``>= 1``, ``> 0``, ``from 1 to 65535``."""
    lower = upper = ""
    for item in info.metadata:  # annotated_types' Ge, Gt, Le, Lt, as pydantic's Field makes them
        for attribute, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            bound = getattr(item, attribute, None)
            if bound is None:
                continue
            if symbol.startswith(">"):
                lower = f"{symbol} {_number(bound)}"
            else:
                upper = f"{symbol} {_number(bound)}"
    if lower.startswith(">= ") and upper.startswith("<= "):
        return f"from {lower[3:]} to {upper[3:]}"
    return ", ".join(bound for bound in (lower, upper) if bound)


def _number(value: Any) -> str:
    """``300.0`` as ``300``, ``0.5`` as ``0.5``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _default(info: FieldInfo) -> str | None:
    """The default as it would be written in the environment; None when there is none."""
    value = info.get_default(call_default_factory=True)
    if value is None:
        return None
    if isinstance(value, int | float):
        return _number(value)
    return str(value)


def help_text(cls: type[KafkaSettings] = WorkerSettings) -> str:
    """The settings part of ``--help``: each variable, its values and default, its description."""
    lines = [
        "settings (environment variables; a bad value stops start-up naming the variable):",
    ]
    for setting in describe(cls):
        facts = [setting.values(" | ")]
        if setting.secret:
            facts.append("a secret: no default shown")
        elif setting.default is not None:
            facts.append(f"default {setting.default}")
        lines.append(f"  {setting.variable}  ({'; '.join(facts)})")
        lines += textwrap.wrap(
            setting.description,
            width=HELP_WIDTH,
            initial_indent=HELP_INDENT,
            subsequent_indent=HELP_INDENT,
            break_on_hyphens=False,
        )
    return "\n".join(lines) + "\n"


def markdown_table(cls: type[KafkaSettings] = WorkerSettings) -> str:
    """The settings as a Markdown table: variable, values, default, description."""
    rows = [
        "| variable | values | default | what it sets |",
        "|---|---|---|---|",
    ]
    for setting in describe(cls):
        if setting.choices:
            values = ", ".join(f"`{choice}`" for choice in setting.choices)
        else:
            values = setting.values("")
        if setting.secret:
            default = "(secret)"
        elif setting.default is None:
            default = "unset"
        else:
            default = f"`{setting.default}`"
        cells = [f"`{setting.variable}`", values, default, setting.description]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def readme_block(cls: type[KafkaSettings] = WorkerSettings) -> str:
    """The README's settings block, markers included."""
    note = (
        f"<!-- generated from {cls.__module__}.{cls.__name__} by `make settings-doc` "
        "(python -m streams.live.settings_doc); edit the model, not this table -->"
    )
    return f"{README_START}\n{note}\n\n{markdown_table(cls)}{README_END}"


def replace_block(text: str, cls: type[KafkaSettings] = WorkerSettings) -> str:
    """``text`` (a README) with its settings block regenerated; ValueError without the markers."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"no {README_START} ... {README_END} block")
    return text[:start] + readme_block(cls) + text[end + len(README_END) :]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streams.live.settings_doc",
        description="Regenerate the settings table in README.md from the worker's settings model.",
    )
    parser.add_argument("readme", nargs="?", type=Path, default=Path("README.md"))
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 when the block is stale"
    )
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    try:
        updated = replace_block(text)
    except ValueError as exc:
        print(f"{args.readme}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if updated != text:
            print(f"{args.readme}: the settings block is stale; run make settings-doc")
            return 1
        return 0
    if updated != text:
        args.readme.write_text(updated, encoding="utf-8")
        print(f"{args.readme}: settings block updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
