"""HttpClient: an httpx.AsyncClient that applies this project's HTTP rules to every call.

Each request goes through the retry loop (retry.py), a failed answer becomes a
ProviderError (errors.py), a file body is written atomically (atomic.py). Auth
headers go only to the provider's own base URL, never to a CDN or S3 URL.
Log lines carry the method, the log-safe URL and the status: never headers,
bodies or keys.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import httpx

from engine.providers.base import ProviderError
from engine.providers.http.atomic import write_stream
from engine.providers.http.errors import ErrorHook, decode_body, network_error, response_error, unreadable_answer
from engine.providers.http.redact import safe_url
from engine.providers.http.retry import RetryPolicy, request_may_have_been_sent

log = logging.getLogger(__name__)

T = TypeVar("T")


def default_timeout(read_s: float = 60.0) -> httpx.Timeout:
    return httpx.Timeout(connect=10.0, read=read_s, write=60.0, pool=10.0)


@lru_cache(maxsize=1)
def shared_tls() -> ssl.SSLContext:
    """httpx's default TLS context, built once: each client would load the CA bundle into
    a context of its own (~1.2 MB apiece, a client per provider)."""
    return httpx.create_ssl_context()


def json_of(response: httpx.Response, provider: str, *, message: str | None = None) -> Any:
    """The answer's JSON body, or ProviderError(invalid_output, retryable)."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        raise unreadable_answer(provider, response, what=message) from None


class HttpClient:
    """An httpx.AsyncClient with this project's retry and error rules.

    `headers` go on every request to `base_url` (auth lives there); requests to
    absolute URLs elsewhere (CDN downloads, S3 uploads) get none of them
    unless `auth=True` is passed.
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        error_hook: ErrorHook | None = None,
        secrets: Iterable[str] = (),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._auth_headers = dict(headers or {})
        self.retry = retry or RetryPolicy()
        self.error_hook = error_hook
        self._secrets = tuple(s for s in secrets if s)
        if timeout is None:
            timeout = default_timeout()
        elif not isinstance(timeout, httpx.Timeout):
            timeout = default_timeout(float(timeout))
        # No default headers on the client: auth is added per request so an
        # absolute URL (S3, CDN) never receives the key.
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=True,
                                         verify=shared_tls())

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------ internals

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def _headers_for(self, url: str, extra: Mapping[str, str] | None, auth: bool | None) -> dict[str, str]:
        use_auth = auth if auth is not None else url.startswith(self.base_url)
        merged = dict(self._auth_headers) if use_auth else {}
        merged.update(extra or {})
        return merged

    def _error(self, response: httpx.Response) -> ProviderError:
        body = decode_body(response)
        return response_error(self.provider, response, body, hook=self.error_hook, secrets=self._secrets)

    async def _retry_or_give_up(self, attempt: int, err: ProviderError) -> bool:
        """Wait before the next try; False when no further try should happen."""
        delay = self.retry.delay_before_retry(attempt, err)
        if delay is None:
            return False
        log.info("%s: %s, retry %d/%d in %.2fs", self.provider, err.kind, attempt, self.retry.max_attempts - 1, delay)
        await asyncio.sleep(delay)
        return True

    async def _with_retries(
        self,
        method: str,
        url: str,
        attempt_once: Callable[[], Awaitable[T]],
        *,
        retry_network: bool,
    ) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await attempt_once()
            except ProviderError as err:
                log.warning("%s %s %s failed: %s", self.provider, method, safe_url(url), err)
                # A body cut off mid-stream after a paid POST: the work is done and
                # billed, so trying again here would pay twice; the caller decides.
                cut_paid_body = err.kind == "network" and not retry_network
                if cut_paid_body or not await self._retry_or_give_up(attempt, err):
                    raise
            except httpx.TransportError as exc:
                err = network_error(self.provider, exc, url)
                log.warning("%s %s %s failed: %s", self.provider, method, safe_url(url), err)
                # A POST whose request may have reached the server is only
                # retried when the connection never opened (no double charge).
                sent = request_may_have_been_sent(exc)
                if (sent and not retry_network) or not await self._retry_or_give_up(attempt, err):
                    raise err from None

    # ------------------------------------------------------------ public API

    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: bool | None = None,
        ok_statuses: Iterable[int] = (200, 201, 202, 204),
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send with retries; return the response or raise ProviderError."""
        url = self.url(path_or_url)
        merged = self._headers_for(url, headers, auth)
        ok = frozenset(ok_statuses)
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD", "DELETE", "PUT", "OPTIONS")

        async def once() -> httpx.Response:
            response = await self._client.request(
                method, url, json=json_body, params=params, data=data, files=files, headers=merged
            )
            log.debug("%s %s %s -> %d", self.provider, method, safe_url(url), response.status_code)
            if response.status_code in ok:
                return response
            raise self._error(response)

        return await self._with_retries(method, url, once, retry_network=idempotent)

    async def request_json(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        """Like request(), and the body must be JSON (else invalid_output, retryable)."""
        response = await self.request(method, path_or_url, **kwargs)
        return json_of(response, self.provider)

    async def stream_to_file(
        self,
        method: str,
        path_or_url: str,
        dest: Path,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Headers:
        """Stream a response body into `dest` atomically; return the response headers."""
        url = self.url(path_or_url)
        merged = self._headers_for(url, headers, auth)
        if idempotent is None:
            idempotent = method.upper() == "GET"

        async def once() -> httpx.Headers:
            async with self._client.stream(method, url, json=json_body, params=params, headers=merged) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise self._error(response)
                await write_stream(response, dest, self.provider)
                log.debug("%s %s %s -> saved %s", self.provider, method, safe_url(url), dest.name)
                return response.headers

        return await self._with_retries(method, url, once, retry_network=idempotent)

    async def download(self, url: str, dest: Path, headers: Mapping[str, str] | None = None) -> Path:
        """GET `url` into `dest` (temp file, then rename); retried like any GET."""
        await self.stream_to_file("GET", url, dest, headers=headers)
        return dest


async def download(
    url: str,
    dest: Path | str,
    headers: Mapping[str, str] | None = None,
    *,
    provider: str = "download",
    retry: RetryPolicy | None = None,
    timeout: httpx.Timeout | float | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Path:
    """Download one URL to `dest` atomically with a short-lived client.

    A cut download (fewer bytes than Content-Length, or a dropped connection)
    raises ProviderError(kind="network") and leaves no file behind.
    """
    dest = Path(dest)
    client = HttpClient(provider, url, retry=retry, timeout=timeout, transport=transport)
    try:
        return await client.download(url, dest, headers=headers)
    finally:
        await client.aclose()
