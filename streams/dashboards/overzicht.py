"""Dashboard "Overzicht": the four municipalities side by side, worst first.

For the wall screen of the contact centre and the weekly look of the team leads: does each
municipality meet each norm (1, 7 and 30 days against the target), how much work is overdue or
about to be, how many items are open, how the phones are doing, how satisfied people are. Tables
sort worst first by an explicit sort; stat panels ask Prometheus for a sorted instant result
(``sort_desc``/``sort``).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.builders.stat import Panel as StatPanel
from grafana_foundation_sdk.builders.table import Panel as TablePanel
from grafana_foundation_sdk.builders.timeseries import Panel as TimeseriesPanel

from streams.dashboards.common import (
    ALL_SEGMENTS,
    COLOUR_TEXT,
    MUNICIPALITY_COLOURS,
    NEUTRAL,
    STATUS_BAD,
    STATUS_OK,
    STATUS_WARN,
    assemble,
    colour_series,
    column,
    dashed_targets,
    link_property,
    mapping_property,
    merge,
    new_dashboard,
    norm,
    organize,
    query,
    sel,
    sort_by_column,
    stat,
    status_mapping,
    table,
    threshold_property,
    timeseries,
    zero_text,
)

UID = "contactmon-overzicht"
TITLE = "Contactmonitor — Overzicht"
DESCRIPTION = (
    "De vier gemeenten naast elkaar: naleving van de normen tegen het doel, achterstand, "
    "werkvoorraad, telefonie en tevredenheid; slechtste eerst. Kleur herhaalt alleen wat tekst "
    "en getal al zeggen; het doel staat als getal of als gestippelde lijn '(doel)' in beeld."
)

GEMEENTE_URL = (
    "/d/contactmon-gemeente/contactmon-gemeente?var-municipality=${__value.raw}&${__url_time_range}"
)
PHONE_NORM = "telefoon-opname"

# Column titles of the norm table, in display order after municipality and norm.
COL_MUNICIPALITY = "Gemeente"
COL_NORM = "Norm"
COL_1D = "Naleving 1 dag"
COL_7D = "Naleving 7 dagen"
COL_30D = "Naleving 30 dagen"
COL_TARGET = "Doel"
COL_MARGIN = "Verschil met doel (30 dagen)"
COL_STATUS = "Status (30 dagen)"
COL_OVERDUE = "Over termijn"
COL_AT_RISK = "Dreigt te laat"
NORM_COLUMNS = (
    COL_1D,
    COL_7D,
    COL_30D,
    COL_TARGET,
    COL_MARGIN,
    COL_STATUS,
    COL_OVERDUE,
    COL_AT_RISK,
)

PHONE_RATIO_7D = sel(
    "contact_norm_compliance_ratio", f'norm="{PHONE_NORM}"', 'window="7d"', ALL_SEGMENTS
)
COUNT_STEPS = ((None, STATUS_OK), (1, STATUS_WARN), (10, STATUS_BAD))
COUNT_STEPS_TEXT = "0 is 'geen'; vanaf 1 oranje, vanaf 10 rood."


def _ratio(window: str, where: str) -> str:
    selector = sel("contact_norm_compliance_ratio", where, f'window="{window}"', ALL_SEGMENTS)
    return f"max by (municipality, norm) ({selector})"


def _target(where: str) -> str:
    return f"max by (municipality, norm) ({sel('contact_norm_target_ratio', where)})"


def norm_table(where: str = "", title: str = "", height: int = 16) -> TablePanel:
    """Every (municipality, norm): compliance 1d/7d/30d, target, margin, status, overdue, at risk.

    ``where`` is an extra label matcher (the Gemeente dashboard passes its municipality).
    """
    ratio_30d, target = _ratio("30d", where), _target(where)
    exprs = [
        _ratio("1d", where),
        _ratio("7d", where),
        ratio_30d,
        target,
        f"{ratio_30d} - on (municipality, norm) {target}",
        f"{ratio_30d} >= bool on (municipality, norm) {target}",
        f"sum by (municipality, norm) ({sel('contact_norm_overdue_items', where)})",
        f"sum by (municipality, norm) ({sel('contact_norm_at_risk_items', where)})",
    ]
    rename = {"municipality": COL_MUNICIPALITY, "norm": COL_NORM}
    rename |= {f"Value #{chr(ord('A') + i)}": name for i, name in enumerate(NORM_COLUMNS)}
    panel = table(
        title or "Normen: naleving tegen doel per gemeente — slechtste eerst",
        "Per gemeente en norm: het aandeel op tijd (gehaald / besloten, naar beslismoment) over "
        "1, 7 en 30 dagen, het doel, het verschil met het doel en of de norm over 30 dagen "
        "gehaald wordt ('haalt doel' / 'onder doel'). 'Over termijn': nog wachtend, termijn "
        "verstreken. 'Dreigt te laat': nog wachtend, termijn verstrijkt binnen één werkdag. Leeg: "
        "in dat venster is nog niets besloten. Klik op een gemeente voor haar eigen dashboard.",
        queries=[query(e, instant=True, table_format=True) for e in exprs],
        height=height,
    )
    panel = (
        panel.with_transformation(merge())
        .with_transformation(organize(rename))
        .sort_by([sort_by_column(COL_MARGIN, descending=False)])
    )
    for name in (COL_1D, COL_7D, COL_30D, COL_TARGET):
        panel = panel.override_by_name(name, column("percentunit", decimals=1))
    panel = panel.override_by_name(
        COL_MARGIN,
        column(
            "percentunit",
            threshold_property([(None, STATUS_BAD), (0, STATUS_OK)]),
            COLOUR_TEXT,
            decimals=1,
        ),
    )
    panel = panel.override_by_name(
        COL_STATUS,
        column(None, mapping_property(status_mapping("haalt doel", "onder doel")), COLOUR_TEXT),
    )
    for name in (COL_OVERDUE, COL_AT_RISK):
        panel = panel.override_by_name(
            name, column("none", threshold_property(COUNT_STEPS), COLOUR_TEXT, decimals=0)
        )
    return panel.override_by_name(
        COL_MUNICIPALITY,
        column(None, link_property("Gemeente-dashboard van ${__value.raw}", GEMEENTE_URL)),
    )


def _count_stat(title: str, description: str, expr: str) -> StatPanel:
    panel = stat(
        title,
        f"{description} Slechtste eerst. {COUNT_STEPS_TEXT}",
        unit="none",
        queries=[query(expr, "{{municipality}}", instant=True)],
        steps=COUNT_STEPS,
        width=8,
        decimals=0,
    )
    return panel.mappings(zero_text("geen"))


def overdue_stat() -> StatPanel:
    """Items past a norm's deadline still waiting for that stage, per municipality."""
    return _count_stat(
        "Over termijn (alle normen)",
        "Items die nog wachten op reactie of afhandeling terwijl de termijn van de norm "
        "verstreken is (een item telt mee bij elke norm die het mist).",
        "sort_desc(sum by (municipality) (contact_norm_overdue_items))",
    )


def at_risk_stat() -> StatPanel:
    """Items whose deadline falls within one working day, per municipality."""
    return _count_stat(
        "Dreigt te laat (binnen 1 werkdag)",
        "Items die nog wachten en waarvan de termijn binnen één werkdag verstrijkt: nu oppakken.",
        "sort_desc(sum by (municipality) (contact_norm_at_risk_items))",
    )


def open_items_stat() -> StatPanel:
    """Open items of every kind, per municipality (work in hand, not a failure)."""
    return stat(
        "Open items",
        "Alle openstaande items (meldingen, vragen, terugbelverzoeken, klachten, aanvragen). "
        "Werkvoorraad, geen oordeel: daarom in neutrale kleur. Grootste eerst.",
        unit="none",
        queries=[
            query(
                "sort_desc(sum by (municipality) (contact_items_open))",
                "{{municipality}}",
                instant=True,
            )
        ],
        steps=[(None, NEUTRAL)],
        width=8,
        decimals=0,
    ).mappings(zero_text("geen"))


def calls_waiting_stat() -> StatPanel:
    """Calls in a queue right now (phone, chat, counter), per municipality."""
    return _count_stat(
        "Wachtende gesprekken (telefoon, chat, balie)",
        "Gesprekken die nu in een wachtrij staan, nog niet opgenomen of opgehangen.",
        "sort_desc(sum by (municipality) (contact_calls_waiting))",
    )


def phone_service_level_stat() -> StatPanel:
    """Share of phone calls answered within the norm over 7 days, lowest first."""
    info = norm(PHONE_NORM)
    return stat(
        f"Telefonische servicegraad, 7 dagen (doel {info.target:.0%})",
        f"{info.description}: aandeel van de besloten gesprekken over 7 dagen "
        f"(norm {PHONE_NORM}). Doel {info.target:.0%}: daaronder rood, vanaf het doel blauw. "
        "Laagste eerst.",
        unit="percentunit",
        queries=[
            query(
                f"sort({PHONE_RATIO_7D})",
                "{{municipality}}",
                instant=True,
            )
        ],
        steps=[(None, STATUS_BAD), (info.target, STATUS_OK)],
        width=8,
        decimals=1,
    )


def abandoned_share_stat() -> StatPanel:
    """Share of phone calls abandoned in the queue over the last 24 hours, highest first."""
    abandoned = (
        'sum by (municipality) (increase(contact_calls_total{channel="telefoon", '
        'outcome="abandoned"}[1d]))'
    )
    offered = 'sum by (municipality) (increase(contact_calls_total{channel="telefoon"}[1d]))'
    return stat(
        "Telefoon: opgehangen in de wachtrij (24 uur)",
        "Aandeel van de telefoongesprekken van de laatste 24 uur dat ophing voordat het werd "
        "opgenomen. Hoogste eerst; vanaf 5 % oranje, vanaf 10 % rood.",
        unit="percentunit",
        queries=[query(f"sort_desc({abandoned} / {offered})", "{{municipality}}", instant=True)],
        steps=[(None, STATUS_OK), (0.05, STATUS_WARN), (0.10, STATUS_BAD)],
        width=8,
        decimals=1,
    )


def satisfaction_stat() -> StatPanel:
    """Unweighted mean over channels of the 30-day mean score, lowest first."""
    return stat(
        "Tevredenheid: gemiddeld cijfer over de kanalen (30 dagen)",
        "Gemiddelde van de kanaalgemiddelden (cijfer 1–10) over 30 dagen, ongewogen: een kanaal "
        "met weinig reacties telt even zwaar. Het gewogen gemiddelde staat in de maandexport "
        "(satisfaction_mean). Onder 5,5 (onvoldoende) rood, vanaf 7 blauw. Laagste eerst.",
        unit="none",
        queries=[
            query(
                'sort(avg by (municipality) (contact_satisfaction_score{window="30d"}))',
                "{{municipality}}",
                instant=True,
            )
        ],
        steps=[(None, STATUS_BAD), (5.5, STATUS_WARN), (7, STATUS_OK)],
        width=12,
        decimals=1,
    )


def satisfaction_table() -> TablePanel:
    """Mean score per municipality and channel over 7 and 30 days, lowest first."""
    exprs = [
        'max by (municipality, channel) (contact_satisfaction_score{window="7d"})',
        'max by (municipality, channel) (contact_satisfaction_score{window="30d"})',
    ]
    rename = {
        "municipality": COL_MUNICIPALITY,
        "channel": "Kanaal",
        "Value #A": "Cijfer 7 dagen",
        "Value #B": "Cijfer 30 dagen",
    }
    panel = table(
        "Tevredenheid per gemeente en kanaal — laagste eerst",
        "Gemiddeld cijfer (1–10) per kanaal over 7 en 30 dagen. Leeg: geen reacties in dat "
        "venster. Onder 5,5 (onvoldoende) rood, vanaf 7 blauw.",
        queries=[query(e, instant=True, table_format=True) for e in exprs],
        width=12,
        height=10,
    )
    panel = (
        panel.with_transformation(merge())
        .with_transformation(organize(rename))
        .sort_by([sort_by_column("Cijfer 30 dagen", descending=False)])
    )
    for name in ("Cijfer 7 dagen", "Cijfer 30 dagen"):
        panel = panel.override_by_name(
            name,
            column(
                "none",
                threshold_property([(None, STATUS_BAD), (5.5, STATUS_WARN), (7, STATUS_OK)]),
                COLOUR_TEXT,
                decimals=1,
            ),
        )
    return panel


def overdue_trend() -> TimeseriesPanel:
    """Overdue items per municipality over time."""
    panel = timeseries(
        "Over termijn per gemeente — verloop",
        "Aantal items over termijn (alle normen samen) per gemeente door de tijd.",
        unit="none",
        axis_label="items over termijn",
        queries=[query("sum by (municipality) (contact_norm_overdue_items)", "{{municipality}}")],
    )
    return colour_series(panel, MUNICIPALITY_COLOURS)


def phone_trend() -> TimeseriesPanel:
    """Phone service level per municipality over time, with the target as a dashed line."""
    info = norm(PHONE_NORM)
    panel = timeseries(
        "Telefonische servicegraad (7 dagen) per gemeente — verloop",
        f"{info.description}: aandeel over 7 dagen per gemeente; de gestippelde lijn "
        "'(doel)' is het doel van de norm.",
        unit="percentunit",
        axis_label="opgenomen binnen norm",
        queries=[
            query(
                PHONE_RATIO_7D,
                "{{municipality}}",
            ),
            query(f'contact_norm_target_ratio{{norm="{PHONE_NORM}"}}', "{{municipality}} (doel)"),
        ],
        max_value=1,
    )
    return dashed_targets(colour_series(panel, MUNICIPALITY_COLOURS))


def dashboard() -> Dashboard:
    """The Overzicht dashboard."""
    return assemble(
        new_dashboard(UID, TITLE, DESCRIPTION),
        [
            ("Normen", [norm_table()]),
            ("Werkvoorraad nu", [overdue_stat(), at_risk_stat(), open_items_stat()]),
            (
                "Telefoon, chat en balie",
                [calls_waiting_stat(), phone_service_level_stat(), abandoned_share_stat()],
            ),
            ("Tevredenheid", [satisfaction_stat(), satisfaction_table()]),
            ("Verloop", [overdue_trend(), phone_trend()]),
        ],
    )
