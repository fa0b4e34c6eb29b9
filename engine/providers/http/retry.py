"""When an HTTP call is tried again, and how long to wait first.

Exponential backoff with full jitter on retryable failures (429, 5xx, network
errors); a server's `Retry-After` (seconds, milliseconds or an HTTP date) wins
over the backoff, and a wait longer than the cap ends the retries instead of
sleeping for minutes (the engine reschedules with the error's `retry_after`).
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from engine.providers.base import ProviderError


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

    def delay_before_retry(self, attempt: int, err: ProviderError) -> float | None:
        """Seconds to wait after failed try number `attempt`; None: no further try."""
        if not err.retryable or attempt >= self.max_attempts:
            return None
        if err.retry_after is not None:
            if err.retry_after > self.max_retry_after_s:
                return None  # the caller (engine) reschedules with err.retry_after
            return err.retry_after
        return self.backoff(attempt)


def request_may_have_been_sent(exc: httpx.TransportError) -> bool:
    """False only when the connection never opened: then even a paid POST may be retried."""
    return not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


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
