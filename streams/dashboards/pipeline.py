"""Dashboard "Monitor" (``monitor.json``): is the monitor itself healthy? For whoever runs it.

Events coming in per type and municipality, rejected events (the dead-letter topic) by reason,
duplicates, the worker's processing delay and consumer lag per partition, the age of the newest
event per municipality, which worker targets Prometheus can scrape, and how the partitions are
spread over the workers. A blind monitor looks calm on the business dashboards; this one shows it.

The module is named ``pipeline``, after what it watches, so that it is not mistaken for the core's
``streams.core.monitor``.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard, QueryVariable
from grafana_foundation_sdk.builders.stat import Panel as StatPanel
from grafana_foundation_sdk.builders.table import Panel as TablePanel
from grafana_foundation_sdk.builders.timeseries import Panel as TimeseriesPanel
from grafana_foundation_sdk.models import dashboard as model

from streams.dashboards.common import (
    COLOUR_TEXT,
    DATASOURCE,
    MUNICIPALITY_COLOURS,
    NEUTRAL,
    STATUS_BAD,
    STATUS_OK,
    STATUS_WARN,
    assemble,
    colour_series,
    column,
    mapping_property,
    merge,
    new_dashboard,
    organize,
    query,
    runbook_link,
    sel,
    sort_by_column,
    stat,
    status_mapping,
    table,
    threshold_property,
    timeseries,
    zero_text,
)

UID = "contactmon-monitor"
TITLE = "Contactmonitor — Monitor"
DESCRIPTION = (
    "De gezondheid van de contactmonitor zelf: binnenkomende events, afgewezen events (DLQ), "
    "verwerkingsvertraging, consumer lag, het laatste event per gemeente, bereikbare workers en "
    "de verdeling van de partities. Een blinde monitor ziet er op de andere dashboards rustig uit."
)

WORKER_JOB = "contactmon-worker"
UP = f'up{{job="{WORKER_JOB}"}}'
MUNICIPALITIES = 'municipality=~"$municipality"'

BLIND_RUNBOOK = "monitor-blind.md"
PIPELINE_RUNBOOK = "pipeline-health.md"


def municipality_variable() -> QueryVariable:
    """One or more municipalities (all by default)."""
    return (
        QueryVariable("municipality")
        .label("Gemeente")
        .description("Filtert de panelen met het label municipality.")
        .datasource(DATASOURCE)
        .query("label_values(contact_events_total, municipality)")
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
    )


# --- events in --------------------------------------------------------------------------------


def events_per_type() -> TimeseriesPanel:
    """Accepted events per second, per event type."""
    expr = f"sum by (type) (rate({sel('contact_events_total', MUNICIPALITIES)}[5m]))"
    return timeseries(
        "Binnenkomende events per type",
        "Geaccepteerde events per seconde (geen duplicaten, niet afgewezen), per type, over 5 "
        "minuten. Buiten kantooruren is weinig verkeer normaal.",
        unit="suffix: events/s",
        axis_label="events per seconde",
        queries=[query(expr, "{{type}}")],
    )


def events_per_municipality() -> TimeseriesPanel:
    """Accepted events per second, per municipality."""
    expr = f"sum by (municipality) (rate({sel('contact_events_total', MUNICIPALITIES)}[5m]))"
    panel = timeseries(
        "Binnenkomende events per gemeente",
        "Geaccepteerde events per seconde per gemeente, over 5 minuten.",
        unit="suffix: events/s",
        axis_label="events per seconde",
        queries=[query(expr, "{{municipality}}")],
    )
    return colour_series(panel, MUNICIPALITY_COLOURS)


def rejected_per_reason() -> TimeseriesPanel:
    """Rejected events (to the dead-letter topic) per second, per reason."""
    return timeseries(
        "Afgewezen events (DLQ) per reden",
        "Events die naar contact.events.dlq gingen, per seconde per reden (not_json, "
        "missing_field, unknown_subject, …), over 5 minuten. Elke worker telt de zijne.",
        unit="suffix: events/s",
        axis_label="afgewezen per seconde",
        queries=[query("sum by (reason) (rate(contact_events_rejected_total[5m]))", "{{reason}}")],
    ).links([runbook_link("Runbook", f"{PIPELINE_RUNBOOK}#contactmondeadlettersrising")])


def rejected_last_day() -> StatPanel:
    """Rejected events over the last 24 hours per reason, most first."""
    return stat(
        "Afgewezen in de laatste 24 uur per reden",
        "Aantal afgewezen events per reden over 24 uur, meeste eerst. 0 is 'geen'; vanaf 1 "
        "oranje, vanaf 100 rood. Details per event: de DLQ-topic (headers reason, field, detail).",
        unit="none",
        queries=[
            query(
                "sort_desc(sum by (reason) (increase(contact_events_rejected_total[1d])))",
                "{{reason}}",
                instant=True,
            )
        ],
        steps=[(None, STATUS_OK), (1, STATUS_WARN), (100, STATUS_BAD)],
        width=12,
        decimals=0,
    ).mappings(zero_text("geen"))


def duplicates() -> TimeseriesPanel:
    """Duplicate events (same source and id) per second, per municipality."""
    expr = (
        f"sum by (municipality) (rate({sel('contact_events_duplicate_total', MUNICIPALITIES)}[5m]))"
    )
    panel = timeseries(
        "Dubbele events per gemeente",
        "Events met een source en id die al eerder binnenkwamen: ze veranderen niets. Een "
        "plotselinge stijging wijst op een bronsysteem dat opnieuw verstuurt.",
        unit="suffix: events/s",
        axis_label="duplicaten per seconde",
        queries=[query(expr, "{{municipality}}")],
    )
    return colour_series(panel, MUNICIPALITY_COLOURS)


# --- freshness and pipeline -------------------------------------------------------------------


def last_event_age() -> StatPanel:
    """Age of the newest event per municipality (event time), oldest first."""
    expr = f"sort_desc(time() - {sel('contact_last_event_timestamp_seconds', MUNICIPALITIES)})"
    return stat(
        "Laatste event per gemeente (leeftijd)",
        "Hoe lang geleden het nieuwste event van de gemeente plaatsvond (eventtijd). Oudste "
        "eerst; vanaf 1 uur oranje, vanaf 4 uur rood. 's Nachts en in het weekend is een "
        "oudere waarde normaal. Geen waarde: geen worker exporteert deze gemeente.",
        unit="dtdurations",
        queries=[query(expr, "{{municipality}}", instant=True)],
        steps=[(None, STATUS_OK), (3600, STATUS_WARN), (4 * 3600, STATUS_BAD)],
        width=12,
    ).links([runbook_link("Runbook", f"{BLIND_RUNBOOK}#contactmonnoevents")])


def processing_delay() -> TimeseriesPanel:
    """Wall clock minus event time of the last applied event, per worker and partition."""
    return timeseries(
        "Verwerkingsvertraging per partitie",
        "Wandklok min eventtijd van het laatst verwerkte event, per worker en partitie. Loopt op "
        "bij een achterstand, en ook als een bron oude events nalevert.",
        unit="s",
        axis_label="vertraging",
        queries=[
            query(
                "max by (instance, partition) (contact_worker_processing_delay_seconds)",
                "{{instance}} p{{partition}}",
            )
        ],
    ).links([runbook_link("Runbook", f"{PIPELINE_RUNBOOK}#contactmonprocessingdelayhigh")])


def consumer_lag() -> TimeseriesPanel:
    """Messages in each partition not yet processed."""
    return timeseries(
        "Consumer lag per partitie",
        "Berichten in de partitie die de worker nog niet verwerkt heeft. Blijvend stijgend: de "
        "workers houden het niet bij.",
        unit="none",
        axis_label="berichten achter",
        queries=[
            query(
                "max by (instance, partition) (contact_worker_consumer_lag)",
                "{{instance}} p{{partition}}",
            )
        ],
    ).links([runbook_link("Runbook", f"{BLIND_RUNBOOK}#contactmonconsumerlaggrowing")])


def processed_rate() -> TimeseriesPanel:
    """Messages applied or rejected per second, per partition."""
    return timeseries(
        "Verwerkte berichten per partitie",
        "Berichten per seconde die de worker toepaste of afwees, per partitie, over 5 minuten.",
        unit="suffix: berichten/s",
        axis_label="berichten per seconde",
        queries=[
            query(
                "sum by (partition) (rate(contact_worker_events_processed_total[5m]))",
                "p{{partition}}",
            )
        ],
    )


def checkpoint_age() -> TimeseriesPanel:
    """Time since each partition's state was last written to the store."""
    return timeseries(
        "Leeftijd laatste checkpoint per partitie",
        "Hoe lang geleden de toestand van de partitie naar de store geschreven is. Hoort niet "
        "ver boven CONTACTMON_CHECKPOINT_INTERVAL uit te komen.",
        unit="s",
        axis_label="sinds checkpoint",
        queries=[
            query(
                "max by (instance, partition) "
                "(time() - contact_worker_last_checkpoint_timestamp_seconds)",
                "{{instance}} p{{partition}}",
            )
        ],
    ).links([runbook_link("Runbook", f"{PIPELINE_RUNBOOK}#contactmoncheckpointsstale")])


# --- workers ----------------------------------------------------------------------------------


def targets_up() -> StatPanel:
    """How many worker targets Prometheus scrapes successfully, out of how many."""
    return stat(
        "Worker-targets bereikbaar",
        "Aantal workers dat Prometheus kan uitlezen ('bereikbaar') en het totaal aantal "
        "bekende workers ('totaal').",
        unit="none",
        queries=[
            query(f"sum({UP})", "bereikbaar", instant=True),
            query(f"count({UP})", "totaal", instant=True),
        ],
        steps=[(None, NEUTRAL)],
        width=6,
        decimals=0,
    ).links([runbook_link("Runbook", f"{BLIND_RUNBOOK}#contactmonworkerdown")])


def targets_table() -> TablePanel:
    """Every worker target with its state in words and the partitions it owns."""
    rename = {
        "instance": "Worker",
        "Value #A": "Status",
        "Value #B": "Partities",
    }
    panel = table(
        "Workers: bereikbaar en partities",
        "Per worker: of Prometheus hem kan uitlezen ('bereikbaar' / 'niet bereikbaar') en "
        "hoeveel partities van contact.events hij bezit. Workers zonder partities staan stand-by.",
        queries=[
            query(f"max by (instance) ({UP})", instant=True, table_format=True),
            query(
                "max by (instance) (contact_worker_partitions_owned)",
                instant=True,
                table_format=True,
            ),
        ],
        width=10,
        height=8,
    )
    panel = (
        panel.with_transformation(merge())
        .with_transformation(organize(rename))
        .sort_by([sort_by_column("Status", descending=False)])
    )
    return panel.override_by_name(
        "Status",
        column(
            None, mapping_property(status_mapping("bereikbaar", "niet bereikbaar")), COLOUR_TEXT
        ),
    ).override_by_name(
        "Partities",
        column(
            "none",
            threshold_property([(None, NEUTRAL)]),
            decimals=0,
        ),
    )


def partitions_per_worker() -> TimeseriesPanel:
    """Partitions owned per worker over time (rebalances show as steps)."""
    return timeseries(
        "Partities per worker — verloop",
        "Partities van contact.events per worker. Een trap is een herverdeling (rebalance); "
        "opgeteld hoort het het aantal partities van de topic te zijn.",
        unit="none",
        axis_label="partities",
        queries=[
            query("max by (instance) (contact_worker_partitions_owned)", "{{instance}}"),
            query("sum(contact_worker_partitions_owned)", "totaal"),
        ],
        width=8,
    ).links([runbook_link("Runbook", f"{BLIND_RUNBOOK}#contactmonnopartitionsowned")])


def state_size() -> TimeseriesPanel:
    """Items and calls held in memory, and events waiting for their opening event."""
    return timeseries(
        "Toestand in geheugen",
        "Items en gesprekken die de workers in het geheugen houden, en events die wachten op "
        "het openingsevent van hun item (binnen de lateness-marge).",
        unit="none",
        axis_label="aantal",
        queries=[
            query(
                f"sum by (family) ({sel('contactmon_state_subjects', MUNICIPALITIES)})",
                "{{family}} in geheugen",
            ),
            query(f"sum({sel('contact_events_held', MUNICIPALITIES)})", "wacht op opening"),
        ],
        width=24,
    )


def dashboard() -> Dashboard:
    """The Monitor dashboard."""
    return assemble(
        new_dashboard(UID, TITLE, DESCRIPTION).with_variable(municipality_variable()),
        [
            ("Workers", [targets_up(), targets_table(), partitions_per_worker()]),
            ("Binnenkomend", [events_per_type(), events_per_municipality()]),
            ("Afgewezen en dubbel", [rejected_per_reason(), rejected_last_day(), duplicates()]),
            ("Actualiteit", [last_event_age(), processing_delay()]),
            ("Verwerking", [consumer_lag(), processed_rate(), checkpoint_age()]),
            ("Toestand", [state_size()]),
        ],
    )
