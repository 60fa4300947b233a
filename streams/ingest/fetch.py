"""Fetching the resources behind a notification: allow-listed, authenticated, retried, validated.

- Only URLs under a configured API root are fetched (`Fetcher.get` refuses others as
  ``invalid_field``): a notification cannot make the service send its credentials elsewhere.
- ZGW APIs get a fresh HS256 JWT per request (``iss`` and ``client_id`` the client id, ``iat``
  now), as the ZGW authorisation scheme prescribes; Open Klant gets ``Token <token>``. The Zaken
  API also gets the ``Accept-Crs`` header it requires.
- 404, 429, 5xx, a timeout or a broken connection are retried (tenacity, exponential backoff
  from 0.25 s, ``CONTACTMON_FETCH_ATTEMPTS`` attempts): a Status notified before its transaction
  is visible, an API restarting. Then `Unmappable` ``source_unavailable``; any other status (401,
  403: our credentials) at once.
- Every response is validated with its pydantic model (`Unmappable` ``source_invalid`` names the
  resource and the field). Catalog resources (StatusType, ZaakType) change rarely and are kept
  for `CATALOG_TTL_S`.
"""

from __future__ import annotations

import time
from typing import Any, Final, TypeVar

import aiohttp
import jwt
import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from events.decode import Reason
from sources.zgw.contract import Unmappable
from streams.ingest.settings import IngestSettings

T = TypeVar("T")
CATALOG_TTL_S: Final = 3600.0
CATALOG_CACHE_MAX: Final = 10_000
RETRIED_STATUSES: Final = frozenset({404, 408, 425, 429, 500, 502, 503, 504})
USER_ID: Final = "contactmon-ingest"


class _Retry(Exception):
    """A failed attempt worth another one; carries what failed, never a URL."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class Fetcher:
    """GETs JSON resources from the allowed API roots, with the right credentials."""

    def __init__(
        self,
        settings: IngestSettings,
        zgw_roots: list[str],
        openklant_roots: list[str],
        session: aiohttp.ClientSession,
        *,
        first_backoff: float = 0.25,
    ) -> None:
        self._settings = settings
        self._zgw_roots = tuple(zgw_roots)
        self._openklant_roots = tuple(openklant_roots)
        self._session = session
        self._first_backoff = first_backoff
        self._catalog: dict[str, tuple[float, Any]] = {}
        self.attempts_failed = 0

    def _headers(self, url: str) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if url.startswith(self._zgw_roots):
            s = self._settings
            if s.zgw_client_id is not None and s.zgw_secret is not None:
                claims = {
                    "iss": s.zgw_client_id,
                    "iat": int(time.time()),
                    "client_id": s.zgw_client_id,
                    "user_id": USER_ID,
                    "user_representation": USER_ID,
                }
                token = jwt.encode(claims, s.zgw_secret.get_secret_value(), algorithm="HS256")
                headers["Authorization"] = f"Bearer {token}"
            headers["Accept-Crs"] = "EPSG:4326"
        elif self._settings.openklant_token is not None:
            headers["Authorization"] = f"Token {self._settings.openklant_token.get_secret_value()}"
        return headers

    async def get(self, url: str, model: Any, what: str, *, catalog: bool = False) -> Any:
        """The resource at ``url`` validated as ``model`` (a model class or a type such as
        ``list[AuditTrail]``); ``what`` names it in dead letters (``status``, ``zaaktype``)."""
        if not url.startswith(self._zgw_roots + self._openklant_roots):
            raise Unmappable(
                Reason.INVALID_FIELD, what, "is not under an API root of the ingest configuration"
            )
        if catalog:
            cached = self._catalog.get(url)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
        body = await self._get_json(url, what)
        try:
            if isinstance(model, type) and issubclass(model, BaseModel):
                value: Any = model.model_validate(body)
            else:
                value = TypeAdapter(model).validate_python(body)
        except ValidationError as error:
            first = error.errors(include_url=False, include_input=False)[0]
            field = ".".join([what, *(str(p) for p in first["loc"])])
            raise Unmappable(
                Reason.SOURCE_INVALID, field, "does not fit the API's specification"
            ) from None
        if catalog:
            if len(self._catalog) >= CATALOG_CACHE_MAX:
                self._catalog.clear()
            self._catalog[url] = (time.monotonic() + CATALOG_TTL_S, value)
        return value

    async def _get_json(self, url: str, what: str) -> Any:
        timeout = aiohttp.ClientTimeout(total=self._settings.fetch_timeout)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._settings.fetch_attempts),
            wait=wait_exponential(multiplier=self._first_backoff, max=8.0),
            retry=retry_if_exception_type(_Retry),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._once(url, what, timeout)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            detail = cause.what if isinstance(cause, _Retry) else "failed"
            raise Unmappable(
                Reason.SOURCE_UNAVAILABLE,
                what,
                f"{detail} after {self._settings.fetch_attempts} attempts",
            ) from None
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    async def _once(self, url: str, what: str, timeout: aiohttp.ClientTimeout) -> Any:
        try:
            async with self._session.get(
                url, headers=self._headers(url), timeout=timeout, allow_redirects=False
            ) as response:
                if response.status in RETRIED_STATUSES:
                    self.attempts_failed += 1
                    raise _Retry(f"answered {response.status}")
                if response.status != 200:
                    raise Unmappable(
                        Reason.SOURCE_UNAVAILABLE,
                        what,
                        f"answered {response.status} (credentials or permissions?)",
                    )
                raw = await response.read()
        except (aiohttp.ClientError, TimeoutError):
            self.attempts_failed += 1
            raise _Retry("did not answer") from None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise Unmappable(Reason.SOURCE_INVALID, what, "is not JSON") from None
