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

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, Final

from sources.calls.common import CHANNELS, Call, CallMapper, Columns, Skip
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
        self._cells: Callable[[Sequence[str]], tuple[str, ...]] | None = None
        self._width = 0
        self._has_channel = False

    def header(self, header: Sequence[str]) -> None:
        """Check the header (MissingColumns names what is absent) and remember the positions."""
        columns = self.columns = Columns(header, COLUMNS, OPTIONAL)
        # all the cells a row needs in one call (a row as wide as the header has them all)
        positions = [columns.index[name] for name in (*COLUMNS, *OPTIONAL) if name in columns.index]
        self._width = max(positions)
        self._cells = itemgetter(*positions)
        self._has_channel = "channel" in columns.index

    def row(self, row: Sequence[str]) -> list[dict[str, Any]] | Reject | Skip:
        """The events of one row."""
        assert self.columns is not None, "header() first"
        assert self._cells is not None
        if len(row) <= self._width:  # a short row: its missing cells are empty
            cells = tuple(self.columns.get(row, name) for name in (*COLUMNS, *OPTIONAL))
        elif self._has_channel:
            cells = self._cells(row)
        else:
            cells = (*self._cells(row), "")
        try:
            return self.mapper.events(self._call(cells))
        except BadValue as bad:
            return bad.reject

    def _call(self, cells: tuple[str, ...]) -> Call:
        (
            call_id,
            municipality_text,
            queue_text,
            entered_at,
            answered_at,
            ended_at,
            outcome,
            wait_s,
            talk_s,
            resolved,
            channel,
        ) = cells
        m = self.mapper
        call_id = call_id.strip()
        if not call_id:
            raise BadValue("missing_value", "call_id", "is empty")
        municipality = m.municipality(municipality_text, "municipality")
        times = m.times
        entered = times.epoch(entered_at, "entered_at")
        outcome = outcome.strip().lower()
        wait = parse_seconds(wait_s, "wait_s")
        channel = channel.strip().lower() or m.channel
        if channel not in CHANNELS:
            raise BadValue("bad_value", "channel", "must be telefoon, chat or balie")
        queue_text = queue_text.strip()
        queue = self._queues.get(queue_text) if queue_text else None
        if queue_text and queue is None:
            queue = self._queues[queue_text] = label(queue_text)
        if outcome in ANSWERED:
            answered = self._at(answered_at, "answered_at", entered, wait)
            talk = parse_seconds(talk_s, "talk_s")
            ended = (
                times.epoch(ended_at, "ended_at")
                if ended_at.strip()
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
                resolved=parse_bool(resolved, "resolved"),
            )
        if outcome in ABANDONED:
            abandoned = self._at(ended_at, "ended_at", entered, wait)
            return Call(call_id, municipality, queue, channel, entered, abandoned=abandoned)
        if not outcome:
            raise BadValue("missing_value", "outcome", "is empty")
        raise BadValue("unknown_outcome", "outcome", "is not answered or abandoned (or a synonym)")

    def _at(self, text: str, column: str, entered: float, wait: float | None) -> float:
        if text.strip():
            return self.mapper.times.epoch(text, column)
        if wait is None:
            raise BadValue("missing_value", column, "is empty and so is wait_s")
        return entered + wait
