"""Checkpoints of shard state: the live worker's way to survive a crash or a partition move.

A checkpoint is the complete state of the shards of one Kafka partition, serialized to bytes and
stored with the offset it reflects (see ``streams.live``). It holds each shard's
:class:`~streams.core.parts.ShardParts` — items, calls, the deadline index, held events, counters,
rolling windows, clocks — which by design holds nothing from the configuration (the calendar, the
norms, the deadline rules): those are bound again on restore. A fingerprint of the norms' rules
travels along: restoring state made under different rules would misplace outcomes, so it is
refused with a message that says what to do.

The format is still pickle (issue "a live worker that cannot silently stall" replaces it with an
explicit, versioned plain-data format; ShardParts is shaped for that).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterable
from typing import Any

from streams.core.config import MonitorConfig, Norm
from streams.core.parts import ShardParts
from streams.core.shard import Shard

FORMAT_VERSION = 2  # 1: vars() of the undivided Shard; 2: ShardParts


class SnapshotError(ValueError):
    """A checkpoint cannot be restored; the message says why and what to do."""


def rules_fingerprint(norms: Iterable[Norm], calendar_key: str) -> str:
    """What decides deadlines and outcomes: every norm's rule (not its target) and the calendar."""
    parts = [calendar_key]
    for n in norms:
        parts.append(
            f"{n.id}|{n.stage}|{n.family}|{n.unit}|{n.within}|{n.pausable}|"
            f"{n.kind}|{n.channel}|{n.segment}|{n.category}"
        )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _calendar_key(config: MonitorConfig) -> str:
    cal = config.calendar
    closed = ",".join(sorted(str(d) for d in cal.closed_days))
    opened = ",".join(sorted(str(d) for d in cal.open_days))
    return f"{cal.timezone}|{cal.holiday_country}|{closed}|{opened}"


def dump(
    shards: Iterable[Shard], config: MonitorConfig, extra: dict[str, Any] | None = None
) -> bytes:
    """Serialize ``shards`` (the municipalities of one partition) and the driver's ``extra``."""
    payload = {
        "version": FORMAT_VERSION,
        "extra": extra or {},
        "shards": {
            s.municipality: {
                "fingerprint": rules_fingerprint(s.norms, _calendar_key(config)),
                "state": s.parts,
            }
            for s in shards
        },
    }
    return pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)


def load(
    data: bytes, config: MonitorConfig, *, lateness: float, track_changes: bool
) -> tuple[list[Shard], dict[str, Any]]:
    """Shards restored from ``data``, bound to ``config``, and the ``extra`` the driver stored
    with them; SnapshotError when they do not fit."""
    try:
        payload = pickle.loads(data)
    except Exception as exc:
        raise SnapshotError(f"the checkpoint cannot be read ({type(exc).__name__})") from exc
    if not isinstance(payload, dict) or payload.get("version") != FORMAT_VERSION:
        raise SnapshotError(
            "the checkpoint was written by another version of contactmon; "
            "delete the checkpoints to rebuild from the topic (contactmon worker --rebuild)"
        )
    shards = []
    for slug, entry in payload["shards"].items():
        if slug not in config.norms_by_municipality:
            raise SnapshotError(
                f"the checkpoint holds municipality {slug!r}, which the norms file no longer has; "
                "restore it in the norms file or rebuild (contactmon worker --rebuild)"
            )
        norms = config.norms_by_municipality[slug]
        if entry["fingerprint"] != rules_fingerprint(norms, _calendar_key(config)):
            raise SnapshotError(
                f"the norms or calendar changed since the checkpoint of {slug!r} was written; "
                "outcomes decided under the old rules cannot be carried over: rebuild the state "
                "from the topic (contactmon worker --rebuild)"
            )
        parts = entry["state"]
        if not isinstance(parts, ShardParts):
            raise SnapshotError(f"the checkpoint of {slug!r} holds no shard state; rebuild it")
        # targets may change without a rebuild: they are read from the norms at scrape time
        shards.append(
            Shard(
                slug,
                norms,
                config.calendar,
                lateness=lateness,
                track_changes=track_changes,
                parts=parts,
            )
        )
    return shards, dict(payload.get("extra", {}))
