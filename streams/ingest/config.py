"""The ingest configuration file: subscriptions, the source mappings, where resources may come from.

```yaml
subscriptions:               # who may POST; each sends a fixed Authorization header
  - name: open-notificaties
    authorization_env: CONTACTMON_INGEST_AUTH_OPEN_NOTIFICATIES   # the value, from a secret
  - name: open-klant-castricum
    authorization_env: CONTACTMON_INGEST_AUTH_OPEN_KLANT
    municipality: castricum  # Open Klant names no organisation: the subscription does
zgw:                         # sources.zgw.config.ZgwMapping, plus:
  api_roots: [https://openzaak.example.nl/zaken/api/v1/, https://openzaak.example.nl/catalogi/api/v1/]
  zaken_api_root: https://openzaak.example.nl/zaken/api/v1/   # for Open Zaak's relative datarefs
  municipalities: {"001234567": castricum}
  zaaktypen: {KLACHT: {kind: klacht, category: klacht, channel: webformulier}}
openklant:                   # sources.openklant.mapping.OpenKlantMapping, plus:
  api_roots: [https://openklant.example.nl/klantinteracties/api/v2/]
```

Resources are fetched only from URLs under an ``api_roots`` entry: a notification cannot make the
service send its credentials anywhere else. The secrets themselves are never in this file:
``authorization_env`` names the environment variable that holds a subscription's header value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sources.openklant.mapping import OpenKlantMapping
from sources.zgw.config import ZgwMapping

MIN_AUTHORIZATION_LENGTH = 16


class IngestConfigError(ValueError):
    """The configuration file cannot be used; the message names the file and the field."""


def _roots(value: list[str]) -> list[str]:
    for root in value:
        if not root.startswith(("https://", "http://")):
            raise ValueError(f"{root!r} is not an http(s) URL")
    return [root if root.endswith("/") else root + "/" for root in value]


class SubscriptionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    authorization_env: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,127}$")
    municipality: str | None = None


class ZgwSection(ZgwMapping):
    api_roots: list[str] = Field(default_factory=list)
    zaken_api_root: str | None = None

    _check_roots = field_validator("api_roots")(_roots)


class OpenKlantSection(OpenKlantMapping):
    api_roots: list[str] = Field(default_factory=list)

    _check_roots = field_validator("api_roots")(_roots)


class IngestFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subscriptions: list[SubscriptionSpec] = Field(min_length=1)
    zgw: ZgwSection = Field(default_factory=ZgwSection)
    openklant: OpenKlantSection = Field(default_factory=OpenKlantSection)

    def municipalities(self) -> set[str]:
        """Every slug the file names (each must be in the norms file)."""
        named = {s.municipality for s in self.subscriptions if s.municipality}
        return named | set(self.zgw.municipalities.values())


@dataclass(frozen=True, slots=True, repr=False)
class Subscription:
    """A sender: its name (for logs and metrics), its header value, its municipality if any."""

    name: str
    authorization: bytes
    municipality: str | None

    def __repr__(self) -> str:  # never the header value
        return f"Subscription(name={self.name!r})"


@dataclass(frozen=True, slots=True)
class IngestConfig:
    file: IngestFile
    subscriptions: tuple[Subscription, ...]

    @classmethod
    def load(cls, path: Path, environ: Mapping[str, str], municipalities: frozenset[str]) -> Self:
        """Read and check ``path``; the Authorization values from ``environ``."""
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise IngestConfigError(f"cannot read the ingest configuration {path}: {exc}") from None
        try:
            parsed = IngestFile.model_validate(raw if raw is not None else {})
        except ValidationError as error:
            lines = [
                f"  {'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
                for e in error.errors(include_url=False, include_input=False)
            ]
            raise IngestConfigError(
                f"invalid ingest configuration {path}:\n" + "\n".join(lines)
            ) from None
        unknown = sorted(parsed.municipalities() - municipalities)
        if unknown:
            raise IngestConfigError(
                f"ingest configuration {path} names municipalities the norms file does not "
                f"list: {', '.join(unknown)}"
            )
        subscriptions = []
        for spec in parsed.subscriptions:
            value = environ.get(spec.authorization_env, "").strip()
            if len(value) < MIN_AUTHORIZATION_LENGTH:
                raise IngestConfigError(
                    f"{spec.authorization_env} (subscription {spec.name}) must hold the "
                    f"Authorization header value the sender uses, at least "
                    f"{MIN_AUTHORIZATION_LENGTH} characters (e.g. `Bearer $(openssl rand -hex "
                    "32)`)"
                )
            subscriptions.append(Subscription(spec.name, value.encode(), spec.municipality))
        return cls(parsed, tuple(subscriptions))
