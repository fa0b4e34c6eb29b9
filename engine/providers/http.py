"""Shared HTTP plumbing for the httpx-based providers (Leonardo, ElevenLabs, Sora).

One place decides:
- timeouts and retries (exponential backoff with full jitter on 429, 5xx and
  network errors; `Retry-After` honoured in seconds or as an HTTP date, and a
  wait longer than the cap ends the retries instead of sleeping for minutes);
- which statuses are never retried (400, 401, 403, 404, 422: the same call
  cannot succeed);
- how a failed response becomes a ProviderError with a message a person can
  read, while the provider's own text goes to `detail` (log only, redacted);
- how files are downloaded: streamed into a temp file next to the target and
  `os.replace()`d only when complete, so a cut download never leaves a file.

Log lines carry the method, the URL without its query string and the status:
never headers, bodies or keys.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from engine.providers.base import ErrorKind, ProviderError

log = logging.getLogger(__name__)

NEVER_RETRY = frozenset({400, 401, 403, 404, 422})
CHUNK_BYTES = 256 * 1024
FLUSH_BYTES = 2 * 1024 * 1024  # write to disk (in a thread) in ~2 MB batches

# A hook gets the failed response and its decoded body (dict, list, str) and may
# return a provider-specific ProviderError; None falls back to the generic mapping.
ErrorHook = Callable[[httpx.Response, Any], "ProviderError | None"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. Tests pass tiny delays."""

    max_attempts: int = 4  # total tries, including the first
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0  # a longer Retry-After ends the retries

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the n-th retry (1-based)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)


def default_timeout(read_s: float = 60.0) -> httpx.Timeout:
    return httpx.Timeout(connect=10.0, read=read_s, write=60.0, pool=10.0)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def safe_url(url: str | httpx.URL) -> str:
    """The URL without query string or user info: what may appear in a log."""
    parsed = httpx.URL(str(url))
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def decode_body(response: httpx.Response) -> Any:
    """JSON if it parses, else the (short) text."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        try:
            return response.text[:500]
        except Exception:  # noqa: BLE001 - undecodable bytes are just "no body"
            return ""


def body_message(body: Any) -> str:
    """Dig a human message out of the usual error shapes."""
    if isinstance(body, str):
        return body[:300]
    if isinstance(body, list):
        return "; ".join(body_message(item) for item in body[:3])
    if not isinstance(body, dict):
        return ""
    for key in ("error", "detail", "message", "msg", "description"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value[:300]
        if isinstance(value, (dict, list)):
            found = body_message(value)
            if found:
                return found
    return ""


_STATUS_TEXT: dict[int, tuple[ErrorKind, str]] = {
    400: ("invalid_request", "the {p} service rejected the request"),
    401: ("authentication", "the {p} API key was rejected: check it in the settings"),
    402: ("insufficient_credits", "the {p} account is out of credits"),
    403: ("authentication", "the {p} API key is not allowed to do this"),
    404: ("invalid_request", "the {p} service does not know this item or model"),
    408: ("timeout", "the {p} service timed out"),
    409: ("unavailable", "the {p} service reported a conflict: try again"),
    422: ("invalid_request", "the {p} service rejected the request's values"),
    429: ("rate_limit", "the {p} service is busy (rate limit): trying again later"),
}


def error_from_response(
    provider: str,
    response: httpx.Response,
    body: Any = None,
    *,
    secrets: Iterable[str] = (),
) -> ProviderError:
    """The generic status -> ProviderError mapping."""
    status = response.status_code
    if body is None:
        body = decode_body(response)
    kind, template = _STATUS_TEXT.get(
        status,
        ("unavailable", "the {p} service had a problem (HTTP {s}): try again later")
        if status >= 500
        else ("generation_failed", "the {p} service answered HTTP {s}"),
    )
    retryable = status in (408, 409, 429) or status >= 500
    detail = redact(f"HTTP {status} {safe_url(response.request.url)}: {body_message(body)}", secrets)
    return ProviderError(
        template.format(p=provider, s=status),
        kind=kind,
        retryable=retryable,
        retry_after=parse_retry_after(response.headers) if retryable else None,
        detail=detail,
        provider=provider,
    )


def network_error(provider: str, exc: Exception, url: str | httpx.URL) -> ProviderError:
    is_timeout = isinstance(exc, httpx.TimeoutException)
    return ProviderError(
        f"the {provider} service did not answer in time" if is_timeout else f"could not reach the {provider} service",
        kind="timeout" if is_timeout else "network",
        retryable=True,
        detail=f"{type(exc).__name__} on {safe_url(url)}",
        provider=provider,
    )


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
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=True)

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

    def _error(self, response: httpx.Response, body: Any) -> ProviderError:
        if self.error_hook is not None:
            custom = self.error_hook(response, body)
            if custom is not None:
                custom.detail = redact(custom.detail, self._secrets)
                custom.provider = custom.provider or self.provider
                return custom
        return error_from_response(self.provider, response, body, secrets=self._secrets)

    async def _sleep_before_retry(self, attempt: int, err: ProviderError) -> bool:
        """Wait before the next try; False when no further try should happen."""
        if not err.retryable or attempt >= self.retry.max_attempts:
            return False
        if err.retry_after is not None:
            if err.retry_after > self.retry.max_retry_after_s:
                return False  # the caller (engine) reschedules with err.retry_after
            delay = err.retry_after
        else:
            delay = self.retry.backoff(attempt)
        log.info(
            "%s: %s, retry %d/%d in %.2fs",
            self.provider,
            err.kind,
            attempt,
            self.retry.max_attempts - 1,
            delay,
        )
        await asyncio.sleep(delay)
        return True

    async def _with_retries(
        self,
        method: str,
        url: str,
        attempt_once: Callable[[], Awaitable[Any]],
        *,
        retry_network: bool,
    ) -> Any:
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
                if cut_paid_body or not await self._sleep_before_retry(attempt, err):
                    raise
            except httpx.TransportError as exc:
                err = network_error(self.provider, exc, url)
                log.warning("%s %s %s failed: %s", self.provider, method, safe_url(url), err)
                # A POST whose request may have reached the server is only
                # retried when the connection never opened (no double charge).
                sent = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
                if (sent and not retry_network) or not await self._sleep_before_retry(attempt, err):
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
            raise self._error(response, decode_body(response))

        return await self._with_retries(method, url, once, retry_network=idempotent)

    async def request_json(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        """Like request(), and the body must be JSON (else invalid_output, retryable)."""
        response = await self.request(method, path_or_url, **kwargs)
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            raise ProviderError(
                f"the {self.provider} service sent an unreadable answer",
                kind="invalid_output",
                retryable=True,
                detail=f"non-JSON body from {method} {safe_url(response.request.url)}",
                provider=self.provider,
            ) from None

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
                    raise self._error(response, decode_body(response))
                await _write_stream(response, dest, self.provider)
                log.debug("%s %s %s -> saved %s", self.provider, method, safe_url(url), dest.name)
                return response.headers

        return await self._with_retries(method, url, once, retry_network=idempotent)

    async def download(self, url: str, dest: Path, headers: Mapping[str, str] | None = None) -> Path:
        """GET `url` into `dest` (temp file, then rename); retried like any GET."""
        await self.stream_to_file("GET", url, dest, headers=headers)
        return dest


async def _write_stream(response: httpx.Response, dest: Path, provider: str) -> None:
    """Write the body to a temp file beside `dest`; rename only when complete."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.part"
    expected = response.headers.get("content-length")
    # With a Content-Encoding the header counts encoded bytes: only check plain bodies.
    if response.headers.get("content-encoding", "identity") != "identity":
        expected = None
    written = 0
    handle = await asyncio.to_thread(open, tmp, "wb")
    try:
        buffer = bytearray()
        try:
            async for chunk in response.aiter_bytes(CHUNK_BYTES):
                buffer += chunk
                written += len(chunk)
                if len(buffer) >= FLUSH_BYTES:
                    await asyncio.to_thread(handle.write, bytes(buffer))
                    buffer.clear()
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise ProviderError(
                f"the download from {provider} was cut off",
                kind="network",
                retryable=True,
                detail=f"{type(exc).__name__} after {written} bytes from {safe_url(response.request.url)}",
                provider=provider,
            ) from None
        if buffer:
            await asyncio.to_thread(handle.write, bytes(buffer))
        await asyncio.to_thread(handle.close)
        if expected is not None and expected.isdigit() and int(expected) != written:
            raise ProviderError(
                f"the download from {provider} was cut off",
                kind="network",
                retryable=True,
                detail=f"got {written} of {expected} bytes from {safe_url(response.request.url)}",
                provider=provider,
            )
        if written == 0:
            raise ProviderError(
                f"{provider} sent an empty file",
                kind="invalid_output",
                retryable=True,
                detail=f"empty body from {safe_url(response.request.url)}",
                provider=provider,
            )
        await asyncio.to_thread(os.replace, tmp, dest)
    except BaseException:
        if not handle.closed:
            await asyncio.to_thread(handle.close)
        await asyncio.to_thread(_unlink_quietly, tmp)
        raise


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


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


def write_bytes_atomic(dest: Path, data: bytes) -> None:
    """Blocking helper (run it in a thread): temp file beside dest, then rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.part"
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, dest)
    except BaseException:
        _unlink_quietly(tmp)
        raise
