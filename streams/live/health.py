"""The worker's own health on /metrics: partitions, progress, delay, lag, checkpoints, outages.

Per owned partition (labels carry partition numbers, never subjects). Together with
``contact_last_event_timestamp_seconds`` these let an alert see a blind monitor: a worker that owns
nothing, a lag that grows, a delay that grows, checkpoints that stop, a broker or store it cannot
reach.

While the worker cannot show that it still owns its partitions (its consumer group membership
was not confirmed within the session timeout: the broker is unreachable, or the process was
paused), it exports none of them: ``contact_worker_partitions_owned`` is 0 and the per-partition
series are absent, like the contract's series of those municipalities (another worker may own
them by now). The consumer lag is absent, not 0, whenever the broker is unreachable: it is not
known then.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from streams.live.runtime import LiveRuntime

STORE_ERROR_KINDS = ("stale", "transient")
"""``stale``: a checkpoint refused because another worker owns the partition now (the partition
is dropped); ``transient``: the store could not be reached or written (retried with backoff)."""


def _always() -> bool:
    return True


@dataclass
class WorkerHealth:
    """What the driver knows beyond the runtime: the broker, the store, what it may export."""

    broker_connected: Callable[[], bool] = _always
    exporting: Callable[[], bool] = _always  # membership confirmed within the session timeout
    broker_errors: Callable[[], int] = lambda: 0
    pending_messages: Callable[[], int] = lambda: 0  # dead letters and forwards not acknowledged
    store_errors: Counter[str] = field(default_factory=Counter)


class HealthCollector(Collector):
    """Pipeline metrics of a :class:`LiveRuntime`; ``lag(partition)`` comes from the consumer."""

    def __init__(
        self,
        runtime: LiveRuntime,
        lag: Callable[[int], int | None],
        health: WorkerHealth | None = None,
    ) -> None:
        self._runtime = runtime
        self._lag = lag
        self._health = health or WorkerHealth()

    def collect(self) -> Iterator[Metric]:
        rt = self._runtime
        health = self._health
        exporting = health.exporting()
        connected = health.broker_connected()
        owned = GaugeMetricFamily(
            "contact_worker_partitions_owned",
            "Partitions of contact.events this worker owns and exports (0 while it cannot "
            "confirm its group membership).",
        )
        owned.add_metric([], len(rt.owned) if exporting else 0)
        yield owned
        broker = GaugeMetricFamily(
            "contact_worker_broker_connected",
            "1 when the worker reaches the Kafka brokers, 0 while it cannot.",
        )
        broker.add_metric([], 1 if connected else 0)
        yield broker
        broker_errors = CounterMetricFamily(
            "contact_worker_broker_errors",
            "Failed requests to the Kafka brokers (connections, fetches, commits, sends).",
        )
        broker_errors.add_metric([], health.broker_errors())
        yield broker_errors
        store_errors = CounterMetricFamily(
            "contact_worker_store_errors",
            "Checkpoint and claim failures: stale (another worker owns the partition now; it is "
            "dropped) or transient (the store could not be reached or written; retried).",
            labels=["kind"],
        )
        for kind in STORE_ERROR_KINDS:
            store_errors.add_metric([kind], health.store_errors.get(kind, 0))
        yield store_errors
        pending = GaugeMetricFamily(
            "contact_worker_outbox_pending",
            "Dead letters and forwarded events not yet acknowledged by the broker.",
        )
        pending.add_metric([], health.pending_messages())
        yield pending
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
        forwarded = CounterMetricFamily(
            "contact_worker_events_forwarded",
            "Events of another municipality's partition, produced again on their own partition.",
            labels=["partition"],
        )
        lost = CounterMetricFamily(
            "contact_worker_offsets_lost",
            "Offsets deleted by retention before this partition's state read them.",
            labels=["partition"],
        )
        delay = GaugeMetricFamily(
            "contact_worker_processing_delay_seconds",
            "Wall clock minus event time of the last applied event.",
            labels=["partition"],
        )
        lag = GaugeMetricFamily(
            "contact_worker_consumer_lag",
            "Messages in the partition not yet processed (absent while the broker is unreachable).",
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
        for p in sorted(rt.owned) if exporting else []:
            stats = rt.owned[p]
            label = [str(p)]
            processed.add_metric(label, stats.processed)
            skipped.add_metric(label, stats.skipped)
            forwarded.add_metric(label, getattr(stats, "forwarded", 0))
            lost.add_metric(label, getattr(stats, "lost", 0))
            next_offset.add_metric(label, rt.next_offset.get(p, 0))
            if stats.last_delay is not None:
                delay.add_metric(label, stats.last_delay)
            behind = self._lag(p) if connected else None
            if behind is not None:
                lag.add_metric(label, behind)
            if stats.last_checkpoint_at is not None:
                checkpoint.add_metric(label, stats.last_checkpoint_at)
        yield from (processed, skipped, forwarded, lost, delay, lag, checkpoint, next_offset)
