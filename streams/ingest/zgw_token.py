"""The JWT the ZGW APIs (Open Zaak) are asked with, signed once and reused for a short while.

The ZGW authorisation scheme: an HS256 JWT signed with the application's secret, ``iss`` and
``client_id`` the client id, ``iat`` the time it was made, and ``user_id`` /
``user_representation`` for the APIs' audit trail. The APIs accept a token until ``iat`` plus
their validity (Open Zaak's ``JWT_EXPIRY``: an hour by default, with a little leeway for clocks
that differ). Signing one per request costs more CPU than the rest of the request's headers, so
`ZgwToken` signs one and reuses it while it is younger than ``reuse`` seconds
(``CONTACTMON_ZGW_TOKEN_REUSE``, 60 by default: far inside any validity a ZGW API uses); 0 signs
one per request. A clock that jumped back also gets a new one.

The token is a secret: it is only ever put in an Authorization header, never logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import jwt

USER_ID: Final = "contactmon-ingest"


class ZgwToken:
    """``Bearer <jwt>`` for one client id and secret, re-signed every ``reuse`` seconds."""

    def __init__(
        self,
        client_id: str,
        secret: str,
        reuse: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client_id = client_id
        self._secret = secret
        self._reuse = reuse
        self._clock = clock
        self._iat: int | None = None
        self._header = ""
        self.signed = 0

    def __repr__(self) -> str:  # never the secret nor the token
        return f"ZgwToken(client_id={self._client_id!r})"

    def header(self) -> str:
        """The Authorization header value, re-signed when the current one is too old."""
        now = self._clock()
        iat = self._iat
        if iat is None or not 0 <= now - iat < self._reuse:
            iat = int(now)
            claims = {
                "iss": self._client_id,
                "iat": iat,
                "client_id": self._client_id,
                "user_id": USER_ID,
                "user_representation": USER_ID,
            }
            self._header = "Bearer " + jwt.encode(claims, self._secret, algorithm="HS256")
            self._iat = iat
            self.signed += 1
        return self._header
