"""The contract's events (CONTRACT.md sections 1 and 2): words, models, decoder and JSON Schemas.

- `events.vocabulary`: kinds, channels, segments, resolutions, event types.
- `events.decode`: the hot path, `Decoder.decode(raw, now) -> Event | Rejection`.
- `events.models`: pydantic models, the readable specification (not used on the hot path).
- `events.schema`: `python -m events.schema` writes `events/schemas/*.json` from the models.
- `events.native`: the compiled core (mypyc), used only when built from exactly these sources.
- `events/examples/`: `valid.jsonl` holds one valid event per type; each line of `invalid.jsonl` is
  `{"reason", "field", "raw", "note"}`: the message `raw` is rejected for `reason` at `field`.

Only the decoder is imported here, so a worker that imports `events` does not load the models.
"""

from events.native import use_compiled

use_compiled(__name__, __path__)  # before the first import of a module it may hold compiled

from events.decode import Decoder, Event, Reason, Rejection  # noqa: E402

__all__ = ["Decoder", "Event", "Reason", "Rejection"]
