"""Call records to the contract's call events: ``call.queued|answered|abandoned|ended``.

Three import profiles, all pure (a row in; events, a `Reject` or a `Skip` out):

- `generic` — one row per queued call: ``call_id, municipality, queue, entered_at, answered_at,
  ended_at, outcome, wait_s, talk_s, resolved`` (`sources.calls.generic`);
- `teams` — Microsoft Teams call-queue history, one row per call with its call result
  (`sources.calls.teams`);
- `asterisk` — Asterisk ``queue_log``, one line per queue event,
  ``timestamp|callid|queue|agent|event|params`` (`sources.calls.asterisk`).

Agent and caller ids never leave the importer: agents and caller numbers are not read at all,
the call id becomes the keyed pseudonym ``<system>-<hex>`` (`sources.pseudonym`), and event ids
are derived from the call id and the event's type, so importing an overlapping file again gives
the same events, which the monitor counts as duplicates.
"""

from sources.calls.common import CallMapper, Skip

__all__ = ["CallMapper", "Skip"]
