"""The KPI table and the wide "Swing" layout: the month's figures as numerators and denominators.

Pure: no store, no file. Everything here is derived from the tidy table of `monthly_indicators`
(so the two exports can never disagree) plus, for satisfaction, the month's feedback rows (the tidy
table holds a rounded mean, from which the sum of scores cannot be recovered).

A `Fact` is one figure of one municipality and month, for one split (segment, channel; "" = all):
a numerator (`teller`), a denominator (`noemer`, None for a plain count) and how many items or
calls of the month's cohort are still undecided (the figure is provisional while that is above
zero). Facts of several months or municipalities add up field by field (`Fact.plus`), which is
what makes a half year or a region from monthly figures.

`catalogue` lists the indicators of the KPI table, in order: one per norm of the norms file (and
one per norm and segment, and the norm's very late share), then volumes, abandonment, complaints
upheld and satisfaction (in all and per channel). `docs/indicatoren.md` is generated from it
(`make indicator-doc`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from events.vocabulary import Channel, Segment
from streams.core.rows import FeedbackRecord
from streams.export.indicators import ALL, ExportCalendar, ExportRow, Month, fixed

PERCENT = "%"
COUNT = "aantal"
SCORE = "rapportcijfer"
PLACES = {PERCENT: 1, COUNT: 0, SCORE: 2}
"""Decimals of a value, per unit (the same as the tidy table's)."""

MISSING = -99998
"""The Swing layout's code for a value that cannot be computed (nothing to divide by)."""

KPI_COLUMNS = (
    "gemeentecode",
    "periode",
    "indicator_id",
    "teller",
    "noemer",
    "waarde",
    "norm",
    "eenheid",
    "voorlopig",
)
"""The KPI table's columns, in order."""

SEGMENTS = tuple(s.value for s in Segment)
CHANNELS = tuple(c.value for c in Channel)

# Base figures (a Fact's `base`): norm compliance per norm id, and these.
RECEIVED = "ontvangen"  # + ":" + kind
UPHELD = "gegrond"
OFFERED = "aangeboden"
ABANDONED = "verlaten"
SATISFACTION = "tevredenheid"

KIND_PLURAL = {
    "melding": "meldingen",
    "vraag": "vragen",
    "terugbelverzoek": "terugbelverzoeken",
    "klacht": "klachten",
    "aanvraag": "aanvragen",
}
UNIT_WORDS = {
    "workdays": ("werkdag", "werkdagen"),
    "calendar_days": ("kalenderdag", "kalenderdagen"),
    "weeks": ("week", "weken"),
    "hours": ("uur", "uur"),
    "seconds": ("seconde", "seconden"),
}
STAGE_WORDS = {
    "response": "gereageerd",
    "resolution": "afgehandeld",
    "answer": "opgenomen",
}
SEGMENT_WORDS = {
    "inwoner": "inwoners",
    "ondernemer": "ondernemers",
    "maatschappelijke_partner": "maatschappelijke partners",
    "onbekend": "segment onbekend",
}
CHANNEL_WORDS = {
    "telefoon": "telefoon",
    "balie": "balie",
    "email": "e-mail",
    "webformulier": "webformulier",
    "app": "app",
    "brief": "brief",
    "chat": "chat",
    "social": "sociale media",
}


def cbs_period(month: Month) -> str:
    """The month in CBS notation: 2026-03 is `2026MM03`."""
    return f"{month.year:04d}MM{month.month:02d}"


def norm_base(norm_id: str) -> str:
    """The base of a norm's compliance facts: the norm id itself."""
    return f"norm:{norm_id}"


def very_late_base(norm_id: str) -> str:
    """The base of a norm's very-late facts (breached after more than three times the term)."""
    return f"zeer_laat:{norm_id}"


@dataclass(frozen=True, slots=True)
class Fact:
    """One figure of one municipality and month for one split; "" in a split means all."""

    municipality: str
    base: str
    segment: str
    channel: str
    teller: int
    noemer: int | None  # None: a count, not a ratio
    undecided: int  # items or calls of the cohort whose outcome is not known yet

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.municipality, self.base, self.segment, self.channel)

    @property
    def voorlopig(self) -> bool:
        return self.undecided > 0

    def plus(self, other: Fact) -> Fact:
        """This fact and `other` added up (another month or municipality, same figure)."""
        noemer = None if self.noemer is None else self.noemer + (other.noemer or 0)
        return Fact(
            self.municipality,
            self.base,
            self.segment,
            self.channel,
            self.teller + other.teller,
            noemer,
            self.undecided + other.undecided,
        )

    def value(self, unit: str) -> int | Decimal | None:
        """The figure in `unit`, rounded as the tidy table rounds; None when noemer is 0."""
        if self.noemer is None:
            return self.teller
        if self.noemer == 0:
            return None
        if unit == PERCENT:
            return fixed(Fraction(100 * self.teller, self.noemer), PLACES[PERCENT])
        return fixed(Fraction(self.teller, self.noemer), PLACES.get(unit, 2))


@dataclass(frozen=True, slots=True)
class NormInfo:
    """What the catalogue needs of a configured norm (streams.core.config.Norm fits)."""

    id: str
    stage: str
    family: str
    kind: str | None
    channel: str | None
    within: float
    unit: str
    target: float


@dataclass(frozen=True, slots=True)
class Indicator:
    """One column of the Swing layout and one `indicator_id` of the KPI table."""

    id: str
    titel: str  # short Dutch name
    definitie: str
    teller: str
    noemer: str  # "" for a count
    eenheid: str
    base: str
    segment: str = ALL
    channel: str = ALL
    norm_id: str | None = None  # the target comes from this norm, per municipality


def within_text(within: float, unit: str) -> str:
    """`3 werkdagen`, `6 weken`, `30 seconden`: a norm's term in Dutch."""
    one, many = UNIT_WORDS.get(unit, (unit, unit))
    amount = int(within) if float(within).is_integer() else within
    return f"{amount} {one if amount == 1 else many}"


def subject_words(norm: NormInfo) -> str:
    """What a norm is about, plural: `meldingen`, `telefoongesprekken`, …"""
    if norm.family == "call":
        return f"{norm.channel}gesprekken" if norm.channel else "gesprekken"
    return KIND_PLURAL.get(norm.kind or "", "verzoeken")


def indicator_id(norm_id: str) -> str:
    """A norm's indicator id: `melding-reactie` is `melding_reactie`."""
    return norm_id.replace("-", "_")


def _norm_indicators(norm: NormInfo) -> list[Indicator]:
    subject = subject_words(norm)
    term = within_text(norm.within, norm.unit)
    stage = STAGE_WORDS.get(norm.stage, norm.stage)
    decided = (
        "gesprekken opgenomen, of opgehangen na de termijn"
        if norm.family == "call"
        else f"{subject} waarvoor de norm beslist is (op tijd of te laat)"
    )
    base = Indicator(
        id=indicator_id(norm.id),
        titel=f"{subject.capitalize()} binnen {term} {stage}",
        definitie=(
            f"Aandeel van de {subject} van de maand (norm {norm.id}) dat binnen {term} is {stage}."
        ),
        teller=f"{subject} binnen {term} {stage}",
        noemer=decided,
        eenheid=PERCENT,
        base=norm_base(norm.id),
        norm_id=norm.id,
    )
    split = [
        Indicator(
            id=f"{base.id}_{segment}",
            titel=f"{base.titel}, {SEGMENT_WORDS[segment]}",
            definitie=f"Als {base.id}, alleen {SEGMENT_WORDS[segment]}.",
            teller=f"{base.teller}, {SEGMENT_WORDS[segment]}",
            noemer=f"{base.noemer}, {SEGMENT_WORDS[segment]}",
            eenheid=PERCENT,
            base=base.base,
            segment=segment,
            norm_id=norm.id,
        )
        for segment in SEGMENTS
    ]
    very_late = Indicator(
        id=f"{base.id}_zeer_laat",
        titel=f"{subject.capitalize()} zeer laat {stage}",
        definitie=(
            f"Aandeel van de {subject} van de maand (norm {norm.id}) dat pas na meer dan drie "
            f"keer de termijn van {term} is {stage}, of dan nog niet: zeer laat. Zij tellen ook "
            f"mee als te laat."
        ),
        teller=f"{subject} zeer laat {stage}",
        noemer=decided,
        eenheid=PERCENT,
        base=very_late_base(norm.id),
    )
    return [base, *split, very_late]


def catalogue(norms: Sequence[NormInfo]) -> list[Indicator]:
    """Every indicator of the KPI table and the Swing layout, in their order."""
    found: list[Indicator] = []
    for norm in norms:
        found.extend(_norm_indicators(norm))
    found.extend(
        [
            Indicator(
                id="meldingen_ontvangen",
                titel="Meldingen ontvangen",
                definitie="Aantal meldingen openbare ruimte (Fixi) dat in de maand binnenkwam.",
                teller="meldingen geopend in de maand",
                noemer="",
                eenheid=COUNT,
                base=f"{RECEIVED}:melding",
            ),
            Indicator(
                id="telefoon_aangeboden",
                titel="Telefoongesprekken aangeboden",
                definitie="Aantal telefoongesprekken dat in de maand in de wachtrij kwam.",
                teller="telefoongesprekken in de wachtrij gekomen in de maand",
                noemer="",
                eenheid=COUNT,
                base=OFFERED,
                channel="telefoon",
            ),
            Indicator(
                id="telefoon_verlaten",
                titel="Telefoongesprekken verlaten",
                definitie=(
                    "Aandeel van de aangeboden telefoongesprekken dat is opgehangen voordat het "
                    "werd opgenomen (abandonment)."
                ),
                teller="telefoongesprekken opgehangen voor opname",
                noemer="telefoongesprekken aangeboden",
                eenheid=PERCENT,
                base=ABANDONED,
                channel="telefoon",
            ),
            Indicator(
                id="klachten_ontvangen",
                titel="Klachten ontvangen",
                definitie="Aantal klachten dat in de maand binnenkwam.",
                teller="klachten geopend in de maand",
                noemer="",
                eenheid=COUNT,
                base=f"{RECEIVED}:klacht",
            ),
            Indicator(
                id="klachten_gegrond",
                titel="Klachten gegrond",
                definitie=(
                    "Aandeel van de afgehandelde klachten van de maand dat gegrond is verklaard."
                ),
                teller="klachten gegrond verklaard",
                noemer="klachten van de maand die zijn afgehandeld",
                eenheid=PERCENT,
                base=UPHELD,
            ),
            Indicator(
                id="tevredenheid",
                titel="Tevredenheid",
                definitie="Gemiddeld rapportcijfer (1-10) van de beoordelingen in de maand.",
                teller="som van de rapportcijfers",
                noemer="aantal beoordelingen",
                eenheid=SCORE,
                base=SATISFACTION,
            ),
        ]
    )
    found.extend(
        Indicator(
            id=f"tevredenheid_{channel}",
            titel=f"Tevredenheid, {CHANNEL_WORDS[channel]}",
            definitie=f"Als tevredenheid, alleen beoordelingen over kanaal {channel}.",
            teller=f"som van de rapportcijfers, kanaal {channel}",
            noemer=f"aantal beoordelingen, kanaal {channel}",
            eenheid=SCORE,
            base=SATISFACTION,
            channel=channel,
        )
        for channel in CHANNELS
    )
    return found


def _index(rows: Iterable[ExportRow]) -> dict[tuple[str, str, str, str, str, str], int]:
    """Count rows of the tidy table by (municipality, indicator, norm, kind, channel, segment)."""
    return {
        (r.municipality, r.indicator, r.norm, r.kind, r.channel, r.segment): int(r.value)
        for r in rows
        if r.unit == "count"
    }


def month_facts(
    month: Month,
    calendar: ExportCalendar,
    rows: Sequence[ExportRow],
    feedback: Iterable[FeedbackRecord],
) -> list[Fact]:
    """Every fact of one month, from its tidy table and its feedback rows, sorted by key."""
    counts = _index(rows)
    facts: list[Fact] = []
    for (muni, indicator, norm, kind, channel, segment), value in counts.items():
        if indicator == "norm_met" and kind == ALL:
            breached = counts[(muni, "norm_breached", norm, kind, channel, segment)]
            pending = counts[(muni, "norm_pending", norm, kind, channel, segment)]
            very_late = counts[(muni, "norm_very_late", norm, kind, channel, segment)]
            decided = value + breached
            facts.append(Fact(muni, norm_base(norm), segment, channel, value, decided, pending))
            facts.append(
                Fact(muni, very_late_base(norm), segment, channel, very_late, decided, pending)
            )
        elif indicator == "opened" and kind != ALL:
            facts.append(Fact(muni, f"{RECEIVED}:{kind}", segment, channel, value, None, 0))
            if kind == "klacht":
                closed = counts[(muni, "closed", norm, kind, channel, segment)]
                upheld = counts[(muni, "complaints_upheld", norm, kind, channel, segment)]
                facts.append(Fact(muni, UPHELD, segment, channel, upheld, closed, value - closed))
        elif indicator == "calls_offered":
            answered = counts[(muni, "calls_answered", norm, kind, channel, segment)]
            abandoned = counts[(muni, "calls_abandoned", norm, kind, channel, segment)]
            waiting = value - answered - abandoned
            facts.append(Fact(muni, OFFERED, segment, channel, value, None, 0))
            facts.append(Fact(muni, ABANDONED, segment, channel, abandoned, value, waiting))
    start, end = month.bounds(calendar)
    scores: dict[tuple[str, str], list[int]] = defaultdict(list)
    for f in feedback:
        if start <= f.given_at < end:
            scores[(f.municipality, ALL)].append(f.score)
            scores[(f.municipality, f.channel)].append(f.score)
    for (muni, channel), given in scores.items():
        facts.append(Fact(muni, SATISFACTION, ALL, channel, sum(given), len(given), 0))
    facts.sort(key=lambda f: f.key)
    return facts


@dataclass(frozen=True, slots=True)
class KpiRow:
    """One row of the KPI table; the fields are the columns, in order."""

    gemeentecode: str
    periode: str
    indicator_id: str
    teller: int
    noemer: int | None
    waarde: int | Decimal | None
    norm: Decimal | None
    eenheid: str
    voorlopig: int  # 1 while items or calls of the month's cohort are undecided, else 0

    def cells(self) -> tuple[str | int | Decimal | None, ...]:
        return (
            self.gemeentecode,
            self.periode,
            self.indicator_id,
            self.teller,
            self.noemer,
            self.waarde,
            self.norm,
            self.eenheid,
            self.voorlopig,
        )


def target_percent(target: float) -> Decimal:
    """A norm's target (0.9) as the percentage the KPI table shows (90.0)."""
    return fixed(target * 100, PLACES[PERCENT])


def kpi_rows(
    month: Month,
    facts: Iterable[Fact],
    indicators: Sequence[Indicator],
    codes: dict[str, str],
    targets: dict[str, dict[str, float]],
) -> list[KpiRow]:
    """The KPI table of one month: every indicator for every municipality in `codes`.

    `codes` maps municipality slug to CBS code (rows come in that order); `targets` maps slug to
    norm id to target (0–1). An indicator without any fact gets teller 0 and noemer 0 (or none).
    """
    by_key = {f.key: f for f in facts}
    period = cbs_period(month)
    rows = []
    for muni, code in codes.items():
        for ind in indicators:
            fact = by_key.get((muni, ind.base, ind.segment, ind.channel))
            if fact is None:
                fact = Fact(muni, ind.base, ind.segment, ind.channel, 0, _empty(ind), 0)
            target = None
            if ind.norm_id is not None and ind.norm_id in targets.get(muni, {}):
                target = target_percent(targets[muni][ind.norm_id])
            rows.append(
                KpiRow(
                    code,
                    period,
                    ind.id,
                    fact.teller,
                    fact.noemer,
                    fact.value(ind.eenheid),
                    target,
                    ind.eenheid,
                    int(fact.voorlopig),
                )
            )
    return rows


def _empty(indicator: Indicator) -> int | None:
    return None if indicator.eenheid == COUNT else 0


def swing_table(
    rows: Sequence[KpiRow], indicators: Sequence[Indicator]
) -> tuple[tuple[str, ...], list[tuple[str | int | Decimal, ...]]]:
    """The KPI rows in the wide layout: (columns, rows); -99998 where a value is missing.

    One row per municipality and period, in the order of `rows`; one column per indicator.
    """
    columns = ("gemeentecode", "periode", *(i.id for i in indicators))
    wide: dict[tuple[str, str], dict[str, int | Decimal]] = {}
    for row in rows:
        cells = wide.setdefault((row.gemeentecode, row.periode), {})
        cells[row.indicator_id] = MISSING if row.waarde is None else row.waarde
    table = [
        (code, period, *(cells.get(i.id, MISSING) for i in indicators))
        for (code, period), cells in wide.items()
    ]
    return columns, table
