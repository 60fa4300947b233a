"""Test-only fault injection: make applying an event raise, to test what a poison event does.

``CONTACTMON_TEST_FAULT_SUBJECT=<prefix>`` (read by ``contactmon worker``; never set it in
production) makes the worker's shards raise `InjectedFault` when they apply an event whose subject
starts with the prefix. The core turns any exception while applying one event into an
``internal_error`` rejection and leaves the shard as it was, so the event goes to the dead-letter
topic (header ``exception: InjectedFault``) and the partition goes on: what the integration tests
check (tests/integration/test_worker_faults.py). The variable is logged as a warning when set.
"""

from __future__ import annotations

from events.decode import Event
from streams.core.config import MonitorConfig
from streams.core.monitor import Monitor
from streams.core.parts import ShardParts
from streams.core.shard import Shard

FAULT_VARIABLE = "CONTACTMON_TEST_FAULT_SUBJECT"


class InjectedFault(RuntimeError):
    """Raised on purpose, by a test's request, while an event is applied."""


class _FaultyShard(Shard):
    fault_prefix = ""

    def apply(self, ev: Event, key: bytes) -> str:
        if self.fault_prefix and (ev.subject or "").startswith(self.fault_prefix):
            raise InjectedFault("an injected fault (CONTACTMON_TEST_FAULT_SUBJECT)")
        return super().apply(ev, key)


class FaultInjectingMonitor(Monitor):
    """A `Monitor` whose shards raise `InjectedFault` on subjects starting with ``prefix``."""

    def __init__(self, config: MonitorConfig, prefix: str, **kwargs: object) -> None:
        self._prefix = prefix
        super().__init__(config, **kwargs)  # type: ignore[arg-type]

    def _new_shard(self, slug: str, parts: ShardParts | None = None) -> Shard:
        shard = _FaultyShard(
            slug,
            self.config.norms_by_municipality[slug],
            self.config.calendar,
            lateness=self.lateness,
            track_changes=self.track_changes,
            dedupe_horizon=self.dedupe_horizon,
            max_held=self.max_held,
            parts=parts,
        )
        shard.fault_prefix = self._prefix
        return shard
