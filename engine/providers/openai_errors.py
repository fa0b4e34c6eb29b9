"""OpenAI SDK exceptions as ProviderErrors, for the text model and the image model alike.

The message says what happened in words a person can act on (no credit,
key rejected, refused, try later); `detail` keeps status, type and code for
the log, with secrets redacted and never a header.
"""

from __future__ import annotations

import json
from typing import Any

import openai

from engine.providers.base import ProviderError
from engine.providers.http import parse_retry_after, redact

PROVIDER = "openai"
QUOTA_CODES = frozenset(
    {
        "insufficient_quota",
        "credit_balance_exhausted",
        "organization_spend_limit_exceeded",
        "project_spend_limit_exceeded",
        "organization_usage_limit_exceeded",
        "billing_hard_limit_reached",
    }
)
REFUSAL_CODES = frozenset({"moderation_blocked", "content_policy_violation", "content_filter"})


def openai_error(exc: Exception, *, what: str = "text model", secrets: tuple[str, ...] = ()) -> ProviderError:
    """Map an openai SDK exception to a ProviderError (detail redacted, no headers)."""
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError(
            f"the OpenAI {what} did not answer in time", kind="timeout", retryable=True,
            detail="request timed out", provider=PROVIDER,
        )  # fmt: skip
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(
            "could not reach OpenAI", kind="network", retryable=True,
            detail=type(exc).__name__, provider=PROVIDER,
        )  # fmt: skip
    if isinstance(exc, (openai.APIResponseValidationError, json.JSONDecodeError)):
        # The SDK lets a 200 with a non-JSON body surface as a bare JSONDecodeError.
        return ProviderError(
            "OpenAI sent an unreadable answer", kind="invalid_output", retryable=True,
            detail="response failed SDK validation", provider=PROVIDER,
        )  # fmt: skip
    if not isinstance(exc, openai.APIStatusError):
        return ProviderError(
            f"the OpenAI {what} failed", kind="generation_failed", retryable=False,
            detail=redact(f"{type(exc).__name__}: {exc}", secrets), provider=PROVIDER,
        )  # fmt: skip
    status = exc.status_code
    code = (exc.code or "").lower()
    etype = (exc.type or "").lower()
    body_message = exc.body.get("message", "") if isinstance(exc.body, dict) else ""
    detail = redact(f"HTTP {status} type={etype or '-'} code={code or '-'}: {str(body_message)[:300]}", secrets)

    def err(message: str, kind: Any, retryable: bool = False, retry_after: float | None = None) -> ProviderError:
        return ProviderError(
            message, kind=kind, retryable=retryable, retry_after=retry_after, detail=detail, provider=PROVIDER
        )

    if status == 401:
        # OpenAI echoes part of a wrong key in its message: keep only a fixed detail.
        return ProviderError(
            "the OpenAI API key was rejected: check OPENAI_API_KEY", kind="authentication",
            detail=f"HTTP 401 code={code or '-'}", provider=PROVIDER,
        )  # fmt: skip
    if status == 403:
        return err(
            "this OpenAI key is not allowed to use this model (organisation verification or access)", "authentication"
        )
    if status == 429:
        if code in QUOTA_CODES or etype in QUOTA_CODES:
            return err(
                "the OpenAI account has no credit left (quota or spend limit): add credit and try again",
                "insufficient_credits",
            )
        return err(
            "OpenAI is rate limiting us: trying again shortly",
            "rate_limit",
            True,
            parse_retry_after(exc.response.headers),
        )
    if code in REFUSAL_CODES:
        return err(f"the OpenAI {what} refused this prompt: try rephrasing", "refused")
    if status == 404:
        return err(f"OpenAI does not know this model or item (check the configured {what} model)", "invalid_request")
    if status in (400, 422):
        return err(f"OpenAI rejected the request for the {what}", "invalid_request")
    if status in (408, 409) or status >= 500:
        return err(
            "OpenAI had a problem: try again later", "unavailable", True, parse_retry_after(exc.response.headers)
        )
    return err(f"the OpenAI {what} failed (HTTP {status})", "generation_failed")
