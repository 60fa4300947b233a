"""The contract's events (CONTRACT.md sections 1 and 2): words, models, decoder and JSON Schemas.

- `events.vocabulary`: kinds, channels, segments, resolutions, event types.
- `events.decode`: the hot path, `Decoder.decode(raw, now) -> Event | Rejection`.
- `events.models`: pydantic models, the readable specification (not used on the hot path).
- `events.schema`: `python -m events.schema` writes `events/schemas/*.json` from the models.
- `events/examples/`: `valid.jsonl` holds one valid event per type; each line of `invalid.jsonl` is
  `{"reason", "field", "raw", "note"}`: the message `raw` is rejected for `reason` at `field`.

Only the decoder is imported here, so a worker that imports `events` does not load the models.
"""

from events.decode import Decoder, Event, Reason, Rejection

__all__ = ["Decoder", "Event", "Reason", "Rejection"]
