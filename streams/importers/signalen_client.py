"""Signalen's private API over HTTP: a bearer token, retries, pagination (aiohttp, tenacity).

- Token: OAuth 2.0 client credentials against the OIDC provider's token endpoint (Keycloak in
  most Signalen installations): ``grant_type=client_credentials`` with the client id and secret,
  kept until shortly before ``expires_in`` runs out. A token the API refuses (401) before that —
  it expired mid-poll, or was revoked — is fetched anew once and the request repeated. A fixed
  token (``CONTACTMON_SIGNALEN_TOKEN``) is used as it is instead.
- Retries: connection errors, timeouts, 429 and 5xx answers are retried with exponential backoff
  (tenacity), up to ``attempts`` tries; then `SignalenError` says which request failed.
- Pages: ``/signals/v1/private/signals/?updated_after=…&ordering=updated_at`` and then each page's
  ``_links.next.href`` until there is none.

Secrets (the client secret, tokens) are registered with the log redaction layer and never put in
a message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import aiohttp
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from sources.signalen import HistoryEntry, Signal, SignalPage
from streams.logs import register_secret

__all__ = ["SignalenAuth", "SignalenClient", "SignalenError"]

TOKEN_MARGIN_S = 30.0  # a token is renewed this long before it expires


class SignalenError(RuntimeError):
    """Signalen could not be read: the message names the request (never a token)."""


class _Retry(Exception):
    """An answer worth trying again (5xx, 429)."""


@dataclass
class SignalenAuth:
    """How to get a bearer token: a fixed one, or client credentials at a token endpoint."""

    token: str | None = field(default=None, repr=False)
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    scope: str | None = None

    def __post_init__(self) -> None:
        register_secret(self.token)
        register_secret(self.client_secret)


class SignalenClient:
    """One Signalen instance's private API (use as an async context manager)."""

    def __init__(
        self,
        base_url: str,
        auth: SignalenAuth,
        *,
        attempts: int = 5,
        backoff_max: float = 10.0,
        timeout: float = 30.0,
        page_size: int = 100,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.auth = auth
        self.attempts = attempts
        self.backoff_max = backoff_max
        self.page_size = page_size
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._expires = 0.0
        self.requests = 0
        self.token_fetches = 0

    async def __aenter__(self) -> SignalenClient:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def _bearer(self, *, renew: bool = False) -> str:
        if self.auth.token is not None:
            return self.auth.token
        if not renew and self._token is not None and time.monotonic() < self._expires:
            return self._token
        if not (self.auth.token_url and self.auth.client_id and self.auth.client_secret):
            raise SignalenError(
                "no Signalen credentials: set CONTACTMON_SIGNALEN_TOKEN, or the token URL, "
                "client id and CONTACTMON_SIGNALEN_CLIENT_SECRET"
            )
        form = {
            "grant_type": "client_credentials",
            "client_id": self.auth.client_id,
            "client_secret": self.auth.client_secret,
        }
        if self.auth.scope:
            form["scope"] = self.auth.scope
        body = await self._request("POST", self.auth.token_url, data=form, what="the token")
        token = body.get("access_token") if isinstance(body, Mapping) else None
        if not isinstance(token, str) or not token:
            raise SignalenError("the token endpoint answered without an access_token")
        register_secret(token)
        lifetime = float(body.get("expires_in", 300))
        self._token, self._expires = token, time.monotonic() + max(lifetime - TOKEN_MARGIN_S, 1)
        self.token_fetches += 1
        return token

    async def _request(
        self, method: str, url: str, *, what: str, bearer: str | None = None, **kw: Any
    ) -> Any:
        """One request with retries; 401 → raises PermissionError for the caller to renew."""
        assert self._session is not None, "use the client as an async context manager"
        headers = {"Accept": "application/json"}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=0.2, max=self.backoff_max),
            retry=retry_if_exception_type(
                (_Retry, aiohttp.ClientConnectionError, asyncio.TimeoutError)
            ),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    self.requests += 1
                    async with self._session.request(method, url, headers=headers, **kw) as r:
                        if r.status == 401 and bearer is not None:
                            raise PermissionError(what)
                        if r.status == 429 or r.status >= 500:
                            raise _Retry(f"{what}: HTTP {r.status}")
                        if r.status >= 400:
                            raise SignalenError(f"Signalen refused {what}: HTTP {r.status}")
                        return await r.json(content_type=None)
        except _Retry as error:
            raise SignalenError(
                f"Signalen kept failing for {error} ({self.attempts} tries)"
            ) from None
        except (TimeoutError, aiohttp.ClientError) as error:
            name = type(error).__name__
            raise SignalenError(f"Signalen did not answer for {what} ({name})") from None
        raise SignalenError(f"no answer for {what}")  # pragma: no cover - tenacity reraises

    async def get(self, url: str, what: str, params: Mapping[str, str] | None = None) -> Any:
        """GET ``url`` (relative to the API) with the bearer token, renewed once on a 401."""
        full = urljoin(self.base_url, url)
        try:
            return await self._request(
                "GET", full, what=what, bearer=await self._bearer(), params=params
            )
        except PermissionError:
            if self.auth.token is not None:
                raise SignalenError(f"Signalen refused the token for {what} (HTTP 401)") from None
            token = await self._bearer(renew=True)
            try:
                return await self._request("GET", full, what=what, bearer=token, params=params)
            except PermissionError:
                raise SignalenError(f"Signalen refused a new token for {what} (401)") from None

    async def signals(self, updated_after: str | None) -> AsyncIterator[Signal]:
        """Every signal updated at or after ``updated_after`` (all when None), page by page."""
        params: dict[str, str] | None = {"ordering": "updated_at", "page_size": str(self.page_size)}
        if updated_after is not None and params is not None:
            params["updated_after"] = updated_after
        url: str | None = "signals/v1/private/signals/"
        page_number = 1
        while url is not None:
            body = await self.get(url, f"the signal list (page {page_number})", params)
            page = SignalPage.model_validate(body)
            for signal in page.results:
                yield signal
            url, params, page_number = page.links.next.href, None, page_number + 1

    async def history(self, signal: Signal, what: str) -> list[HistoryEntry]:
        """The signal's history entries of kind ``what`` (``UPDATE_STATUS``, ...)."""
        url = f"signals/v1/private/signals/{signal.id}/history"
        body = await self.get(url, f"the history of signal {signal.id}", {"what": what})
        if not isinstance(body, list):
            raise SignalenError(f"the history of signal {signal.id} is not a list")
        return [HistoryEntry.model_validate(entry) for entry in body]
