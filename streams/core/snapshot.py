"""Checkpoints of shard state: the live worker's way to survive a crash or a partition move.

A checkpoint is the complete state of the shards of one Kafka partition, serialized to bytes and
stored with the offset it reflects (see ``streams.live``). It holds each shard's
:class:`~streams.core.parts.ShardParts` — items, calls, the deadline index, held events, counters,
rolling windows, clocks — which by design holds nothing from the configuration (the calendar, the
norms, the deadline rules): those are bound again on restore. A fingerprint of the norms' rules
travels along: restoring state made under different rules would misplace outcomes, so it is
refused with a message that says what to do.

The format (version 4) is explicit, versioned plain data: one JSON object (orjson) holding
``format``, ``version``, the driver's ``extra`` and per municipality its fingerprint and its parts
as ``streams.core.parts_codec`` writes them. Reading it runs no code from the store: it is parsed
as JSON and every value is checked before anything is restored. Version 4 added the category
slots of the metrics' category label; version 3 is still read (``parts_codec.upgrade_v3``: all it
counted becomes ``overig``). Versions 1 and 2 were pickles; they are recognised by their first
byte and refused unread, with the way out (``--rebuild``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import orjson
from events.decode import Decoder, Event, Rejection

from streams.core.config import MonitorConfig, Norm
from streams.core.parts import ShardParts
from streams.core.parts_codec import from_plain, to_plain, upgrade_v3
from streams.core.shard import Shard

FORMAT = "contactmon-checkpoint"
# 1: pickle of the undivided Shard; 2: pickle of ShardParts; 3: plain JSON; 4: + category slots
FORMAT_VERSION = 4
READABLE_VERSIONS = (3, 4)
_PICKLE_FIRST_BYTE = 0x80
_REBUILD = (
    "delete the checkpoints to rebuild the state from the topic (contactmon worker --rebuild)"
)


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
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "extra": extra or {},
        "shards": {
            s.municipality: {
                "fingerprint": rules_fingerprint(s.norms, _calendar_key(config)),
                "parts": to_plain(s.parts),
            }
            for s in shards
        },
    }
    return orjson.dumps(payload)


def load(data: bytes, config: MonitorConfig) -> tuple[dict[str, ShardParts], dict[str, Any]]:
    """The shard data per municipality in ``data``, checked against ``config``, and the ``extra``
    the driver stored with them; SnapshotError when they cannot be used."""
    if data[:1] and data[0] == _PICKLE_FIRST_BYTE:
        raise SnapshotError(
            f"the checkpoint was written by an older contactmon (a pickle, which is never read); "
            f"{_REBUILD}"
        )
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(f"the checkpoint cannot be read (not JSON); {_REBUILD}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SnapshotError(
            f"the checkpoint cannot be read (not a contactmon checkpoint); {_REBUILD}"
        )
    version = payload.get("version")
    if version not in READABLE_VERSIONS:
        raise SnapshotError(
            f"the checkpoint has format version {version!r}, this contactmon reads "
            f"{' and '.join(map(str, READABLE_VERSIONS))}; {_REBUILD}"
        )
    decoder = Decoder(config.slugs, time_span=config.calendar.supported_span())
    restored: dict[str, ShardParts] = {}
    shards = payload.get("shards")
    if not isinstance(shards, dict):
        raise SnapshotError(f"the checkpoint holds no shards; {_REBUILD}")
    for slug, entry in shards.items():
        if slug not in config.norms_by_municipality:
            raise SnapshotError(
                f"the checkpoint holds municipality {slug!r}, which the norms file no longer has; "
                "restore it in the norms file or rebuild (contactmon worker --rebuild)"
            )
        norms = config.norms_by_municipality[slug]
        if not isinstance(entry, dict) or entry.get("fingerprint") != rules_fingerprint(
            norms, _calendar_key(config)
        ):
            raise SnapshotError(
                f"the norms or calendar changed since the checkpoint of {slug!r} was written; "
                "outcomes decided under the old rules cannot be carried over: rebuild the state "
                "from the topic (contactmon worker --rebuild)"
            )
        try:
            parts = entry["parts"] if version == FORMAT_VERSION else upgrade_v3(entry["parts"])
            restored[slug] = from_plain(parts, norms, lambda raw: _held(decoder, raw))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise SnapshotError(
                f"the checkpoint of {slug!r} is damaged ({type(exc).__name__}); {_REBUILD}"
            ) from exc
    extra = payload.get("extra", {})
    if not isinstance(extra, dict):
        raise SnapshotError(f"the checkpoint's driver data is damaged; {_REBUILD}")
    return restored, extra


def _held(decoder: Decoder, raw: bytes) -> Event:
    """A held event's original bytes decoded again (no future-time check: it was checked)."""
    ev = decoder.decode(raw, float("inf"))
    if isinstance(ev, Rejection):
        raise ValueError(f"a held event no longer decodes ({ev.reason.value})")
    return ev
