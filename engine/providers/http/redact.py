"""What of a URL or a text may appear in a log line, an error detail or a report.

A URL keeps scheme, host, port and path: never its user info or query string
(where gateways put tokens). A text has every known secret replaced by `***`.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx


def safe_url(url: str | httpx.URL | None) -> str:
    """The URL without user info, query string or trailing slash; "-" for none.

    Used for request URLs in logs and for configured base URLs in `ccbot
    doctor`; a setting that does not parse as a URL shows as "invalid URL".
    """
    if not url:
        return "-"
    try:
        parsed = httpx.URL(str(url))
    except Exception:  # noqa: BLE001 - a malformed URL is shown as "invalid"
        return "invalid URL"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}".rstrip("/")


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with each secret (4 characters or longer) replaced by `***`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
