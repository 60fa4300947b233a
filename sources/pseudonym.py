"""Keyed pseudonyms for subjects and deterministic event ids (HMAC-SHA256).

A source identifier (a zaak UUID, a Status URL, a Fixi report number, a call id) never leaves the
adapter: the contract's `subject` is ``<system>-<32 hex digits>`` of an HMAC over the system and the
identifier, and an event's `id` a UUID built from an HMAC over the record that caused it (the Status
URL, a history entry). Without the key neither can be linked back to the source, not even by
someone who knows the source's ids; with the same key the same record always gives the same id, so
a re-delivered notification or a re-imported export is a duplicate that the monitor ignores.

The key must stay the same for the life of the data (a new key makes every subject new: open items
would never close). It comes from ``CONTACTMON_PSEUDONYM_KEY`` (at least 32 characters) or from the
file named by ``CONTACTMON_PSEUDONYM_KEY_FILE`` (a Kubernetes secret mounted as a file); it is never
logged, and errors about it never show it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

KEY_VARIABLE: Final = "CONTACTMON_PSEUDONYM_KEY"
KEY_FILE_VARIABLE: Final = "CONTACTMON_PSEUDONYM_KEY_FILE"
MIN_KEY_LENGTH: Final = 32
"""Characters (or bytes): `openssl rand -hex 32` gives 64."""
SUBJECT_HEX_DIGITS: Final = 32
"""128 bits of the HMAC: no collision among all the subjects a municipality will ever have."""

# HMAC-SHA256 (RFC 2104) from its two padded-key states: the key is XORed with these bytes once,
# hashed into the inner and outer SHA-256 states, and each digest starts from copies of them.
_BLOCK: Final = 64
_INNER_PAD: Final = bytes(x ^ 0x36 for x in range(256))
_OUTER_PAD: Final = bytes(x ^ 0x5C for x in range(256))
_VARIANT: Final = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


class PseudonymKeyError(ValueError):
    """The pseudonymisation key is missing or too short; the message names the variable."""


class Pseudonymiser:
    """Subjects and event ids from source identifiers, under one secret key."""

    __slots__ = ("_inner", "_outer", "_parts")

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_LENGTH:
            raise PseudonymKeyError(
                f"{KEY_VARIABLE}: the pseudonymisation key must be at least {MIN_KEY_LENGTH} "
                f"characters (it has {len(key)}); make one with `openssl rand -hex 32`"
            )
        # hmac.new(key, message, sha256).digest(), without building the padded key per digest:
        # the same bytes, about a third of the time (this runs four times per imported call)
        padded = (hashlib.sha256(key).digest() if len(key) > _BLOCK else key).ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(padded.translate(_INNER_PAD))
        self._outer = hashlib.sha256(padded.translate(_OUTER_PAD))
        self._parts: dict[str, bytes] = {}  # a recurring part (a system, a type), length-prefixed

    def __repr__(self) -> str:  # never the key
        return "Pseudonymiser(key=**********)"

    def _part(self, part: str) -> bytes:
        # each part length-prefixed: parts cannot run into each other (("a", "bc") vs ("ab", "c"))
        raw = part.encode()
        return len(raw).to_bytes(4, "big") + raw

    def _known(self, part: str) -> bytes:
        """`_part` of a part from a small set (a system name, an event type), kept."""
        found = self._parts.get(part)
        if found is None:
            found = self._part(part)
            if len(self._parts) < 1_000:
                self._parts[part] = found
        return found

    def _digest(self, domain: bytes, parts: tuple[str, ...]) -> bytes:
        return self._mac(domain + b"".join(self._part(p) for p in parts))

    def _mac(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def subject(self, system: str, source_id: str) -> str:
        """The contract's subject for `source_id` in `system` (``zaak``, ``fixi``, ``kcc``, ...).

        `system` is kept readable as a prefix (it says where the item came from, as the simulated
        subjects do); the rest is the keyed hash.
        """
        digest = self._mac(b"subject" + self._known(system) + self._part(source_id))
        return f"{system}-{digest.hex()[:SUBJECT_HEX_DIGITS]}"

    def event_id(self, *parts: str) -> str:
        """A deterministic event id (a UUID) for the source record named by `parts`.

        Name the record and what the event says about it, e.g. ``("status", status_url)`` or
        ``("signalen", signal_id, history_id, "item.closed")``: the same parts give the same id,
        so a record delivered twice is a duplicate. The UUID carries version 8 (custom) bits.
        """
        if not parts:
            raise ValueError("event_id needs at least one part naming the source record")
        return _uuid8(self._digest(b"event", parts))

    def record_event_id(self, system: str, record: str, what: str) -> str:
        """``event_id(system, record, what)``, faster for the few values of `system` and `what`
        that recur on every record of an import (a source system, an event type)."""
        return _uuid8(
            self._mac(b"event" + self._known(system) + self._part(record) + self._known(what))
        )

    def record_ids(self, system: str, record: str, whats: Iterable[str]) -> tuple[str, list[str]]:
        """``subject(system, record)`` and ``event_id(system, record, what)`` for each of
        `whats`, at once: an importer's record (a call) and the events it gives.

        The same bytes as those methods, written out: this runs for every call of a file of
        millions of calls, and the calls between the few digests cost more than the digests.
        """
        raw = record.encode()
        named = self._known(system) + len(raw).to_bytes(4, "big") + raw
        inner, outer, known = self._inner.copy, self._outer.copy, self._known
        first = inner()
        first.update(b"subject" + named)
        second = outer()
        second.update(first.digest())
        subject = f"{system}-{second.hexdigest()[:SUBJECT_HEX_DIGITS]}"
        ids = []
        variant = _VARIANT
        for what in whats:
            first = inner()
            first.update(b"event" + named + known(what))
            second = outer()
            second.update(first.digest())
            h = second.hexdigest()
            ids.append(f"{h[:8]}-{h[8:12]}-8{h[13:16]}-{variant[h[16]]}{h[17:20]}-{h[20:32]}")
        return subject, ids


def _uuid8(digest: bytes) -> str:
    """``str(uuid.UUID(bytes=...))`` of the first 16 bytes of `digest` with the version 8 (custom)
    and RFC 4122 variant bits set: the hex digit of version is 8, the variant's 8, 9, a or b."""
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-8{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def key_from_environment(environ: Mapping[str, str] | None = None) -> bytes:
    """The key from ``CONTACTMON_PSEUDONYM_KEY`` or the file ``CONTACTMON_PSEUDONYM_KEY_FILE``.

    Raises `PseudonymKeyError` naming the variable (never the value) when neither is set, both are,
    the file cannot be read, or the key is too short.
    """
    env = os.environ if environ is None else environ
    value, path = env.get(KEY_VARIABLE), env.get(KEY_FILE_VARIABLE)
    if value and path:
        raise PseudonymKeyError(f"set {KEY_VARIABLE} or {KEY_FILE_VARIABLE}, not both")
    if path:
        try:
            key = Path(path).read_bytes().strip()
        except OSError as exc:
            raise PseudonymKeyError(
                f"{KEY_FILE_VARIABLE}: cannot read the key file {path} ({exc.strerror})"
            ) from None
        variable = KEY_FILE_VARIABLE
    elif value:
        key, variable = value.strip().encode(), KEY_VARIABLE
    else:
        raise PseudonymKeyError(
            f"{KEY_VARIABLE} is not set: source ids are pseudonymised with a secret key; set it "
            f"(or {KEY_FILE_VARIABLE}) to at least {MIN_KEY_LENGTH} random characters, e.g. "
            "`export CONTACTMON_PSEUDONYM_KEY=$(openssl rand -hex 32)`, and keep it: a new key "
            "makes every subject new"
        )
    if len(key) < MIN_KEY_LENGTH:
        raise PseudonymKeyError(
            f"{variable}: the pseudonymisation key must be at least {MIN_KEY_LENGTH} characters "
            f"(it has {len(key)}); make one with `openssl rand -hex 32`"
        )
    return key


def from_environment(environ: Mapping[str, str] | None = None) -> Pseudonymiser:
    """A `Pseudonymiser` with the key of the environment (see `key_from_environment`)."""
    return Pseudonymiser(key_from_environment(environ))
