"""Fetching the resources behind a notification: allow-listed, authenticated, retried, validated.

- Only URLs under a configured API root are fetched (`Fetcher.get` refuses others as
  ``invalid_field``): a notification cannot make the service send its credentials elsewhere.
- ZGW APIs get an HS256 JWT (`streams.ingest.zgw_token`: ``iss`` and ``client_id`` the client
  id, ``iat`` when it was signed, reused for ``CONTACTMON_ZGW_TOKEN_REUSE`` seconds), as the ZGW
  authorisation scheme prescribes; Open Klant gets ``Token <token>``. The Zaken API also gets
  the ``Accept-Crs`` header it requires.
- One `client_session` for the service's life: keep-alive connections, at most
  ``CONTACTMON_FETCH_CONNECTIONS`` of them, no cookies kept between fetches.
- 404, 429, 5xx, a timeout or a broken connection are retried (tenacity, exponential backoff
  from 0.25 s, ``CONTACTMON_FETCH_ATTEMPTS`` attempts in all): a Status notified before its
  transaction is visible, an API restarting. Then `Unmappable` ``source_unavailable``; any other
  status (401, 403: our credentials) at once. The first attempt is made directly; the retrying
  machinery is set up only once it failed (the usual fetch succeeds at once).
- Every response is validated with its pydantic model (`Unmappable` ``source_invalid`` names the
  resource and the field). Catalog resources (ZaakType, StatusType) are kept in a
  `CatalogCache` (``CONTACTMON_CATALOG_TTL``, ``CONTACTMON_CATALOG_CACHE_SIZE``; why that is safe:
  `streams.ingest.catalog_cache`); a concept ZaakType is not kept.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final, TypeVar

import aiohttp
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
from streams.ingest.catalog_cache import CatalogCache
from streams.ingest.settings import IngestSettings
from streams.ingest.zgw_token import ZgwToken

T = TypeVar("T")
RETRIED_STATUSES: Final = frozenset({404, 408, 425, 429, 500, 502, 503, 504})
MOST_BACKOFF_S: Final = 8.0
KEEPALIVE_S: Final = 30.0


def client_session(settings: IngestSettings) -> aiohttp.ClientSession:
    """The HTTP client the fetches share: keep-alive, bounded connections, no cookie jar."""
    connector = aiohttp.TCPConnector(
        limit=settings.fetch_connections, keepalive_timeout=KEEPALIVE_S
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=settings.fetch_timeout),
    )


def _kept(value: object) -> bool:
    """Whether a catalog resource may be kept: not a concept (a ZaakType says so)."""
    return getattr(value, "concept", False) is not True


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
        self._attempts = settings.fetch_attempts
        self._timeout = aiohttp.ClientTimeout(total=settings.fetch_timeout)
        self._zgw_roots = tuple(zgw_roots)
        self._roots = self._zgw_roots + tuple(openklant_roots)
        self._session = session
        self._first_backoff = first_backoff
        self.catalog = CatalogCache(settings.catalog_cache_size, settings.catalog_ttl)
        self.token: ZgwToken | None = None
        if settings.zgw_client_id is not None and settings.zgw_secret is not None:
            self.token = ZgwToken(
                settings.zgw_client_id,
                settings.zgw_secret.get_secret_value(),
                settings.zgw_token_reuse,
            )
        self._zgw_headers = {"Accept": "application/json", "Accept-Crs": "EPSG:4326"}
        self._openklant_headers = {"Accept": "application/json"}
        if settings.openklant_token is not None:
            token = settings.openklant_token.get_secret_value()
            self._openklant_headers["Authorization"] = f"Token {token}"
        self._adapters: dict[Any, TypeAdapter[Any]] = {}
        self.attempts_failed = 0

    def _headers(self, url: str) -> dict[str, str]:
        if not url.startswith(self._zgw_roots):
            return self._openklant_headers
        if self.token is None:
            return self._zgw_headers
        return {**self._zgw_headers, "Authorization": self.token.header()}

    def check(self, url: str, what: str) -> None:
        """`Unmappable` ``invalid_field`` unless ``url`` is under an allowed API root."""
        if not url.startswith(self._roots):
            raise Unmappable(
                Reason.INVALID_FIELD, what, "is not under an API root of the ingest configuration"
            )

    async def get(self, url: str, model: Any, what: str, *, catalog: bool = False) -> Any:
        """The resource at ``url`` validated as ``model`` (a model class or a type such as
        ``list[AuditTrail]``); ``what`` names it in dead letters (``status``, ``zaaktype``).
        ``catalog``: a catalog resource, taken from and kept in `catalog` (unless a concept)."""
        self.check(url, what)
        if catalog:
            return await self.catalog.get(url, lambda: self._fetch(url, model, what), keep=_kept)
        return await self._fetch(url, model, what)

    async def _fetch(self, url: str, model: Any, what: str) -> Any:
        body = await self._get_json(url, what)
        try:
            if isinstance(model, type) and issubclass(model, BaseModel):
                return model.model_validate(body)
            adapter = self._adapters.get(model)
            if adapter is None:  # building one costs far more than validating with it
                adapter = self._adapters[model] = TypeAdapter(model)
            return adapter.validate_python(body)
        except ValidationError as error:
            first = error.errors(include_url=False, include_input=False)[0]
            field = ".".join([what, *(str(p) for p in first["loc"])])
            raise Unmappable(
                Reason.SOURCE_INVALID, field, "does not fit the API's specification"
            ) from None

    async def _get_json(self, url: str, what: str) -> Any:
        try:
            return await self._once(url, what)  # the usual case: no retrying set up
        except _Retry as failed:
            if self._attempts == 1:
                raise self._unavailable(what, failed) from None
        # the rest of the attempts, the backoff doubling from first_backoff as before the first
        await asyncio.sleep(min(self._first_backoff, MOST_BACKOFF_S))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts - 1),
            wait=wait_exponential(multiplier=2 * self._first_backoff, max=MOST_BACKOFF_S),
            retry=retry_if_exception_type(_Retry),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._once(url, what)
        except RetryError as exc:
            raise self._unavailable(what, exc.last_attempt.exception()) from None
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    def _unavailable(self, what: str, cause: BaseException | None) -> Unmappable:
        detail = cause.what if isinstance(cause, _Retry) else "failed"
        return Unmappable(
            Reason.SOURCE_UNAVAILABLE, what, f"{detail} after {self._attempts} attempts"
        )

    async def _once(self, url: str, what: str) -> Any:
        try:
            async with self._session.get(
                url, headers=self._headers(url), timeout=self._timeout, allow_redirects=False
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
