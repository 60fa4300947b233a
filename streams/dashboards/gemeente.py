"""Dashboard "Gemeente": one municipality in depth, for its team lead.

Choose the municipality (``municipality``, from the metrics), and filter on kind (``kind``) and
channel (``channel``) where a metric has that label; ``window`` chooses the rolling window
(1, 7 or 30 days) of the compliance, duration and satisfaction panels. Work per norm with its
trend, compliance against the target line, handling durations (median and 90th percentile, shown
in hours and days), calls, satisfaction per channel, and links to the runbooks of the alerts.

Segments (entrepreneurs, societal partners) are not a label of any metric; their split lives in
the monthly export. A text panel says so rather than the dashboard inventing a label.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig
from grafana_foundation_sdk.builders.dashboard import CustomVariable, Dashboard, QueryVariable
from grafana_foundation_sdk.builders.stat import Panel as StatPanel
from grafana_foundation_sdk.builders.table import Panel as TablePanel
from grafana_foundation_sdk.builders.timeseries import Panel as TimeseriesPanel
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.common import GraphThresholdsStyleMode

from events.vocabulary import Channel, Kind
from streams.dashboards.common import (
    ALL_SEGMENTS,
    DATASOURCE,
    NEUTRAL,
    SOME_SEGMENT,
    STATUS_BAD,
    STATUS_OK,
    STATUS_WARN,
    assemble,
    colour_series,
    column,
    dashed_targets,
    mapping_property,
    merge,
    new_dashboard,
    norm,
    norm_ids,
    norms,
    organize,
    query,
    runbook_link,
    sel,
    sort_by_column,
    stat,
    table,
    thresholds,
    timeseries,
    zero_text,
)
from streams.dashboards.overzicht import COUNT_STEPS, COUNT_STEPS_TEXT, PHONE_NORM, norm_table

UID = "contactmon-gemeente"
TITLE = "Contactmonitor — Gemeente"
DESCRIPTION = (
    "Eén gemeente in detail: werkvoorraad per norm met verloop, naleving tegen het doel, "
    "doorlooptijden (mediaan en 90 %), telefonie en tevredenheid per kanaal. Filters: gemeente, "
    "soort item, kanaal en venster, waar de metric dat label heeft. Uitgesplitst naar segment "
    "(inwoner, ondernemer, maatschappelijke partner, onbekend) en naar de tien grootste "
    "categorieën van de gemeente (de rest: overig); 'zeer laat' is te laat en meer dan drie keer "
    "de normtermijn. De maandcijfers per segment en kanaal staan in de maandexport en het "
    "maandrapport (contactmon export, contactmon report)."
)

MUNICIPALITY = 'municipality="$municipality"'
KIND = 'kind=~"$kind"'
CHANNEL = 'channel=~"$channel"'
WINDOW = 'window="$window"'
WINDOWS = (("1 dag", "1d"), ("7 dagen", "7d"), ("30 dagen", "30d"))
DEFAULT_WINDOW = "7d"
SATISFACTION_STEPS = ((None, STATUS_BAD), (5.5, STATUS_WARN), (7, STATUS_OK))

BACKLOG_RUNBOOK = "norm-backlog.md"
BURN_RATE_RUNBOOK = "norm-burn-rate.md"


# --- variables -------------------------------------------------------------------------------


def municipality_variable() -> QueryVariable:
    """The municipality, from the label values Prometheus has (one at a time)."""
    return (
        QueryVariable("municipality")
        .label("Gemeente")
        .description("De gemeente waarvan dit dashboard de cijfers toont.")
        .datasource(DATASOURCE)
        .query("label_values(contact_norm_target_ratio, municipality)")
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(False)
        .include_all(False)
    )


def _all_variable(name: str, label: str, description: str, values: list[str]) -> CustomVariable:
    return (
        CustomVariable(name)
        .label(label)
        .description(description)
        .values(",".join(values))
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
    )


def kind_variable() -> CustomVariable:
    """The kinds of item of the contract (filters panels whose metric has ``kind``)."""
    return _all_variable(
        "kind",
        "Soort item",
        "Filtert open items, heropeningen en doorlooptijden (de metrics met het label kind).",
        [k.value for k in Kind],
    )


def channel_variable() -> CustomVariable:
    """The channels of the contract (filters panels whose metric has ``channel``)."""
    return _all_variable(
        "channel",
        "Kanaal",
        "Filtert gesprekken en tevredenheid (de metrics met het label channel).",
        [c.value for c in Channel],
    )


def window_variable() -> CustomVariable:
    """The rolling window of compliance, durations and satisfaction."""
    label = {value: text for text, value in WINDOWS}[DEFAULT_WINDOW]
    return (
        CustomVariable("window")
        .label("Venster")
        .description("Het voortschrijdende venster van naleving, doorlooptijd en tevredenheid.")
        .values(", ".join(f"{text} : {value}" for text, value in WINDOWS))
        .multi(False)
        .include_all(False)
        .current(model.VariableOption(selected=True, text=label, value=DEFAULT_WINDOW))
    )


# --- work per norm ---------------------------------------------------------------------------


def _per_norm_stat(title: str, description: str, metric: str, runbook: str) -> StatPanel:
    panel = stat(
        title,
        f"{description} Met het verloop over de gekozen periode. {COUNT_STEPS_TEXT}",
        unit="none",
        queries=[query(f"sum by (norm) ({sel(metric, MUNICIPALITY)})", "{{norm}}")],
        steps=COUNT_STEPS,
        width=12,
        height=8,
        graph=True,
        decimals=0,
    )
    return panel.mappings(zero_text("geen")).links([runbook_link("Runbook", runbook)])


def overdue_per_norm() -> StatPanel:
    """Overdue items per norm now, with a sparkline."""
    return _per_norm_stat(
        "Over termijn per norm",
        "Items die nog wachten op de stap van de norm terwijl de termijn verstreken is.",
        "contact_norm_overdue_items",
        f"{BACKLOG_RUNBOOK}#contactmonnormoverdueitemspilingup",
    )


def at_risk_per_norm() -> StatPanel:
    """Items whose deadline falls within one working day, per norm, with a sparkline."""
    return _per_norm_stat(
        "Dreigt te laat per norm (binnen 1 werkdag)",
        "Items die nog wachten en waarvan de termijn binnen één werkdag verstrijkt.",
        "contact_norm_at_risk_items",
        f"{BACKLOG_RUNBOOK}#contactmonnormitemsatrisk",
    )


def open_items_per_kind() -> TimeseriesPanel:
    """Open items per kind over time."""
    panel = timeseries(
        "Open items per soort — verloop",
        "Openstaande items per soort (filter: Soort item).",
        unit="none",
        axis_label="open items",
        queries=[
            query(f"sum by (kind) ({sel('contact_items_open', MUNICIPALITY, KIND)})", "{{kind}}")
        ],
    )
    return colour_series(panel, [k.value for k in Kind])


def reopened_per_kind() -> TimeseriesPanel:
    """Items reopened per day, per kind."""
    expr = (
        f"sum by (kind) (increase({sel('contact_items_reopened_total', MUNICIPALITY, KIND)}[1d]))"
    )
    panel = timeseries(
        "Heropend per soort (per dag)",
        "Items die na sluiten opnieuw geopend zijn, per soort, over de laatste 24 uur op elk "
        "moment. Een heropend item houdt zijn eerdere normuitkomsten.",
        unit="none",
        axis_label="heropend per dag",
        queries=[query(expr, "{{kind}}")],
    )
    return colour_series(panel, [k.value for k in Kind])


# --- compliance against the target ------------------------------------------------------------


def _compliance(stage_title: str, stage: str, description: str) -> TimeseriesPanel:
    ids = norm_ids(stage)
    norm_matcher = f'norm=~"{"|".join(ids)}"'
    panel = timeseries(
        f"{stage_title}: naleving tegen doel",
        f"{description} Aandeel gehaald van de besloten items over het gekozen venster, naar "
        "beslismoment; de gestippelde lijn '(doel)' is het doel van de norm. Normen: "
        + "; ".join(f"{n.id} — {n.description}" for n in norms() if n.stage == stage)
        + ".",
        unit="percentunit",
        axis_label="gehaald binnen termijn",
        queries=[
            query(
                sel(
                    "contact_norm_compliance_ratio",
                    MUNICIPALITY,
                    WINDOW,
                    norm_matcher,
                    ALL_SEGMENTS,
                ),
                "{{norm}}",
            ),
            query(sel("contact_norm_target_ratio", MUNICIPALITY, norm_matcher), "{{norm}} (doel)"),
        ],
        max_value=1,
    )
    panel = dashed_targets(colour_series(panel, ids))
    return panel.links([runbook_link("Runbook", BURN_RATE_RUNBOOK)])


def response_compliance() -> TimeseriesPanel:
    """Response norms (first reaction) over time against their targets."""
    return _compliance("Reactietermijnen", "response", "Eerste reactie aan de persoon.")


def resolution_compliance() -> TimeseriesPanel:
    """Resolution norms (closed) over time against their targets."""
    return _compliance("Afhandeltermijnen", "resolution", "Item afgehandeld (gesloten).")


def outcomes_per_day() -> TimeseriesPanel:
    """Norm decisions per day: met and breached, all norms together."""

    def per_day(outcome: str) -> str:
        selector = sel("contact_norm_outcomes_total", MUNICIPALITY, f'outcome="{outcome}"')
        return f"sum(increase({selector}[1d]))"

    panel = timeseries(
        "Besluiten per dag: op tijd, te laat en zeer laat (alle normen)",
        "Hoeveel items per 24 uur hun norm haalden ('op tijd') en hoeveel niet ('te laat'); "
        "'zeer laat' is het deel van 'te laat' dat pas na meer dan drie keer de normtermijn "
        "klaar was (of nog wacht).",
        unit="none",
        axis_label="besluiten per dag",
        queries=[
            query(per_day("met"), "op tijd"),
            query(per_day("breached"), "te laat"),
            query(per_day("very_late"), "zeer laat"),
        ],
        width=24,
    )
    for name, colour in (
        ("op tijd", STATUS_OK),
        ("te laat", STATUS_BAD),
        ("zeer laat", STATUS_WARN),
    ):
        panel = panel.override_by_name(
            name,
            [
                model.DynamicConfigValue(
                    id_val="color", value={"mode": "fixed", "fixedColor": colour}
                )
            ],
        )
    for name, style in (
        ("te laat", {"fill": "dash", "dash": [10, 10]}),
        ("zeer laat", {"fill": "dot"}),  # told apart by line style too, not by colour alone
    ):
        panel = panel.override_by_name(
            name, [model.DynamicConfigValue(id_val="custom.lineStyle", value=style)]
        )
    return panel


# --- handling durations -----------------------------------------------------------------------


def _durations(title: str, stage: str, description: str) -> TimeseriesPanel:
    def quantile(q: str) -> str:
        selector = sel(
            "contact_handling_duration_seconds",
            MUNICIPALITY,
            KIND,
            f'stage="{stage}"',
            WINDOW,
            f'quantile="{q}"',
        )
        return f"max by (kind) ({selector})"

    panel = timeseries(
        title,
        f"{description} Mediaan (doorgetrokken) en 90e percentiel (gestippeld, '90 %') per "
        "soort over het gekozen venster, in verstreken kalendertijd (uren, dagen). De "
        "maandexport geeft de doorlooptijd in werkdagen.",
        unit="s",
        axis_label="doorlooptijd",
        queries=[
            query(quantile("0.5"), "{{kind}} mediaan"),
            query(quantile("0.9"), "{{kind}} 90 %"),
        ],
    )
    panel = colour_series(panel, [k.value for k in Kind])
    return panel.override_by_regexp(
        ".* 90 %$",
        [
            model.DynamicConfigValue(
                id_val="custom.lineStyle", value={"fill": "dot", "dash": [2, 6]}
            )
        ],
    )


def response_durations() -> TimeseriesPanel:
    """Time from opening to the first reaction, p50 and p90, per kind."""
    return _durations(
        "Tijd tot eerste reactie (mediaan en 90 %)",
        "response",
        "Tijd van openen tot de eerste reactie aan de persoon.",
    )


def resolution_durations() -> TimeseriesPanel:
    """Time from opening to closing, p50 and p90, per kind."""
    return _durations(
        "Tijd tot afhandeling (mediaan en 90 %)",
        "resolution",
        "Tijd van openen tot afhandelen (sluiten).",
    )


def durations_table() -> TablePanel:
    """Current p50 and p90 per kind and stage, in days and hours."""

    def quantile(q: str) -> str:
        selector = sel(
            "contact_handling_duration_seconds", MUNICIPALITY, KIND, WINDOW, f'quantile="{q}"'
        )
        return f"max by (kind, stage) ({selector})"

    rename = {
        "kind": "Soort",
        "stage": "Stap",
        "Value #A": "Mediaan",
        "Value #B": "90 % binnen",
    }
    panel = table(
        "Doorlooptijden nu per soort en stap",
        "Mediaan en 90e percentiel van de doorlooptijd over het gekozen venster, in dagen en "
        "uren verstreken tijd. Leeg: in dat venster nog geen item die stap bereikt.",
        queries=[
            query(quantile("0.5"), instant=True, table_format=True),
            query(quantile("0.9"), instant=True, table_format=True),
        ],
        height=9,
    )
    panel = (
        panel.with_transformation(merge())
        .with_transformation(organize(rename))
        .sort_by([sort_by_column("90 % binnen", descending=True)])
    )
    for name in ("Mediaan", "90 % binnen"):
        panel = panel.override_by_name(name, column("dtdurations"))
    stages = model.ValueMap(
        options={
            "response": model.ValueMappingResult(text="eerste reactie", index=0),
            "resolution": model.ValueMappingResult(text="afhandeling", index=1),
        }
    )
    return panel.override_by_name("Stap", column(None, mapping_property([stages])))


# --- calls ------------------------------------------------------------------------------------


def calls_waiting() -> TimeseriesPanel:
    """Calls waiting per channel over time."""
    panel = timeseries(
        "Wachtende gesprekken per kanaal",
        "Gesprekken in een wachtrij (telefoon, chat, balie), nog niet opgenomen of opgehangen.",
        unit="none",
        axis_label="wachtende gesprekken",
        queries=[
            query(
                f"sum by (channel) ({sel('contact_calls_waiting', MUNICIPALITY, CHANNEL)})",
                "{{channel}}",
            )
        ],
        width=8,
    )
    return colour_series(panel, [c.value for c in Channel])


def calls_per_hour() -> TimeseriesPanel:
    """Calls answered and abandoned per hour, per channel."""

    def per_hour(outcome: str) -> str:
        selector = sel("contact_calls_total", MUNICIPALITY, CHANNEL, f'outcome="{outcome}"')
        return f"sum by (channel) (increase({selector}[1h]))"

    panel = timeseries(
        "Opgenomen en opgehangen per uur",
        "Gesprekken per uur per kanaal: 'opgenomen' (doorgetrokken) en 'opgehangen' in de "
        "wachtrij (gestippeld).",
        unit="none",
        axis_label="gesprekken per uur",
        queries=[
            query(per_hour("answered"), "{{channel}} opgenomen"),
            query(per_hour("abandoned"), "{{channel}} opgehangen"),
        ],
        width=8,
    )
    panel = colour_series(panel, [c.value for c in Channel])
    return panel.override_by_regexp(
        ".* opgehangen$",
        [
            model.DynamicConfigValue(
                id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}
            )
        ],
    )


def phone_service_level() -> TimeseriesPanel:
    """Phone answered within the norm over the chosen window, with the target line."""
    info = norm(PHONE_NORM)
    norm_matcher = f'norm="{PHONE_NORM}"'
    panel = timeseries(
        "Telefonische servicegraad tegen doel",
        f"{info.description} (norm {PHONE_NORM}): aandeel van de besloten gesprekken over het "
        "gekozen venster; de gestippelde lijn '(doel)' is het doel. Opgehangen vóór de termijn "
        "telt niet mee, opgehangen erna als te laat.",
        unit="percentunit",
        axis_label="opgenomen binnen norm",
        queries=[
            query(
                sel(
                    "contact_norm_compliance_ratio",
                    MUNICIPALITY,
                    WINDOW,
                    norm_matcher,
                    ALL_SEGMENTS,
                ),
                "{{norm}}",
            ),
            query(sel("contact_norm_target_ratio", MUNICIPALITY, norm_matcher), "{{norm}} (doel)"),
        ],
        width=8,
        max_value=1,
    )
    return dashed_targets(colour_series(panel, [PHONE_NORM]))


# --- satisfaction -----------------------------------------------------------------------------


def satisfaction_trend() -> TimeseriesPanel:
    """Mean score per channel over the chosen window, with the pass mark as a dashed line."""
    panel = timeseries(
        "Tevredenheid per kanaal — verloop",
        "Gemiddeld cijfer (1–10) per kanaal over het gekozen venster. De gestippelde drempel "
        "ligt op 5,5: daaronder is het cijfer onvoldoende.",
        unit="none",
        axis_label="gemiddeld cijfer (1–10)",
        queries=[
            query(sel("contact_satisfaction_score", MUNICIPALITY, CHANNEL, WINDOW), "{{channel}}")
        ],
        min_value=1,
        max_value=10,
    )
    panel = panel.thresholds(thresholds([(None, NEUTRAL), (5.5, NEUTRAL)])).thresholds_style(
        GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.DASHED)
    )
    return colour_series(panel, [c.value for c in Channel])


def satisfaction_now() -> StatPanel:
    """Mean score per channel now, lowest first."""
    return stat(
        "Tevredenheid per kanaal nu — laagste eerst",
        "Gemiddeld cijfer (1–10) per kanaal over het gekozen venster. Onder 5,5 (onvoldoende) "
        "rood, vanaf 7 blauw. Geen gegevens: geen reacties in dat venster.",
        unit="none",
        queries=[
            query(
                f"sort({sel('contact_satisfaction_score', MUNICIPALITY, CHANNEL, WINDOW)})",
                "{{channel}}",
                instant=True,
            )
        ],
        steps=SATISFACTION_STEPS,
        width=12,
        height=10,
        decimals=1,
    )


# --- segments ---------------------------------------------------------------------------------


def compliance_per_segment() -> TablePanel:
    """Compliance per norm and segment over the chosen window: are entrepreneurs served as fast?"""
    expr = (
        "max by (norm, segment) "
        f"({sel('contact_norm_compliance_ratio', MUNICIPALITY, WINDOW, SOME_SEGMENT)})"
    )
    panel = table(
        "Naleving per segment (gekozen venster)",
        "Aandeel gehaald per norm voor inwoners, ondernemers, maatschappelijke partners en "
        "onbekend, over het gekozen venster. Ontbreekt een segment, dan viel daar nog niets te "
        "besluiten.",
        queries=[query(expr, instant=True, table_format=True)],
        unit="percentunit",
        width=12,
        height=10,
    )
    rename = {"norm": "Norm", "segment": "Segment", "Value #A": "Gehaald"}
    return (
        panel.with_transformation(merge())
        .with_transformation(organize(rename))
        .sort_by([sort_by_column("Gehaald", descending=False)])
    )


def overdue_per_segment() -> StatPanel:
    """Items over their deadline now, per segment (all norms together)."""
    return stat(
        "Over termijn per segment",
        f"Items die nog wachten terwijl de termijn verstreken is, per segment. {COUNT_STEPS_TEXT}",
        unit="none",
        queries=[
            query(
                f"sum by (segment) ({sel('contact_norm_overdue_items', MUNICIPALITY)})",
                "{{segment}}",
            )
        ],
        steps=COUNT_STEPS,
        width=12,
        height=10,
        decimals=0,
    ).mappings(zero_text("geen"))


def late_per_segment() -> TablePanel:
    """Decisions per segment over 30 days: on time, late, very late."""
    return _late_table(
        "segment",
        "Segment",
        "Te laat per segment (30 dagen)",
        "Per segment: het aandeel op tijd, en hoeveel items te laat en zeer laat (meer dan drie "
        "keer de normtermijn) waren, over alle normen samen in de laatste 30 dagen.",
    )


# --- categories -------------------------------------------------------------------------------


def overdue_per_category() -> TablePanel:
    """Items over their deadline now, per category (all norms together), most first."""
    expr = f"sum by (category) ({sel('contact_norm_overdue_items', MUNICIPALITY)})"
    panel = table(
        "Over termijn per categorie",
        "Items die nog wachten terwijl de termijn verstreken is, per categorie (de tien "
        "grootste categorieën van de gemeente; de rest telt als overig). Een categorie houdt "
        "haar eigen regel als ze die eenmaal heeft.",
        queries=[query(expr, instant=True, table_format=True)],
        width=12,
        height=10,
    )
    rename = {"category": "Categorie", "Value #A": "Over termijn"}
    return (
        panel.with_transformation(organize(rename))
        .sort_by([sort_by_column("Over termijn", descending=True)])
        .override_by_name("Over termijn", column("none", decimals=0))
    )


def late_per_category() -> TablePanel:
    """Decisions per category over 30 days: on time, late, very late."""
    return _late_table(
        "category",
        "Categorie",
        "Te laat per categorie (30 dagen)",
        "Per categorie (de tien grootste, de rest overig): het aandeel op tijd, en hoeveel items "
        "te laat en zeer laat (meer dan drie keer de normtermijn) waren, over alle normen samen "
        "in de laatste 30 dagen.",
    )


def _late_table(label: str, title: str, panel_title: str, description: str) -> TablePanel:
    def increase(outcome: str) -> str:
        selector = sel("contact_norm_outcomes_total", MUNICIPALITY, f'outcome=~"{outcome}"')
        return f"sum by ({label}) (increase({selector}[30d]))"

    share = f"{increase('met')} / {increase('met|breached')}"
    panel = table(
        panel_title,
        description,
        queries=[
            query(share, instant=True, table_format=True),
            query(increase("breached"), instant=True, table_format=True),
            query(increase("very_late"), instant=True, table_format=True),
        ],
        width=12,
        height=10,
    )
    rename = {
        label: title,
        "Value #A": "Op tijd",
        "Value #B": "Te laat",
        "Value #C": "Zeer laat",
    }
    panel = (
        panel.with_transformation(merge())
        .with_transformation(organize(rename))
        .sort_by([sort_by_column("Te laat", descending=True)])
        .override_by_name("Op tijd", column("percentunit", decimals=1))
    )
    for name in ("Te laat", "Zeer laat"):
        panel = panel.override_by_name(name, column("none", decimals=0))
    return panel


HEADROOM_STEPS = ((None, STATUS_BAD), (0, STATUS_WARN), (3, STATUS_OK))


def month_headroom() -> StatPanel:
    """How many more items of this month's cohort may still be late, per norm."""
    return stat(
        "Ruimte deze maand: mag nog te laat",
        "Hoeveel items die deze maand binnenkwamen nog te laat mogen zijn voordat de maand onder "
        "het doel eindigt. Negatief (rood): de maand haalt het doel niet meer; 0–2 oranje.",
        unit="none",
        queries=[
            query(
                f"max by (norm) ({sel('contact_norm_month_headroom_items', MUNICIPALITY)})",
                "{{norm}}",
            )
        ],
        steps=HEADROOM_STEPS,
        width=12,
        height=8,
        decimals=0,
    )


def month_projection() -> TimeseriesPanel:
    """Where this month ends: best case (every open item on time) and worst case (all late)."""
    expr = f"max by (norm, bound) ({sel('contact_norm_month_projection_ratio', MUNICIPALITY)})"
    return timeseries(
        "Maandprognose: beste en slechtste uitkomst",
        "Aandeel op tijd van de items die deze maand binnenkwamen, als elk nog open item op tijd "
        "('best') of te laat ('worst') wordt afgehandeld. Ligt 'worst' boven het doel, dan is de "
        "maand binnen; ligt 'best' eronder, dan niet meer.",
        unit="percentunit",
        axis_label="aandeel op tijd",
        queries=[query(expr, "{{norm}} {{bound}}")],
        max_value=1,
        width=12,
        height=8,
    )


def dashboard() -> Dashboard:
    """The Gemeente dashboard."""
    board = (
        new_dashboard(UID, TITLE, DESCRIPTION)
        .with_variable(municipality_variable())
        .with_variable(kind_variable())
        .with_variable(channel_variable())
        .with_variable(window_variable())
    )
    return assemble(
        board,
        [
            ("Werkvoorraad per norm", [overdue_per_norm(), at_risk_per_norm()]),
            ("Open en heropend", [open_items_per_kind(), reopened_per_kind()]),
            (
                "Naleving tegen doel",
                [
                    norm_table(MUNICIPALITY, "Normen nu: naleving tegen doel", height=10),
                    response_compliance(),
                    resolution_compliance(),
                    outcomes_per_day(),
                ],
            ),
            (
                "Doorlooptijden",
                [response_durations(), resolution_durations(), durations_table()],
            ),
            ("Telefoon, chat en balie", [calls_waiting(), calls_per_hour(), phone_service_level()]),
            ("Tevredenheid", [satisfaction_trend(), satisfaction_now()]),
            (
                "Segmenten",
                [compliance_per_segment(), overdue_per_segment(), late_per_segment()],
            ),
            ("Categorieën", [overdue_per_category(), late_per_category()]),
            ("Deze maand", [month_headroom(), month_projection()]),
        ],
    )
