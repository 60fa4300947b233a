"""The report's summary in plain Dutch: a few sentences a board member reads first.

From `ReportFigures` only. In order: every norm a municipality missed this month (with how many
were late, how many of those very late, and the category most of them were in), for a month still
open how many more Fixi reports may be late before the month misses its target, the norms
everyone met, the half year of the headline norms (the Fixi reports), abandoned phone calls, which
figures are still provisional, and which municipalities have no data. Decisions use exact
fractions; numbers are rounded only for reading.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

from streams.export.kpi import STAGE_WORDS, subject_words, within_text
from streams.report import nl
from streams.report.figures import Cell, Line, NormFigures, ReportFigures

STAGE_NOUNS = {"response": "reactienorm", "resolution": "afhandelnorm", "answer": "opnamenorm"}
MAIN_CATEGORY_SHARE = Fraction(1, 3)  # "vooral categorie X" from a third of the late items on


def norm_name(norm: NormFigures) -> str:
    """`de reactienorm voor meldingen`."""
    noun = STAGE_NOUNS.get(norm.norm.stage, "norm")
    return f"de {noun} voor {subject_words(norm.norm)}"


def is_headline(norm: NormFigures) -> bool:
    """The seed's headline figures: Fixi reports (kind melding) responded to and handled."""
    return norm.norm.kind == "melding" and norm.norm.stage in ("response", "resolution")


def _pct(cell: Cell, target: Decimal | None = None) -> str:
    share = cell.fraction
    if share is None:
        return nl.DASH
    value = Decimal(share.numerator * 100) / Decimal(share.denominator)
    below = target if target is not None and value < target else None
    return nl.whole_percent(value, below=below)


def _stage(norm: NormFigures) -> str:
    term = within_text(norm.norm.within, norm.norm.unit)
    return f"binnen {term} {STAGE_WORDS.get(norm.norm.stage, '')}".rstrip()


def half_year_sentences(figures: ReportFigures) -> list[str]:
    """`Meldingen over 2023H1 (januari t/m juni 2023): binnen 3 werkdagen gereageerd …`.

    One sentence for the headline norms over the half year so far, naming every municipality
    with decisions.
    """
    headline = [n for n in figures.norms if is_headline(n)]
    half = figures.half_year
    first, last = half.months[0], half.months[-1]
    span = (
        nl.month_name(first)
        if first == last
        else f"{nl.MONTHS[first.month - 1]} t/m {nl.month_name(last)}"
    )
    label = half.label if half.complete else f"{half.label} tot nu toe"
    parts = []
    voorlopig = False
    for norm in headline:
        values = []
        for line in norm.figure.lines:
            if line.half_year.noemer:
                values.append(f"{line.place.name} {_pct(line.half_year)}")
                voorlopig = voorlopig or line.half_year.voorlopig
        if values:
            parts.append(f"{_stage(norm)} {nl.join(values)}")
    if not parts:
        return []
    subject = subject_words(headline[0].norm).capitalize()
    tail = " (voorlopig)" if voorlopig else ""
    return [f"{subject} over {label} ({span}): {'; '.join(parts)}{tail}."]


def _one(subject: str) -> str:
    """`melding` for `meldingen`."""
    return {"meldingen": "melding", "vragen": "vraag", "klachten": "klacht"}.get(subject, subject)


def _late_phrase(norm: NormFigures, line: Line) -> str:
    late = line.current.noemer - line.current.teller if line.current.noemer else 0
    subject = subject_words(norm.norm)
    phrase = f"{nl.plural(late, _one(subject), subject)} te laat"
    very_late = norm.very_late.line(line.place.slug).current.teller
    if very_late:
        phrase += f" (waarvan {nl.integer(very_late)} zeer laat)"
    categories = norm.late_categories.get(line.place.slug, [])
    if categories and late:
        category, count = categories[0]
        runner_up = categories[1][1] if len(categories) > 1 else 0
        if count >= 2 and Fraction(count, late) >= MAIN_CATEGORY_SHARE and count > runner_up:
            phrase += f", vooral categorie {category.replace('_', ' ')}"
    return phrase


def miss_sentences(figures: ReportFigures) -> tuple[list[str], list[str]]:
    """(sentences about missed norms, one sentence for the norms everyone with data met).

    A missed headline norm gets a sentence per municipality, with how many were late and the
    category most of them were in; the other norms one sentence each, naming who missed them.
    """
    misses: list[str] = []
    met_by_all = []
    for norm in figures.norms:
        decided = [line for line in norm.figure.lines if line.current.noemer]
        missed = sorted(
            (line for line in decided if line.missed),
            key=lambda line: line.current.fraction or Fraction(0),
        )
        if decided and not missed:
            met_by_all.append(norm_name(norm))
        if not missed:
            continue
        target = missed[0].target if missed[0].target is not None else Decimal(0)
        if is_headline(norm):
            for line in missed:
                tail = " (voorlopig)" if line.current.voorlopig else ""
                misses.append(
                    f"{line.place.name} haalde {norm_name(norm)} niet: "
                    f"{_pct(line.current, line.target)} {_stage(norm)}{tail}, norm "
                    f"{nl.whole_percent(line.target or target)}; {_late_phrase(norm, line)}."
                )
        else:
            who = [
                f"{line.place.name} ({_pct(line.current, line.target)}"
                f"{', voorlopig' if line.current.voorlopig else ''})"
                for line in missed
            ]
            verb = "haalde" if len(who) == 1 else "haalden"
            misses.append(
                f"{norm_name(norm).capitalize()} ({nl.whole_percent(target)} {_stage(norm)}) "
                f"{verb} {nl.join(who)} niet."
            )
    everyone = []
    if met_by_all:
        subject = "Alle gemeenten met gegevens haalden"
        if len(figures.places) == 1:
            subject = "De gemeente haalde"
        everyone.append(f"{subject} {nl.join(met_by_all)}.")
    return misses, everyone


def outlook_sentences(figures: ReportFigures) -> list[str]:
    """For each headline norm of a month still open: how many more may be late, per
    municipality, in one sentence.

    `De reactienorm voor meldingen over maart 2024: Castricum mag nog 6 meldingen te laat
    afhandelen (14 nog open); Heiloo haalt die norm niet meer (hoogstens 59 %).`
    """
    found = []
    for norm in figures.norms:
        if not is_headline(norm):
            continue
        subject = subject_words(norm.norm)
        one = _one(subject)
        parts = []
        for line in norm.figure.lines:
            ahead = line.outlook
            if ahead is None:
                continue
            still_open = f"{nl.integer(ahead.undecided)} nog open"
            name = line.place.name
            if ahead.lost:
                best = _pct(Cell(ahead.best.numerator, ahead.best.denominator, None, False, 0))
                parts.append(f"{name} haalt die norm niet meer (hoogstens {best})")
            elif ahead.certain:
                parts.append(f"{name} haalt die norm hoe dan ook ({still_open})")
            elif ahead.headroom == 0:
                parts.append(f"{name} mag geen {one} meer te laat afhandelen ({still_open})")
            else:
                may = nl.plural(ahead.headroom, one, subject)
                parts.append(f"{name} mag nog {may} te laat afhandelen ({still_open})")
        if parts:
            found.append(
                f"{norm_name(norm).capitalize()} over {nl.month_name(figures.month)}, die nog "
                f"loopt: {'; '.join(parts)}."
            )
    return found


def abandonment_sentence(figures: ReportFigures) -> list[str]:
    parts = [
        f"{line.place.name} {_pct(line.current)}"
        for line in figures.abandoned.lines
        if line.current.noemer
    ]
    if not parts:
        return []
    return [f"Verlaten telefoongesprekken (opgehangen voor opname): {nl.join(parts)}."]


def provisional_sentences(figures: ReportFigures) -> list[str]:
    """`Voorlopig, nog niet beslist: Heiloo 12 meldingen en 3 vragen; …`."""
    parts = []
    for place in figures.places:
        open_by_subject: dict[str, int] = defaultdict(int)
        for norm in figures.norms:
            cell = norm.figure.line(place.slug).current
            if cell.voorlopig:
                subject = subject_words(norm.norm)
                open_by_subject[subject] = max(open_by_subject[subject], cell.undecided)
        if open_by_subject:
            counts = [f"{nl.integer(n)} {subject}" for subject, n in open_by_subject.items()]
            parts.append(f"{place.name} {nl.join(counts)}")
    if not parts:
        return []
    return [
        f"Voorlopig: van {nl.month_name(figures.month)} zijn nog niet beslist bij "
        f"{'; '.join(parts)}. Die cijfers kunnen nog veranderen."
    ]


def no_data_sentence(figures: ReportFigures) -> list[str]:
    has = figures.has_data
    missing = [p.name for p in figures.places if not has[p.slug]]
    if not missing:
        return []
    return [f"Geen gegevens over {nl.month_name(figures.month)} voor {nl.join(missing)}."]


def summary(figures: ReportFigures) -> list[str]:
    """The summary's sentences, in reading order."""
    misses, everyone = miss_sentences(figures)
    return [
        *misses,
        *outlook_sentences(figures),
        *everyone,
        *half_year_sentences(figures),
        *abandonment_sentence(figures),
        *provisional_sentences(figures),
        *no_data_sentence(figures),
    ]
