"""The overview's figures from metric samples: one pure function for the worker and the cluster.

`build` reads samples of the contract's metrics (section 4) and returns, per municipality and
norm, exactly what the page shows. It aggregates as the dashboards' PromQL does
(`streams.dashboards.overzicht` and `gemeente`):

- overdue and at-risk items: ``sum by (municipality, norm)`` over segments (and workers);
- compliance per window: the series with ``segment=""`` (all segments together), ``max by
  (municipality, norm)`` over workers;
- target, month projection and headroom: ``max by (municipality, norm[, bound])``;
- open items: ``sum by (municipality, kind)`` of ``contact_items_open`` for the norm's kind; for
  a call norm the calls waiting on its channel;
- handling time: ``contact_handling_duration_seconds`` of the norm's kind and stage, 7 days;
- calls waiting: ``sum by (municipality, channel)``.

One pass over the samples fills dictionaries keyed by labels, so a build over a worker's whole
exposition (a few thousand samples) takes milliseconds. Nothing here does I/O.
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from streams.core.config import MonitorConfig, Norm
from streams.export.kpi import STAGE_WORDS, NormInfo, subject_words, within_text

WINDOWS = ("1d", "7d", "30d")
WINDOW_WORDS = {"1d": "1 dag", "7d": "7 dagen", "30d": "30 dagen"}
DURATION_WINDOW = "7d"
TREND_WINDOW = "1d"

NEEDED = frozenset(
    {
        "contact_norm_target_ratio",
        "contact_norm_overdue_items",
        "contact_norm_at_risk_items",
        "contact_norm_compliance_ratio",
        "contact_norm_month_projection_ratio",
        "contact_norm_month_headroom_items",
        "contact_items_open",
        "contact_calls_waiting",
        "contact_handling_duration_seconds",
        "contact_last_event_timestamp_seconds",
    }
)
"""The metric names the page reads (the exposition's other series are skipped unparsed)."""

# Status words; the colour only repeats them (the dashboards' steps).
OK, WARN, BAD, NONE = "ok", "warn", "bad", "none"
COUNT_WARN, COUNT_BAD = 1, 10  # the dashboards' COUNT_STEPS: 0 fine, from 1 orange, from 10 red
HEADROOM_WARN, HEADROOM_OK = 0, 3  # the dashboards' HEADROOM_STEPS: < 0 red, 0-2 orange, 3+ blue


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample of one series."""

    name: str
    labels: Mapping[str, str]
    value: float


_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_UNESCAPE = re.compile(r"\\(.)")


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


@functools.cache
def _sample_line(names: frozenset[str]) -> tuple[tuple[str, ...], re.Pattern[str]]:
    """The names as prefixes, and a sample line of one of them: name, label set (quotes and
    escapes respected), value."""
    ordered = tuple(sorted(names, key=len, reverse=True))
    alternatives = "|".join(re.escape(n) for n in ordered)
    # the label set ends at the line's last "}": only the value (and a timestamp) follow it
    pattern = re.compile(rf"({alternatives})(?:\{{(.*)\}})?[ \t]+(\S+)(?:[ \t]+\S+)?$")
    return ordered, pattern


def parse_exposition(text: str, names: frozenset[str] = NEEDED) -> list[Sample]:
    """The samples of ``names`` in Prometheus text exposition (what ``/metrics`` serves).

    Lines of other metrics are skipped by a prefix test before anything is parsed, so this costs
    little more than a scan of the text.
    """
    prefixes, pattern = _sample_line(names)
    out: list[Sample] = []
    for line in text.splitlines():
        if not line.startswith(prefixes):
            continue
        match = pattern.match(line)
        if match is None:
            continue  # a longer name that starts like one of ours
        name, body, value = match.groups()
        labels: dict[str, str] = {}
        if body:
            for m in _LABEL.finditer(body):
                raw = m.group(2)
                labels[m.group(1)] = _unescape(raw) if "\\" in raw else raw
        out.append(Sample(name, labels, float(value)))
    return out


# --- what the norms file says about a norm (words only; every figure comes from the metrics) ----


@dataclass(frozen=True, slots=True)
class NormMeta:
    """A norm as a municipality's page names it."""

    id: str
    title: str  # "Meldingen binnen 3 werkdagen gereageerd"
    term: str  # "3 werkdagen"
    stage: str
    family: str
    kind: str | None
    channel: str | None
    subject: str  # "meldingen", "telefoongesprekken"

    @staticmethod
    def of(norm: Norm) -> NormMeta:
        info = NormInfo(
            norm.id,
            norm.stage,
            norm.family,
            norm.kind,
            norm.channel,
            norm.within,
            norm.unit,
            norm.target,
        )
        subject = subject_words(info)
        term = within_text(norm.within, norm.unit)
        stage = STAGE_WORDS.get(norm.stage, norm.stage)
        return NormMeta(
            id=norm.id,
            title=f"{subject.capitalize()} binnen {term} {stage}",
            term=term,
            stage=norm.stage,
            family=norm.family,
            kind=norm.kind,
            channel=norm.channel,
            subject=subject,
        )

    @staticmethod
    def unknown(norm_id: str) -> NormMeta:
        """A norm the metrics have and the page's norms file does not (another norms file)."""
        return NormMeta(norm_id, norm_id, "", "", "", None, None, "items")


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Names from the norms file: municipalities in order, and each one's norms."""

    names: Mapping[str, str]  # slug -> "Bergen (NH)", in the file's order
    norms: Mapping[str, Sequence[NormMeta]]  # slug -> its norms in the file's order

    @staticmethod
    def of(config: MonitorConfig) -> Catalogue:
        return Catalogue(
            names={m.slug: m.name for m in config.municipalities},
            norms={
                slug: tuple(NormMeta.of(n) for n in norms)
                for slug, norms in config.norms_by_municipality.items()
            },
        )

    def name(self, slug: str) -> str:
        return self.names.get(slug, slug)

    def norm(self, slug: str, norm_id: str) -> NormMeta:
        for meta in self.norms.get(slug, ()):
            if meta.id == norm_id:
                return meta
        return NormMeta.unknown(norm_id)

    def order(self, slugs: Iterable[str]) -> list[str]:
        known = list(self.names)
        return sorted(set(slugs), key=lambda s: (known.index(s) if s in known else len(known), s))

    def norm_order(self, slug: str, ids: Iterable[str]) -> list[str]:
        known = [m.id for m in self.norms.get(slug, ())]
        return sorted(set(ids), key=lambda n: (known.index(n) if n in known else len(known), n))


# --- the figures ---------------------------------------------------------------------------------


def compliance_status(ratio: float | None, target: float | None) -> str:
    """ok (meets the target), bad (below it), none (nothing decided in the window)."""
    if ratio is None or target is None:
        return NONE
    return OK if ratio >= target - 1e-12 else BAD


def count_status(count: float | None) -> str:
    """The dashboards' steps for a work count: 0 ok, from 1 warn, from 10 bad."""
    if count is None:
        return NONE
    if count >= COUNT_BAD:
        return BAD
    return WARN if count >= COUNT_WARN else OK


def headroom_status(headroom: float | None) -> str:
    """The dashboards' steps for the month's headroom: < 0 bad, 0-2 warn, 3 or more ok."""
    if headroom is None:
        return NONE
    if headroom < HEADROOM_WARN:
        return BAD
    return OK if headroom >= HEADROOM_OK else WARN


@dataclass(frozen=True, slots=True)
class NormFigures:
    """One norm of one municipality."""

    meta: NormMeta
    target: float | None
    open: float | None  # open items of the norm's kind (calls waiting for a call norm)
    overdue: float
    at_risk: float
    compliance: Mapping[str, float | None]  # window -> ratio (None: nothing decided)
    p50: float | None  # handling time (elapsed seconds) over DURATION_WINDOW
    p90: float | None
    best: float | None  # this month's cohort if every undecided item is met
    worst: float | None  # ... or breached
    headroom: float | None

    @property
    def id(self) -> str:
        return self.meta.id

    def status(self, window: str) -> str:
        return compliance_status(self.compliance.get(window), self.target)


@dataclass(frozen=True, slots=True)
class PlaceFigures:
    """One municipality."""

    slug: str
    name: str
    norms: Sequence[NormFigures]
    calls_waiting: float
    waiting_by_channel: Mapping[str, float]
    last_event: float | None

    @property
    def overdue(self) -> float:
        return sum(n.overdue for n in self.norms)

    @property
    def at_risk(self) -> float:
        return sum(n.at_risk for n in self.norms)

    def below_target(self, window: str) -> list[NormFigures]:
        return [n for n in self.norms if n.status(window) == BAD]

    @property
    def answer_norms(self) -> list[NormFigures]:
        return [n for n in self.norms if n.meta.family == "call"]


@dataclass(frozen=True, slots=True)
class Overview:
    """Every municipality the samples have, in the norms file's order."""

    places: Sequence[PlaceFigures]
    missing: Sequence[str] = field(default_factory=tuple)  # known municipalities without series

    def place(self, slug: str) -> PlaceFigures:
        for p in self.places:
            if p.slug == slug:
                return p
        raise KeyError(slug)


_K = TypeVar("_K")


def keep_max(into: dict[_K, float], key: _K, value: float) -> None:
    """``into[key]``: the largest value seen (one series per worker, ``max by``)."""
    if key not in into or value > into[key]:
        into[key] = value


def _finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))


def build(samples: Iterable[Sample], catalogue: Catalogue, *, expect_all: bool = False) -> Overview:
    """The page's figures from ``samples`` (see the module's docstring for the aggregation).

    ``expect_all``: the samples should hold every municipality of the catalogue (the cluster
    view); those without series are listed in ``missing``.
    """
    target: dict[tuple[str, str], float] = {}
    overdue: dict[tuple[str, str], float] = defaultdict(float)
    at_risk: dict[tuple[str, str], float] = defaultdict(float)
    ratio: dict[tuple[str, str, str], float] = {}
    bound: dict[tuple[str, str, str], float] = {}
    headroom: dict[tuple[str, str], float] = {}
    open_items: dict[tuple[str, str], float] = defaultdict(float)
    waiting: dict[tuple[str, str], float] = defaultdict(float)
    duration: dict[tuple[str, str, str, str], float] = {}
    last_event: dict[str, float] = {}

    for s in samples:
        if not _finite(s.value):
            continue
        lab = s.labels
        m = lab.get("municipality", "")
        if not m:
            continue
        name = s.name
        if name == "contact_norm_target_ratio":
            keep_max(target, (m, lab.get("norm", "")), s.value)
        elif name == "contact_norm_overdue_items":
            overdue[(m, lab.get("norm", ""))] += s.value
        elif name == "contact_norm_at_risk_items":
            at_risk[(m, lab.get("norm", ""))] += s.value
        elif name == "contact_norm_compliance_ratio":
            if lab.get("segment", "") == "":
                keep_max(ratio, (m, lab.get("norm", ""), lab.get("window", "")), s.value)
        elif name == "contact_norm_month_projection_ratio":
            keep_max(bound, (m, lab.get("norm", ""), lab.get("bound", "")), s.value)
        elif name == "contact_norm_month_headroom_items":
            keep_max(headroom, (m, lab.get("norm", "")), s.value)
        elif name == "contact_items_open":
            open_items[(m, lab.get("kind", ""))] += s.value
        elif name == "contact_calls_waiting":
            waiting[(m, lab.get("channel", ""))] += s.value
        elif name == "contact_handling_duration_seconds":
            if lab.get("window") == DURATION_WINDOW:
                key = (m, lab.get("kind", ""), lab.get("stage", ""), lab.get("quantile", ""))
                keep_max(duration, key, s.value)
        elif name == "contact_last_event_timestamp_seconds":
            last_event[m] = max(last_event.get(m, s.value), s.value)

    norms_of: dict[str, set[str]] = defaultdict(set)
    for m, n in target:
        norms_of[m].add(n)
    places: list[PlaceFigures] = []
    for m in catalogue.order(norms_of):
        figures: list[NormFigures] = []
        for n in catalogue.norm_order(m, norms_of[m]):
            meta = catalogue.norm(m, n)
            figures.append(
                NormFigures(
                    meta=meta,
                    target=target.get((m, n)),
                    open=_open(meta, m, open_items, waiting),
                    overdue=overdue.get((m, n), 0.0),
                    at_risk=at_risk.get((m, n), 0.0),
                    compliance={w: ratio.get((m, n, w)) for w in WINDOWS},
                    p50=duration.get((m, meta.kind or "", meta.stage, "0.5")),
                    p90=duration.get((m, meta.kind or "", meta.stage, "0.9")),
                    best=bound.get((m, n, "best")),
                    worst=bound.get((m, n, "worst")),
                    headroom=headroom.get((m, n)),
                )
            )
        channels = {c: v for (mm, c), v in sorted(waiting.items()) if mm == m}
        places.append(
            PlaceFigures(
                slug=m,
                name=catalogue.name(m),
                norms=figures,
                calls_waiting=sum(channels.values()),
                waiting_by_channel=channels,
                last_event=last_event.get(m),
            )
        )
    missing = [s for s in catalogue.names if s not in norms_of] if expect_all else []
    return Overview(places, missing)


def _open(
    meta: NormMeta,
    m: str,
    open_items: Mapping[tuple[str, str], float],
    waiting: Mapping[tuple[str, str], float],
) -> float | None:
    """Open items of the norm's kind; for a call norm, the calls waiting on its channel."""
    if meta.family == "call":
        return sum(v for (mm, c), v in waiting.items() if mm == m and meta.channel in (None, c))
    if meta.family == "item":
        return sum(v for (mm, k), v in open_items.items() if mm == m and meta.kind in (None, k))
    return None


def trend_values(overview: Overview) -> dict[tuple[str, str], float | None]:
    """What the worker's ring keeps per (municipality, norm) at each sample: the 1-day ratio."""
    return {
        (p.slug, n.id): n.compliance.get(TREND_WINDOW) for p in overview.places for n in p.norms
    }
