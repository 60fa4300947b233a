"""The prometheus_client side of the metrics: a custom collector over the core's families.

The collector reads the core's state at scrape time (``streams.core.metrics.collect``); nothing is
incremented per event. The live worker registers it with the shards it owns; ``contactmon replay
--metrics-file`` renders it once into a text file with the same bytes a scrape would return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from streams.core.metrics import collect
from streams.core.monitor import Monitor
from streams.core.shard import Shard


class CoreCollector(Collector):
    """Exposes the contract's metrics for the shards returned by ``owned`` at each scrape."""

    def __init__(
        self,
        owned: Callable[[], Iterable[Shard]],
        rejected: Callable[[], Mapping[str, int]],
        now: Callable[[], float | None] = lambda: None,
    ) -> None:
        self._owned = owned
        self._rejected = rejected
        self._now = now

    def collect(self) -> Iterator[Metric]:
        for fam in collect(self._owned(), self._rejected(), self._now()):
            metric: CounterMetricFamily | GaugeMetricFamily
            if fam.type == "counter":
                metric = CounterMetricFamily(fam.name, fam.help, labels=fam.labels)
            else:
                metric = GaugeMetricFamily(fam.name, fam.help, labels=fam.labels)
            for values, value in fam.samples:
                metric.add_metric(list(values), value)
            yield metric


def monitor_registry(
    monitor: Monitor, now: Callable[[], float | None] = lambda: None
) -> CollectorRegistry:
    """A fresh registry exposing every shard of ``monitor`` (replay; a single worker)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CoreCollector(monitor.shards.values, lambda: monitor.rejected, now))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition format, exactly as /metrics serves it."""
    return generate_latest(registry)
