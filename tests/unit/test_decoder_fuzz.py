"""The decoder never raises and never lets through what it must refuse, whatever the bytes: a
fuzz run over mutations of real events and of the hostile corpus (invalid examples, null dates,
personal data, oversized and deeply nested input)."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from events.decode import Decoder, Event, Reason, Rejection

EXAMPLES = Path(__file__).resolve().parents[2] / "events" / "examples"
VALID = EXAMPLES.joinpath("valid.jsonl").read_bytes().splitlines()
INVALID = [
    orjson.loads(line)["raw"].encode()
    for line in EXAMPLES.joinpath("invalid.jsonl").read_bytes().splitlines()
]
CORPUS = [
    *VALID,
    *INVALID,
    b"[" * 100_000 + b"]" * 100_000,  # nesting orjson refuses
    b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    b"\xff\xfe" + b"x" * 100,
    b'{"specversion":"1.0","time":"0001-01-01T00:00:00Z"}',
    b'{"specversion":"1.0","subject":"jan@example.nl"}',
    b"x" * 5_000,  # over a small limit
]
SPAN = (math.floor(-4e9), math.floor(4.1e9))
DECODER = Decoder(("bergen", "castricum", "heiloo", "uitgeest"), time_span=SPAN, max_bytes=4_096)
NOW = 1_717_200_000.0


def mutate(raw: bytes, data: st.DataObject) -> bytes:
    """Flip, drop, duplicate or insert bytes at a few places."""
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4))):
        if not out:
            out += data.draw(st.binary(min_size=1, max_size=8))
            continue
        at = data.draw(st.integers(0, len(out) - 1))
        action = data.draw(st.sampled_from(["flip", "drop", "dup", "insert"]))
        if action == "flip":
            out[at] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "drop":
            del out[at]
        elif action == "dup":
            out[at:at] = out[at : at + data.draw(st.integers(1, 16))]
        else:
            out[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    return bytes(out)


class TestDecoderFuzz:
    """Whatever comes in, the result is an Event or a Rejection with a reason, never an error."""

    @settings(max_examples=1500, deadline=None)
    @given(seed=st.sampled_from(CORPUS), data=st.data())
    def test_mutated_corpus(self, seed: bytes, data: st.DataObject) -> None:
        raw = mutate(seed, data)
        result = DECODER.decode(raw, NOW)
        assert isinstance(result, Event | Rejection)
        if isinstance(result, Rejection):
            assert isinstance(result.reason, Reason)
            assert len(result.raw) <= max(len(raw), 1024) + 64  # redaction may grow it a little
        else:
            assert len(raw) <= 4_096
            assert result.municipality in DECODER.municipalities

    def test_the_corpus_itself(self) -> None:
        for raw in CORPUS:
            result = DECODER.decode(raw, NOW)
            assert isinstance(result, Event | Rejection)
        assert all(isinstance(DECODER.decode(raw, NOW), Rejection) for raw in INVALID)
