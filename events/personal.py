"""Values that look like personal data, where the contract wants pseudonyms and short labels.

A subject must be a pseudonymous id and category, team, queue and source system are labels; a
value that looks like an e-mail address, a Dutch citizen service number (BSN, checked with the
elfproef), a Dutch phone number, an IBAN (checked with its mod-97 check digits) or a postcode with
a house number is refused as `personal_data`, and its rejection keeps a redacted copy only (see
`events.decode`). These are heuristics meant to catch a producer that maps the wrong source field,
not a guarantee: pseudonymise at the source (the ingest adapters use a keyed HMAC).
"""

from __future__ import annotations

import re
from typing import Final

REDACTED: Final = "[verwijderd]"

_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[A-Za-z]{2,}")
# A BSN is nine digits standing alone: a run inside a pseudonym or a case number (joined to letters
# or by - _ / :, as in fixi-12345678 or ZAAK-123456782) is an id, not a citizen service number;
# one in nine 8- or 9-digit ids would pass the elfproef by chance.
_BSN_RUN = re.compile(r"(?<![0-9A-Za-z_/:-])[0-9](?:[ .]?[0-9]){8}(?![0-9A-Za-z_/:-])")
_PHONE = re.compile(
    r"(?<![0-9A-Za-z])(?:\+31|0031|0)[ -]?(?:\(0\))?[ -]?[1-9](?:[ -]?[0-9]){8}(?![0-9A-Za-z])"
)
_IBAN = re.compile(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b")
_POSTCODE = r"\b[1-9][0-9]{3} ?[A-Z]{2}\b"
_HOUSE_NUMBER = r"\b[0-9]{1,5}[a-zA-Z]?\b"
_POSTCODE_HOUSE = re.compile(f"{_POSTCODE}.*{_HOUSE_NUMBER}|{_HOUSE_NUMBER}.*{_POSTCODE}")
# Cheap tests that must pass before the two costly patterns can match (both backtrack over every
# start position): an e-mail address has an @, a postcode with a house number has a postcode.
_ONLY_POSTCODE = re.compile(_POSTCODE)


def _elfproef(digits: str) -> bool:
    """The BSN check: 9·d1 + 8·d2 + … + 2·d8 − d9 is a multiple of 11 (and not 0)."""
    if len(digits) != 9 or digits == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True))
    return (total - int(digits[8])) % 11 == 0


def _iban_valid(text: str) -> bool:
    compact = text.replace(" ", "")
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


_MAYBE = re.compile(r"[@0-9]")  # every pattern needs an @ or a digit
_VERDICTS: dict[str, str | None] = {}  # subjects and labels repeat: each is checked once
_VERDICTS_MAX = 20_000  # about a month of subjects of the four municipalities; ~2 MB


def personal_data_in(value: str) -> str | None:
    """What kind of personal data ``value`` seems to hold, or None."""
    if value in _VERDICTS:
        return _VERDICTS[value]
    verdict = _check(value) if _MAYBE.search(value) else None
    if len(_VERDICTS) >= _VERDICTS_MAX:
        _VERDICTS.clear()
    _VERDICTS[value] = verdict
    return verdict


def _check(value: str) -> str | None:
    if "@" in value and _EMAIL.search(value):
        return "an e-mail address"
    for candidate in _IBAN.findall(value):
        if _iban_valid(candidate):
            return "an IBAN"
    if _PHONE.search(value):
        return "a phone number"
    for run in _BSN_RUN.findall(value):
        if _elfproef(re.sub(r"[ .]", "", run)):
            return "a citizen service number (BSN)"
    if _ONLY_POSTCODE.search(value) and _POSTCODE_HOUSE.search(value):
        return "a postcode and house number"
    return None
