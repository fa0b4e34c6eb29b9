"""The AsyncOpenAI client of every OpenAI provider: the SDK's own defaults, with one TLS
context shared by all of them.

Each SDK client would otherwise build an SSLContext of its own and load the system's CA
store into it, ~1.2 MB apiece, and a bot on the live providers has several (text,
pictures, speech). The context is the one the SDK's HTTP library (httpx2) builds by
default, so what is trusted does not change.
"""

from __future__ import annotations

import ssl
from functools import lru_cache

import httpx2
from openai import AsyncOpenAI, DefaultAsyncHttpxClient


@lru_cache(maxsize=1)
def shared_tls() -> ssl.SSLContext:
    return httpx2.create_ssl_context()


def openai_client(api_key: str, *, base_url: str, max_retries: int, timeout_s: float) -> AsyncOpenAI:
    """The SDK retries 408/409/429/5xx and connection errors itself (honouring retry-after)."""
    return AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout_s,
                       http_client=DefaultAsyncHttpxClient(verify=shared_tls()))
