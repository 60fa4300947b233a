"""Keyed pseudonyms and deterministic event ids (`sources.pseudonym`)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.decode import Decoder
from events.personal import personal_data_in
from sources.pseudonym import (
    KEY_FILE_VARIABLE,
    KEY_VARIABLE,
    Pseudonymiser,
    PseudonymKeyError,
    from_environment,
)

KEY = b"k" * 32
OTHER_KEY = b"o" * 32


def test_same_input_same_subject_and_other_key_other_subject() -> None:
    zaak = "5d8c9d2e-2b7a-4f63-9b1c-3a7e0a6f1e11"
    a, b = Pseudonymiser(KEY), Pseudonymiser(OTHER_KEY)
    assert a.subject("zaak", zaak) == a.subject("zaak", zaak)
    assert a.subject("zaak", zaak) != b.subject("zaak", zaak)
    assert a.subject("zaak", zaak) != a.subject("fixi", zaak)
    assert zaak not in a.subject("zaak", zaak)
    assert a.subject("zaak", zaak).startswith("zaak-")
    assert len(a.subject("zaak", zaak)) == len("zaak-") + 32


def test_parts_cannot_run_into_each_other() -> None:
    p = Pseudonymiser(KEY)
    assert p.event_id("a", "bc") != p.event_id("ab", "c")
    assert p.event_id("a\x1fb", "c") != p.event_id("a", "b\x1fc")


def test_event_ids_are_uuids_and_deterministic() -> None:
    p = Pseudonymiser(KEY)
    url = "https://openzaak.example/zaken/api/v1/statussen/9f1c"
    first, again = p.event_id("status", url), p.event_id("status", url)
    assert first == again
    parsed = uuid.UUID(first)
    assert parsed.version == 8
    assert parsed.variant == uuid.RFC_4122
    assert p.event_id("status", url, "item.closed") != first
    assert Pseudonymiser(OTHER_KEY).event_id("status", url) != first
    with pytest.raises(ValueError, match="at least one part"):
        p.event_id()


@given(st.text(min_size=1, max_size=80))
def test_subjects_never_look_like_personal_data_and_pass_the_decoder(source_id: str) -> None:
    subject = Pseudonymiser(KEY).subject("kcc", source_id)
    assert personal_data_in(subject) is None
    line = (
        '{"specversion":"1.0","id":"x","source":"urn:test","type":"nl.contactmonitor.call.queued",'
        f'"time":"2024-05-21T09:30:00+02:00","subject":"{subject}",'
        '"data":{"municipality":"castricum","channel":"telefoon"}}'
    ).encode()
    decoded = Decoder(["castricum"]).decode(line, now=2e9)
    assert getattr(decoded, "subject", None) == subject, decoded


def test_the_key_is_never_shown() -> None:
    secret = "s3cr3t-" * 6
    p = Pseudonymiser(secret.encode())
    assert secret not in repr(p)
    with pytest.raises(PseudonymKeyError) as short:
        Pseudonymiser(b"short-secret")
    assert "short-secret" not in str(short.value)
    assert KEY_VARIABLE in str(short.value)


def test_key_from_the_environment_or_a_file(tmp_path: Path) -> None:
    key = "0123456789abcdef" * 4
    env_subject = from_environment({KEY_VARIABLE: key}).subject("zaak", "1")
    key_file = tmp_path / "key"
    key_file.write_text(key + "\n")
    assert from_environment({KEY_FILE_VARIABLE: str(key_file)}).subject("zaak", "1") == env_subject


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({}, KEY_VARIABLE),
        ({KEY_VARIABLE: "too-short"}, KEY_VARIABLE),
        ({KEY_VARIABLE: "x" * 40, KEY_FILE_VARIABLE: "/k"}, KEY_FILE_VARIABLE),
        ({KEY_FILE_VARIABLE: "/nonexistent/key"}, KEY_FILE_VARIABLE),
    ],
)
def test_missing_or_bad_keys_are_named(environ: dict[str, str], names: str) -> None:
    with pytest.raises(PseudonymKeyError, match=names) as error:
        from_environment(environ)
    assert "too-short" not in str(error.value)


def _reference(key: bytes, domain: bytes, parts: tuple[str, ...]) -> bytes:
    """The digest as first written: `hmac.new` over the domain and length-prefixed parts."""
    message = domain + b"".join(len(p.encode()).to_bytes(4, "big") + p.encode() for p in parts)
    return hmac.new(key, message, hashlib.sha256).digest()


def _reference_id(key: bytes, parts: tuple[str, ...]) -> str:
    digest = bytearray(_reference(key, b"event", parts)[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80
    digest[8] = (digest[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(digest)))


@given(
    st.binary(min_size=32, max_size=150),
    st.text(max_size=20),
    st.text(max_size=90),
    st.text(max_size=20),
)
def test_digests_equal_the_reference_hmac(key: bytes, system: str, record: str, what: str) -> None:
    """Precomputed HMAC states give the bytes `hmac.new` gives, for keys up to and past the
    SHA-256 block (64 bytes): a changed digest would make every subject and event id new."""
    p = Pseudonymiser(key)
    subject = _reference(key, b"subject", (system, record)).hex()[:32]
    assert p.subject(system, record) == f"{system}-{subject}"
    expected = _reference_id(key, (system, record, what))
    assert p.event_id(system, record, what) == expected
    assert p.record_event_id(system, record, what) == expected
    assert p.record_ids(system, record, [what, "x"]) == (
        p.subject(system, record),
        [expected, p.event_id(system, record, "x")],
    )
    assert p.event_id(record) == _reference_id(key, (record,))


def test_known_ids_are_kept() -> None:
    """Values computed before the digest was made faster: ids already in Kafka and the stores."""
    p = Pseudonymiser(KEY)
    assert p.subject("calls", "c1") == "calls-b446e83c231c562f52bc9c54c04680bb"
    assert p.event_id("calls", "c1", "call.queued") == "ed27dfbb-b284-8366-9be3-50d5c0fc1f2c"
