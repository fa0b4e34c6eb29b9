"""Shared HTTP plumbing for the httpx-based providers (Leonardo, ElevenLabs, Sora).

One place decides each rule, one module per rule:

- `retry`: exponential backoff with full jitter on 429, 5xx and network
  errors; `Retry-After` honoured in seconds or as an HTTP date, and a wait
  longer than the cap ends the retries instead of sleeping for minutes;
- `errors`: how a failed response becomes a ProviderError with a message a
  person can read, while the provider's own text goes to `detail` (log only,
  redacted); 408/409/429/5xx are retryable, other statuses are not;
- `atomic`: files are streamed into a temp file next to the target and
  `os.replace()`d only when complete, so a cut download never leaves a file;
- `redact`: what of a URL or a text may be logged;
- `client`: HttpClient, which applies all of the above to every call.

The names below are the package's public face; import them from here.
"""

from engine.providers.http.atomic import write_bytes_atomic
from engine.providers.http.client import HttpClient, default_timeout, download, json_of, shared_tls
from engine.providers.http.errors import (
    ErrorHook,
    body_message,
    decode_body,
    error_from_response,
    network_error,
)
from engine.providers.http.redact import redact, safe_url
from engine.providers.http.retry import RetryPolicy, parse_retry_after

__all__ = [
    "ErrorHook",
    "HttpClient",
    "RetryPolicy",
    "body_message",
    "decode_body",
    "default_timeout",
    "download",
    "error_from_response",
    "json_of",
    "network_error",
    "parse_retry_after",
    "redact",
    "safe_url",
    "shared_tls",
    "write_bytes_atomic",
]
