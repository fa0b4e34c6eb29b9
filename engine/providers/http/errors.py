"""How a failed HTTP answer or a network failure becomes a ProviderError.

The user message is a sentence a person can read ("the leonardo API key was
rejected..."); the provider's own text goes to `detail` (log only, redacted).
A provider may pass an ErrorHook for its own shapes (out of credits, refused
prompts); it falls back to the generic status mapping here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from engine.providers.base import ErrorKind, ProviderError
from engine.providers.http.redact import redact, safe_url
from engine.providers.http.retry import parse_retry_after

# A hook gets the failed response and its decoded body (dict, list, str) and may
# return a provider-specific ProviderError; None falls back to the generic mapping.
ErrorHook = Callable[[httpx.Response, Any], "ProviderError | None"]

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


def error_from_response(
    provider: str,
    response: httpx.Response,
    body: Any = None,
    *,
    secrets: Iterable[str] = (),
) -> ProviderError:
    """The generic status -> ProviderError mapping.

    408, 409, 429 and 5xx are retryable (with the answer's Retry-After); every
    other status is not: the same call cannot succeed.
    """
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


def response_error(
    provider: str,
    response: httpx.Response,
    body: Any,
    *,
    hook: ErrorHook | None,
    secrets: Iterable[str],
) -> ProviderError:
    """The provider's hook decides first; the generic mapping covers the rest."""
    if hook is not None:
        custom = hook(response, body)
        if custom is not None:
            custom.detail = redact(custom.detail, secrets)
            custom.provider = custom.provider or provider
            return custom
    return error_from_response(provider, response, body, secrets=secrets)


def network_error(provider: str, exc: Exception, url: str | httpx.URL) -> ProviderError:
    """A transport failure (no answer at all): always retryable."""
    is_timeout = isinstance(exc, httpx.TimeoutException)
    return ProviderError(
        f"the {provider} service did not answer in time" if is_timeout else f"could not reach the {provider} service",
        kind="timeout" if is_timeout else "network",
        retryable=True,
        detail=f"{type(exc).__name__} on {safe_url(url)}",
        provider=provider,
    )


def unreadable_answer(provider: str, response: httpx.Response, *, what: str | None = None) -> ProviderError:
    """A 2xx answer whose body is not the JSON it should be: retryable."""
    return ProviderError(
        what or f"the {provider} service sent an unreadable answer",
        kind="invalid_output",
        retryable=True,
        detail=f"non-JSON body from {response.request.method} {safe_url(response.request.url)}",
        provider=provider,
    )
