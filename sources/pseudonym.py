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
import hmac
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Final

KEY_VARIABLE: Final = "CONTACTMON_PSEUDONYM_KEY"
KEY_FILE_VARIABLE: Final = "CONTACTMON_PSEUDONYM_KEY_FILE"
MIN_KEY_LENGTH: Final = 32
"""Characters (or bytes): `openssl rand -hex 32` gives 64."""
SUBJECT_HEX_DIGITS: Final = 32
"""128 bits of the HMAC: no collision among all the subjects a municipality will ever have."""


class PseudonymKeyError(ValueError):
    """The pseudonymisation key is missing or too short; the message names the variable."""


class Pseudonymiser:
    """Subjects and event ids from source identifiers, under one secret key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_LENGTH:
            raise PseudonymKeyError(
                f"{KEY_VARIABLE}: the pseudonymisation key must be at least {MIN_KEY_LENGTH} "
                f"characters (it has {len(key)}); make one with `openssl rand -hex 32`"
            )
        self._key = key

    def __repr__(self) -> str:  # never the key
        return "Pseudonymiser(key=**********)"

    def _digest(self, domain: bytes, parts: tuple[str, ...]) -> bytes:
        # each part length-prefixed: parts cannot run into each other (("a", "bc") vs ("ab", "c"))
        message = domain + b"".join(
            len(raw).to_bytes(4, "big") + raw for raw in (p.encode() for p in parts)
        )
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def subject(self, system: str, source_id: str) -> str:
        """The contract's subject for `source_id` in `system` (``zaak``, ``fixi``, ``kcc``, ...).

        `system` is kept readable as a prefix (it says where the item came from, as the simulated
        subjects do); the rest is the keyed hash.
        """
        digest = self._digest(b"subject", (system, source_id))
        return f"{system}-{digest.hex()[:SUBJECT_HEX_DIGITS]}"

    def event_id(self, *parts: str) -> str:
        """A deterministic event id (a UUID) for the source record named by `parts`.

        Name the record and what the event says about it, e.g. ``("status", status_url)`` or
        ``("signalen", signal_id, history_id, "item.closed")``: the same parts give the same id,
        so a record delivered twice is a duplicate. The UUID carries version 8 (custom) bits.
        """
        if not parts:
            raise ValueError("event_id needs at least one part naming the source record")
        digest = bytearray(self._digest(b"event", parts)[:16])
        digest[6] = (digest[6] & 0x0F) | 0x80  # version 8
        digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
        return str(uuid.UUID(bytes=bytes(digest)))


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
