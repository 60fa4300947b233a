"""docs/indicatoren.md, generated from the KPI catalogue (streams.export.kpi) and the shipped norms.

`python -m streams.export.indicator_doc docs/indicatoren.md` (or `make indicator-doc`) rewrites
the file; a test fails when the checked-in file differs from what this writes, so the description
cannot drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from streams.core.config import load_norms
from streams.export.kpi import (
    CHANNELS,
    COUNT,
    KPI_COLUMNS,
    MISSING,
    PLACES,
    SEGMENTS,
    Indicator,
)
from streams.export.run import indicators_of, targets_of

HEADER = """# Indicatoren

<!-- generated from streams/export/kpi.py and streams/norms/default.yaml by `make indicator-doc`
(python -m streams.export.indicator_doc docs/indicatoren.md); edit the code, not this file -->

De indicatoren van `contactmon export --table kpi` en `--table swing`, en van de maandrapportage
(`contactmon report`). Elke waarde is een teller gedeeld door een noemer (of een aantal), zodat
cijfers over gemeenten en maanden bij elkaar opgeteld kunnen worden: tel tellers en noemers op en
deel daarna, nooit de percentages.

- **Periode**: de maand in CBS-notatie, `2024MM03` is maart 2024. Meldingen, vragen,
  terugbelverzoeken, klachten en aanvragen tellen mee in de maand waarin ze binnenkwamen (het
  cohort), ook als ze later worden afgehandeld; gesprekken in de maand waarin ze in de wachtrij
  kwamen; beoordelingen in de maand waarin ze werden gegeven. Maandgrenzen: middernacht in
  Europe/Amsterdam.
- **Binnen de norm**: teller = op tijd, noemer = op tijd + te laat. Zaken die werden ingetrokken
  of vervielen voor de termijn, en gesprekken die binnen de termijn werden opgehangen, tellen
  niet mee. De termijnen en werkdagen staan in README.md ("Deadlines in one paragraph").
- **Voorlopig** (`voorlopig` = 1): van het cohort van die maand zijn nog zaken of gesprekken
  zonder beslissing voor deze indicator; het cijfer kan nog veranderen. Bij aantallen en
  tevredenheid altijd 0.
- **Waarde**: percentages met {pct} decimaal, rapportcijfers met {score} decimalen, half naar
  boven afgerond; leeg in de KPI-tabel en `{missing}` in de Swing-indeling als de noemer 0 is.
- **Norm**: het doel van de norm in procenten, per gemeente (een gemeente kan in het normenbestand
  een eigen doel hebben); leeg waar geen norm geldt.

KPI-tabel, kolommen: {columns}. Swing-indeling: `gemeentecode`, `periode` en dan een kolom per
indicator in de volgorde hieronder.
"""


def _norm_text(indicator: Indicator, targets: dict[str, dict[str, float]]) -> str:
    if indicator.norm_id is None:
        return "—"
    values = sorted({t[indicator.norm_id] for t in targets.values() if indicator.norm_id in t})
    return " / ".join(f"{round(v * 100):d} %" for v in values)


def render(norms_path: Path | None = None) -> str:
    """The whole document for the norms at `norms_path` (default: the shipped norms)."""
    config = load_norms(norms_path)
    indicators = indicators_of(config)
    targets = targets_of(config)
    lines = [
        HEADER.format(
            pct=PLACES["%"],
            score=PLACES["rapportcijfer"],
            missing=MISSING,
            columns=", ".join(f"`{c}`" for c in KPI_COLUMNS),
        ).rstrip("\n"),
        "",
        "## Indicatoren",
        "",
        "| indicator_id | naam | definitie | teller | noemer | eenheid | norm |",
        "|---|---|---|---|---|---|---|",
    ]
    for ind in indicators:
        if ind.segment or (ind.channel and ind.id.startswith("tevredenheid_")):
            continue
        noemer = ind.noemer or "— (een aantal)"
        lines.append(
            f"| `{ind.id}` | {ind.titel} | {ind.definitie} | {ind.teller} | {noemer} | "
            f"{ind.eenheid} | {_norm_text(ind, targets)} |"
        )
    split = [i for i in indicators if i.segment]
    per_channel = [i for i in indicators if i.channel and i.id.startswith("tevredenheid_")]
    lines += [
        "",
        "## Uitsplitsingen",
        "",
        f"Elke norm-indicator ook per segment ({', '.join(f'`{s}`' for s in SEGMENTS)}): "
        "`<indicator_id>_<segment>`, met dezelfde definitie voor alleen dat segment:",
        "",
        *(f"- `{i.id}`" for i in split),
        "",
        f"Tevredenheid ook per kanaal ({', '.join(f'`{c}`' for c in CHANNELS)}):",
        "",
        *(f"- `{i.id}`: {i.definitie}" for i in per_channel),
        "",
        f"Aantallen (eenheid `{COUNT}`) hebben geen noemer.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else Path("docs/indicatoren.md")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
