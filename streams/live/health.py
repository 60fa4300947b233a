"""The worker's own health on /metrics: partitions owned, progress, delay, lag, checkpoints.

Per owned partition (labels carry partition numbers, never subjects). Together with
``contact_last_event_timestamp_seconds`` these let an alert see a blind monitor: a worker that owns
nothing, a lag that grows, a delay that grows, checkpoints that stop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from streams.live.runtime import LiveRuntime


class HealthCollector(Collector):
    """Pipeline metrics of a :class:`LiveRuntime`; ``lag(partition)`` comes from the consumer."""

    def __init__(self, runtime: LiveRuntime, lag: Callable[[int], int | None]) -> None:
        self._runtime = runtime
        self._lag = lag

    def collect(self) -> Iterator[Metric]:
        rt = self._runtime
        owned = GaugeMetricFamily(
            "contact_worker_partitions_owned", "Partitions of contact.events this worker owns."
        )
        owned.add_metric([], len(rt.owned))
        yield owned
        processed = CounterMetricFamily(
            "contact_worker_events_processed",
            "Messages applied or rejected by this worker.",
            labels=["partition"],
        )
        skipped = CounterMetricFamily(
            "contact_worker_events_skipped",
            "Messages delivered again after a restart and skipped: already in the restored state.",
            labels=["partition"],
        )
        delay = GaugeMetricFamily(
            "contact_worker_processing_delay_seconds",
            "Wall clock minus event time of the last applied event.",
            labels=["partition"],
        )
        lag = GaugeMetricFamily(
            "contact_worker_consumer_lag",
            "Messages in the partition not yet processed.",
            labels=["partition"],
        )
        checkpoint = GaugeMetricFamily(
            "contact_worker_last_checkpoint_timestamp_seconds",
            "When the partition's state was last written to the store.",
            labels=["partition"],
        )
        next_offset = GaugeMetricFamily(
            "contact_worker_next_offset",
            "The next offset the worker will apply.",
            labels=["partition"],
        )
        for p in sorted(rt.owned):
            stats = rt.owned[p]
            label = [str(p)]
            processed.add_metric(label, stats.processed)
            skipped.add_metric(label, stats.skipped)
            next_offset.add_metric(label, rt.next_offset.get(p, 0))
            if stats.last_delay is not None:
                delay.add_metric(label, stats.last_delay)
            behind = self._lag(p)
            if behind is not None:
                lag.add_metric(label, behind)
            if stats.last_checkpoint_at is not None:
                checkpoint.add_metric(label, stats.last_checkpoint_at)
        yield from (processed, skipped, delay, lag, checkpoint, next_offset)
