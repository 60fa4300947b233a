"""The ingest service's own metrics (its /metrics; the worker's contract metrics are elsewhere).

- ``contact_ingest_requests_total{route, outcome}``: requests by route and what became of them:
  ``accepted`` (at least one event produced), ``dead_lettered`` (only dead letters),
  ``ignored`` (nothing the monitor follows), ``unauthorized`` (401), ``too_large`` (413),
  ``unavailable`` (503: the broker did not acknowledge in time; the sender retries).
- ``contact_ingest_events_total{municipality}``: events produced (acknowledged).
- ``contact_ingest_dead_letters_total{reason}``: dead letters produced (acknowledged).
- ``contact_ingest_produce_seconds``: from handing a request's records to the producer until the
  broker acknowledged the last one.
- ``contact_ingest_fetch_failures_total``: fetch attempts that failed and were retried.
- ``contact_ingest_broker_connected``: 1 while the producer is connected and the broker answers,
  0 before the first connection and while it does not (requests are answered 503 then).

Labels carry no subject, URL or free text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

ROUTES = ("/cloudevents", "/notificaties")
OUTCOMES = ("accepted", "dead_lettered", "ignored", "unauthorized", "too_large", "unavailable")


class _Live(Collector):
    """What is read when /metrics is scraped: failed fetches, the broker's state."""

    def __init__(self, fetch_failures: Callable[[], int], connected: Callable[[], bool]) -> None:
        self._fetch_failures = fetch_failures
        self._connected = connected

    def collect(self) -> Iterable[CounterMetricFamily | GaugeMetricFamily]:
        yield CounterMetricFamily(
            "contact_ingest_fetch_failures",
            "Fetch attempts of source resources that failed and were retried.",
            value=self._fetch_failures(),
        )
        yield GaugeMetricFamily(
            "contact_ingest_broker_connected",
            "1 when the service reaches the Kafka brokers (requests are accepted), 0 while not.",
            value=1 if self._connected() else 0,
        )


class IngestMetrics:
    """The counters and the histogram, in a registry of their own."""

    def __init__(
        self,
        fetch_failures: Callable[[], int] = lambda: 0,
        broker_connected: Callable[[], bool] = lambda: True,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "contact_ingest_requests",
            "Requests by route and outcome.",
            ["route", "outcome"],
            registry=self.registry,
        )
        for route in ROUTES:
            for outcome in OUTCOMES:
                self.requests.labels(route, outcome)
        self.events = Counter(
            "contact_ingest_events",
            "Events produced to the events topic (acknowledged), by municipality.",
            ["municipality"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "contact_ingest_dead_letters",
            "Dead letters produced (acknowledged), by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.produce_seconds = Histogram(
            "contact_ingest_produce_seconds",
            "Seconds from handing a request's records to the producer to the last acknowledgement.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.registry.register(_Live(fetch_failures, broker_connected))

    def render(self) -> bytes:
        return generate_latest(self.registry)
