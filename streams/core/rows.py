"""What the core hands to the outcome store, and what the monthly export reads back.

One row per item, per (item, norm), per call and per feedback event. Times are UTC epoch seconds
(float). Rows are complete snapshots: writing the same row twice changes nothing (upsert by key), so
a replay of the same events, or an at-least-once redelivery, leaves the store as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """An item (melding, vraag, terugbelverzoek, klacht, aanvraag). Key: (municipality, subject)."""

    municipality: str
    subject: str
    kind: str
    channel: str
    segment: str
    category: str
    source_system: str | None
    team: str | None
    opened_at: float
    responded_at: float | None  # first reaction (item.responded or item.closed, the earliest)
    closed_at: float | None  # the latest item.closed; None while never closed
    resolution: str | None  # of the latest close
    upheld: bool | None  # complaints: gegrond
    reopened: int  # how many item.reopened events
    is_open: bool  # open now (never closed, or reopened after the latest close)


@dataclass(frozen=True, slots=True)
class NormRecord:
    """One norm's verdict on one item or call. Key: (municipality, subject, norm)."""

    municipality: str
    subject: str
    norm: str
    stage: str  # response | resolution | answer
    family: str  # item | call
    deadline: float | None  # None while a pausable norm's clock is stopped
    outcome: str  # pending | met | breached | excluded | abandoned
    decided_at: float | None  # when the outcome was decided (event time or the deadline)
    achieved_at: float | None  # when the stage happened (responded/closed/answered), if it did


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A call, chat or counter visit. Key: (municipality, subject)."""

    municipality: str
    subject: str
    channel: str  # telefoon | chat | balie
    queue: str | None
    segment: str
    queued_at: float
    answered_at: float | None
    abandoned_at: float | None
    ended_at: float | None
    resolved: bool | None  # first-contact resolution, from call.ended
    outcome: str  # waiting | answered | abandoned


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """One feedback.given event. Key: (municipality, key), key = the event's source + id."""

    municipality: str
    key: str
    channel: str
    kind: str | None
    score: int
    given_at: float


@dataclass(slots=True)
class OutcomeBatch:
    """A set of changed rows, written in one transaction."""

    items: list[ItemRecord] = field(default_factory=list)
    norms: list[NormRecord] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    feedback: list[FeedbackRecord] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items) + len(self.norms) + len(self.calls) + len(self.feedback)
