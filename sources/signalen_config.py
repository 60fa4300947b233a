"""The configuration file of ``contactmon import signalen`` (YAML), read into a `SignalenConfig`.

Everything is optional; without a file one instance serves the ``--municipality`` given::

    name: regio-bch                 # the cursor's name in the store (default: see the command)
    municipality:
      default: castricum            # signals the mapping does not place (leave out: rejected)
      field: location.buurt_code    # location.stadsdeel|buurt_code|area_code|area_name|
                                    #   area_type_code, category.main_slug|sub_slug
      values:                       # a value, or how it starts (any case) -> slug or name
        BU0383: castricum
        BU0373: bergen
        Heiloo: heiloo
    response:
      from: status                  # status | reply | either
      states: [b, ingepland, reaction requested, forward to external]
      reply_states: [i, b, h, ingepland, reaction requested, o, a, reopened]
    kto:
      satisfied: 8                  # the score (1-10) of a "Ja, ..." answer
      unsatisfied: 3                # and of any other
      satisfied_prefixes: [ja]

Municipalities are given as slugs or names and checked against the norms file's; state codes
against Signalen's workflow (`sources.signalen.STATES`). `ConfigError` names what is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sources.records import Municipalities
from sources.signalen import (
    AREA_FIELDS,
    DEFAULT_REPLY_STATES,
    DEFAULT_RESPONSE_STATES,
    STATES,
    SignalenConfig,
)

__all__ = ["ConfigError", "SignalenFile", "load_config"]


class ConfigError(ValueError):
    """The configuration cannot be used; the message says what to change."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AreaSection(_Strict):
    default: str | None = None
    field: str | None = None
    values: dict[str, str] = Field(default_factory=dict)


class ResponseSection(_Strict):
    from_: Literal["status", "reply", "either"] = Field(default="status", alias="from")
    states: list[str] = Field(default_factory=lambda: sorted(DEFAULT_RESPONSE_STATES))
    reply_states: list[str] = Field(default_factory=lambda: sorted(DEFAULT_REPLY_STATES))


class KtoSection(_Strict):
    satisfied: int = Field(default=8, ge=1, le=10)
    unsatisfied: int = Field(default=3, ge=1, le=10)
    satisfied_prefixes: list[str] = Field(default_factory=lambda: ["ja"], min_length=1)


class SignalenFile(_Strict):
    name: str | None = None
    municipality: AreaSection = Field(default_factory=AreaSection)
    response: ResponseSection = Field(default_factory=ResponseSection)
    kto: KtoSection = Field(default_factory=KtoSection)


def _read(path: Path) -> SignalenFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise ConfigError(
            f"cannot read the Signalen configuration {path} ({error.strerror})"
        ) from None
    except yaml.YAMLError as error:
        raise ConfigError(f"the Signalen configuration {path} is not YAML: {error}") from None
    try:
        return SignalenFile.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"the Signalen configuration {path}: {where}: {first['msg']}") from None


def _slug(text: str, municipalities: Municipalities, where: str) -> str:
    slug = municipalities.of(text)
    if slug is None:
        known = ", ".join(municipalities.slugs)
        raise ConfigError(f"{where}: {text!r} is not a configured municipality (use {known})")
    return slug


def _states(codes: list[str], where: str) -> frozenset[str]:
    known = set(STATES.values())
    wrong = [code for code in codes if code not in known]
    if wrong:
        raise ConfigError(
            f"{where}: {', '.join(repr(w) for w in wrong)} is not a Signalen state code (use "
            f"{', '.join(sorted(known))})"
        )
    return frozenset(codes)


def load_config(
    path: Path | None, municipality: str | None, municipalities: Municipalities
) -> tuple[SignalenConfig, str | None]:
    """The mapping's configuration and the cursor name of the file (None: not given).

    ``municipality`` (``--municipality``) is every signal's municipality, or, when the file
    maps areas, the default (it wins over the file's ``municipality.default``).
    """
    given = _read(path) if path is not None else SignalenFile()
    area = given.municipality
    default_text = municipality or area.default
    default = (
        _slug(default_text, municipalities, "the default municipality") if default_text else None
    )
    if area.field is not None and area.field not in AREA_FIELDS:
        raise ConfigError(f"municipality.field must be one of {', '.join(AREA_FIELDS)}")
    if area.values and area.field is None:
        raise ConfigError("municipality.values needs municipality.field: the field to look up")
    if area.field is not None and not area.values:
        raise ConfigError("municipality.field needs municipality.values: value -> municipality")
    values = {
        key: _slug(text, municipalities, f"municipality.values.{key}")
        for key, text in area.values.items()
    }
    response_states = _states(given.response.states, "response.states")
    reply_states = _states(given.response.reply_states, "response.reply_states")
    if default is None and area.field is None:
        raise ConfigError(
            "give the municipality with --municipality, or an area mapping (municipality.field "
            "and municipality.values) in the configuration"
        )
    config = SignalenConfig(
        municipality=default,
        area_field=area.field,
        areas=values,
        response_from=given.response.from_,
        response_states=response_states,
        reply_states=reply_states,
        satisfied_score=given.kto.satisfied,
        unsatisfied_score=given.kto.unsatisfied,
        satisfied_prefixes=tuple(p.strip().lower() for p in given.kto.satisfied_prefixes),
    )
    return config, given.name
