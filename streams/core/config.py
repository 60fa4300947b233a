"""The norms file: calendar, municipalities, norms and per-municipality overrides.

Validated at start-up. A bad file stops start-up with a :class:`ConfigError` whose message names the
file, the line and the field (``norms.yaml line 14, norms[1].within: …``), so whoever edits the file
knows where to look. Unknown keys are errors too: a typo must not silently drop a norm's setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from events.vocabulary import CALL_CHANNELS, CHANNELS, KINDS, SEGMENTS
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from streams.core.calendar import BusinessCalendar, CalendarError
from streams.core.deadlines import Unit

DEFAULT_NORMS_PATH = Path(__file__).resolve().parent.parent / "norms" / "default.yaml"

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=64)]
Stage = Literal["response", "resolution", "answer"]


class ConfigError(ValueError):
    """The norms file cannot be used; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CalendarSpec(_Strict):
    timezone: str = "Europe/Amsterdam"
    holidays: str | None = "NL"
    closed_days: list[date] = Field(default_factory=list)
    open_days: list[date] = Field(default_factory=list)


class MunicipalitySpec(_Strict):
    slug: Slug
    cbs_code: str = Field(pattern=r"^GM\d{4}$")
    name: str


class AppliesTo(_Strict):
    family: Literal["item", "call"] = "item"
    kind: str | None = None
    channel: str | None = None
    segment: str | None = None
    category: str | None = None

    @model_validator(mode="after")
    def _known_words(self) -> AppliesTo:
        if self.kind is not None and self.kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}")
        allowed = CALL_CHANNELS if self.family == "call" else CHANNELS
        if self.channel is not None and self.channel not in allowed:
            raise ValueError(f"channel must be one of {sorted(allowed)} for family {self.family}")
        if self.segment is not None and self.segment not in SEGMENTS:
            raise ValueError(f"segment must be one of {sorted(SEGMENTS)}")
        if self.family == "call" and (self.kind is not None or self.category is not None):
            raise ValueError("a call norm cannot filter on kind or category")
        return self


# Numbers are numbers: `true` or `yes` is not 1, and `.inf` or `.nan` is no duration or share.
Within = Annotated[float, Field(gt=0, strict=True, allow_inf_nan=False)]
Target = Annotated[float, Field(ge=0, le=1, strict=True, allow_inf_nan=False)]

# The longest norm the calendar can place from any opening day: about ten years in each unit.
MAX_WITHIN: dict[Unit, float] = {
    Unit.WORKDAYS: 2_600,
    Unit.CALENDAR_DAYS: 3_650,
    Unit.WEEKS: 520,
    Unit.HOURS: 87_600,
    Unit.SECONDS: 315_360_000,
}


def check_within(within: float, unit: Unit) -> None:
    """A ``within`` whose deadline could fall outside the calendar's years is refused at load."""
    if within > MAX_WITHIN[unit]:
        raise ValueError(
            f"within {within:g} {unit.value} is longer than the calendar can place "
            f"(at most {MAX_WITHIN[unit]:g} {unit.value}, about ten years)"
        )
    if unit in (Unit.CALENDAR_DAYS, Unit.WEEKS) and within != int(within):
        raise ValueError(f"within must be a whole number of {unit.value}")


class NormSpec(_Strict):
    id: Slug
    description: str | None = None
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    stage: Stage
    within: Within
    unit: Unit
    target: Target
    pausable: bool = Field(default=False, strict=True)

    @model_validator(mode="after")
    def _stage_fits_family(self) -> NormSpec:
        is_call = self.applies_to.family == "call"
        if is_call != (self.stage == "answer"):
            raise ValueError(
                "stage 'answer' is for calls (applies_to.family: call) and only for them"
            )
        check_within(self.within, self.unit)
        return self


class NormOverride(_Strict):
    within: Within | None = None
    unit: Unit | None = None
    target: Target | None = None
    pausable: bool | None = Field(default=None, strict=True)


DEFAULT_MUNICIPALITIES = (
    MunicipalitySpec(slug="bergen", cbs_code="GM0373", name="Bergen (NH)"),
    MunicipalitySpec(slug="castricum", cbs_code="GM0383", name="Castricum"),
    MunicipalitySpec(slug="heiloo", cbs_code="GM0399", name="Heiloo"),
    MunicipalitySpec(slug="uitgeest", cbs_code="GM0450", name="Uitgeest"),
)


class NormsFile(_Strict):
    calendar: CalendarSpec = Field(default_factory=CalendarSpec)
    municipalities: list[MunicipalitySpec] = Field(
        default_factory=lambda: list(DEFAULT_MUNICIPALITIES)
    )
    norms: list[NormSpec] = Field(min_length=1)
    overrides: dict[str, dict[str, NormOverride]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _cross_references(self) -> NormsFile:
        ids = [n.id for n in self.norms]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"norm ids must be unique; repeated: {', '.join(twice)}")
        slugs = [m.slug for m in self.municipalities]
        if len(set(slugs)) != len(slugs):
            raise ValueError("municipality slugs must be unique")
        for slug, per_norm in self.overrides.items():
            if slug not in slugs:
                raise ValueError(f"overrides names municipality {slug!r}, which is not configured")
            for norm_id, override in per_norm.items():
                if norm_id not in ids:
                    raise ValueError(
                        f"overrides.{slug} names norm {norm_id!r}, which does not exist"
                    )
                spec = self.norms[ids.index(norm_id)]
                try:
                    check_within(override.within or spec.within, override.unit or spec.unit)
                except ValueError as exc:
                    raise ValueError(f"overrides.{slug}.{norm_id}: {exc}") from None
        return self


@dataclass(frozen=True, slots=True)
class Norm:
    """One norm as it applies in one municipality (overrides resolved)."""

    id: str
    stage: str
    family: str
    unit: Unit
    within: float
    target: float
    pausable: bool
    kind: str | None
    channel: str | None
    segment: str | None
    category: str | None

    def applies(
        self, family: str, kind: str | None, channel: str, segment: str, category: str | None
    ) -> bool:
        return (
            self.family == family
            and (self.kind is None or self.kind == kind)
            and (self.channel is None or self.channel == channel)
            and (self.segment is None or self.segment == segment)
            and (self.category is None or self.category == category)
        )


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """Everything the core needs from the norms file, resolved and ready to use."""

    calendar: BusinessCalendar
    municipalities: tuple[MunicipalitySpec, ...]
    norms_by_municipality: dict[str, tuple[Norm, ...]]
    source: str

    @property
    def slugs(self) -> tuple[str, ...]:
        return tuple(m.slug for m in self.municipalities)

    @property
    def norm_ids(self) -> tuple[str, ...]:
        first = next(iter(self.norms_by_municipality.values()), ())
        return tuple(n.id for n in first)


def _resolve(spec: NormSpec, override: NormOverride | None) -> Norm:
    o = override or NormOverride()
    return Norm(
        id=spec.id,
        stage=spec.stage,
        family=spec.applies_to.family,
        unit=o.unit if o.unit is not None else spec.unit,
        within=o.within if o.within is not None else spec.within,
        target=o.target if o.target is not None else spec.target,
        pausable=o.pausable if o.pausable is not None else spec.pausable,
        kind=spec.applies_to.kind,
        channel=spec.applies_to.channel,
        segment=spec.applies_to.segment,
        category=spec.applies_to.category,
    )


def build_config(parsed: NormsFile, source: str = "<memory>") -> MonitorConfig:
    """Resolve overrides and build the calendar."""
    cal_spec = parsed.calendar
    try:
        calendar = BusinessCalendar(
            timezone=cal_spec.timezone,
            holidays=cal_spec.holidays,
            closed_days=cal_spec.closed_days,
            open_days=cal_spec.open_days,
        )
    except CalendarError as exc:
        raise ConfigError(f"{source}, calendar: {exc}") from exc
    per_muni = {
        m.slug: tuple(_resolve(n, parsed.overrides.get(m.slug, {}).get(n.id)) for n in parsed.norms)
        for m in parsed.municipalities
    }
    return MonitorConfig(
        calendar=calendar,
        municipalities=tuple(parsed.municipalities),
        norms_by_municipality=per_muni,
        source=source,
    )


# --- loading YAML with line numbers ------------------------------------------------------------


MAX_FILE_BYTES = 1 << 20  # a norms file is a few kilobytes; more is a mistake or an attack
MAX_DEPTH = 16  # the deepest real path is overrides.<slug>.<norm>.<field>


class _Reader:
    """Turns a composed YAML node into plain data, remembering the line of every path.

    Refuses what a norms file never needs and an attacker would use: aliases (``*ref``, which a
    "billion laughs" file multiplies, or makes recursive), nesting deeper than ``MAX_DEPTH`` and
    keys given twice (YAML would silently keep the last).
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[tuple[str | int, ...], int] = {}
        self._seen: set[int] = set()

    def fail(self, node: yaml.Node, message: str) -> ConfigError:
        return ConfigError(f"{self.source} line {node.start_mark.line + 1}: {message}")

    def read(self, node: yaml.Node, path: tuple[str | int, ...] = ()) -> Any:
        if id(node) in self._seen:
            raise self.fail(
                node,
                "the value anchored here (&name) is used again through an alias (*name); "
                "aliases are not allowed in a norms file: write the value out",
            )
        self._seen.add(id(node))
        if len(path) > MAX_DEPTH:
            raise self.fail(node, f"nested deeper than {MAX_DEPTH} levels")
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = str(self.scalar(key_node))
                if key in out:
                    raise self.fail(key_node, f"{_dotted((*path, key))} is given twice")
                out[key] = self.read(value_node, (*path, key))
                self.lines[(*path, key)] = key_node.start_mark.line + 1  # errors point at the key
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.read(child, (*path, i)) for i, child in enumerate(node.value)]
        return self.scalar(node)

    def scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, "a key must be a plain value")
        try:
            return yaml.safe_load(yaml.serialize(node))
        except (yaml.YAMLError, ValueError) as exc:  # e.g. a date 2024-02-30
            raise self.fail(node, f"{node.value!r} cannot be read ({exc})") from None


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _line_for(loc: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def parse_norms(text: str, source: str = "<memory>") -> MonitorConfig:
    """Parse and validate a norms file's text; raise ConfigError naming line and field."""
    if len(text.encode()) > MAX_FILE_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_FILE_BYTES >> 10} KiB; not a norms file")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to be a norms file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"{source}{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from exc
    if node is None:
        raise ConfigError(f"{source}: the file is empty; it needs at least a 'norms:' list")
    reader = _Reader(source)
    data = reader.read(node)
    lines = reader.lines
    if not isinstance(data, dict):
        raise ConfigError(f"{source} line 1: the top level must be a mapping with 'norms:'")
    try:
        parsed = NormsFile.model_validate(data)
    except ValidationError as exc:
        messages = []
        for err in exc.errors():
            loc = tuple(
                p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))
            )
            line = _line_for(loc, lines)
            at = f" line {line}" if line is not None else ""
            messages.append(f"{source}{at}, {_dotted(loc)}: {err['msg']}")
        raise ConfigError("invalid norms file:\n  " + "\n  ".join(messages)) from exc
    return build_config(parsed, source)


def load_norms(path: str | Path | None = None) -> MonitorConfig:
    """Load the norms file at ``path`` (the shipped defaults when None)."""
    file = Path(path) if path is not None else DEFAULT_NORMS_PATH
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{file}: larger than {MAX_FILE_BYTES >> 10} KiB; not a norms file")
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read norms file {file}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text") from exc
    return parse_norms(text, source=str(file))
