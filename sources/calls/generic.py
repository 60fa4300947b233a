"""The generic call-record profile: one CSV row per queued call.

Columns (header names, any case): ``call_id, municipality, queue, entered_at, answered_at,
ended_at, outcome, wait_s, talk_s, resolved`` — all ten must be in the header, cells may be
empty where the table below allows it; ``channel`` (telefoon, chat, balie) is optional.

- ``outcome`` ``answered`` (``beantwoord``, ``connected``, ``aangenomen``): queued at
  ``entered_at``; answered at ``answered_at`` (else ``entered_at`` + ``wait_s``); ended at
  ``ended_at`` (else answered + ``talk_s``; neither: no ended event) with ``resolved``;
- ``abandoned`` (``opgehangen``, ``verlaten``, ``timeout``, ``time-out``): queued; abandoned at
  ``ended_at`` (else ``entered_at`` + ``wait_s``);
- anything else is rejected as ``unknown_outcome``.

``municipality`` is a slug or a name (``Bergen (NH)``, ``bergen``), ``resolved`` ja/nee,
true/false or 1/0. Times are local (Europe/Amsterdam) unless they carry an offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sources.calls.common import Call, CallMapper, Columns, Skip
from sources.records import BadValue, Reject, label, parse_bool, parse_seconds

__all__ = ["COLUMNS", "GenericProfile"]

COLUMNS: Final = (
    "call_id",
    "municipality",
    "queue",
    "entered_at",
    "answered_at",
    "ended_at",
    "outcome",
    "wait_s",
    "talk_s",
    "resolved",
)
OPTIONAL: Final = ("channel",)

ANSWERED: Final = frozenset({"answered", "beantwoord", "connected", "aangenomen"})
ABANDONED: Final = frozenset({"abandoned", "opgehangen", "verlaten", "timeout", "time-out"})


class GenericProfile:
    """Maps rows of the generic call-record CSV."""

    name = "generic"
    delimiter_hint = ","

    def __init__(self, mapper: CallMapper) -> None:
        self.mapper = mapper
        self.columns: Columns | None = None
        self._queues: dict[str, str] = {}

    def header(self, header: Sequence[str]) -> None:
        """Check the header (MissingColumns names what is absent) and remember the positions."""
        self.columns = Columns(header, COLUMNS, OPTIONAL)

    def row(self, row: Sequence[str]) -> list[dict[str, Any]] | Reject | Skip:
        """The events of one row."""
        assert self.columns is not None, "header() first"
        try:
            return self.mapper.events(self._call(row, self.columns))
        except BadValue as bad:
            return bad.reject

    def _call(self, row: Sequence[str], c: Columns) -> Call:
        m = self.mapper
        call_id = c.get(row, "call_id").strip()
        if not call_id:
            raise BadValue("missing_value", "call_id", "is empty")
        municipality = m.municipality(c.get(row, "municipality"), "municipality")
        times = m.times
        entered = times.epoch(c.get(row, "entered_at"), "entered_at")
        outcome = c.get(row, "outcome").strip().lower()
        wait = parse_seconds(c.get(row, "wait_s"), "wait_s")
        channel = c.get(row, "channel").strip().lower() or m.channel
        if channel not in ("telefoon", "chat", "balie"):
            raise BadValue("bad_value", "channel", "must be telefoon, chat or balie")
        queue_text = c.get(row, "queue").strip()
        queue = self._queues.get(queue_text) if queue_text else None
        if queue_text and queue is None:
            queue = self._queues[queue_text] = label(queue_text)
        if outcome in ANSWERED:
            answered = self._at(row, c, "answered_at", entered, wait, "wait_s")
            talk = parse_seconds(c.get(row, "talk_s"), "talk_s")
            text = c.get(row, "ended_at")
            ended = (
                times.epoch(text, "ended_at")
                if text.strip()
                else (answered + talk if talk is not None else None)
            )
            return Call(
                call_id,
                municipality,
                queue,
                channel,
                entered,
                answered=answered,
                ended=ended,
                resolved=parse_bool(c.get(row, "resolved"), "resolved"),
            )
        if outcome in ABANDONED:
            abandoned = self._at(row, c, "ended_at", entered, wait, "wait_s")
            return Call(call_id, municipality, queue, channel, entered, abandoned=abandoned)
        if not outcome:
            raise BadValue("missing_value", "outcome", "is empty")
        raise BadValue("unknown_outcome", "outcome", "is not answered or abandoned (or a synonym)")

    def _at(
        self,
        row: Sequence[str],
        c: Columns,
        column: str,
        entered: float,
        wait: float | None,
        wait_column: str,
    ) -> float:
        text = c.get(row, column)
        if text.strip():
            return self.mapper.times.epoch(text, column)
        if wait is None:
            raise BadValue("missing_value", column, f"is empty and so is {wait_column}")
        return entered + wait
