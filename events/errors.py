"""Typed exceptions of the `events` package.

Bad input is not an exception at the package's edge: `Decoder.decode` returns a `Rejection`, so a
stream processor never needs a try block per message. These classes are for the places where an
exception is the right answer (a stale schema file, a caller that wants to raise on bad input).
"""

from __future__ import annotations


class EventError(Exception):
    """Base class of every error the `events` package raises."""


class InvalidEvent(EventError):
    """An event broke the contract; carries the same reason code, field and detail as a Rejection.

    The message never holds a value from the event (privacy: subjects and free text must not reach
    logs), only the field name and a fixed sentence.
    """

    def __init__(self, reason: str, field: str | None, detail: str) -> None:
        super().__init__(f"{reason}: {field}: {detail}" if field else f"{reason}: {detail}")
        self.reason = reason
        self.field = field
        self.detail = detail
