"""Files that appear whole or not at all.

A body is written to a temp file beside its target and `os.replace()`d only
when complete, so a cut download (fewer bytes than Content-Length, a dropped
connection, an empty body) leaves no file behind and raises a retryable
ProviderError.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import httpx

from engine.providers.base import ProviderError
from engine.providers.http.redact import safe_url

CHUNK_BYTES = 256 * 1024
FLUSH_BYTES = 2 * 1024 * 1024  # write to disk (in a thread) in ~2 MB batches


def temp_path_beside(dest: Path) -> Path:
    """A hidden, unique `.part` name in dest's folder (created if missing)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    return dest.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.part"


def _cut_off(provider: str, detail: str) -> ProviderError:
    return ProviderError(
        f"the download from {provider} was cut off", kind="network", retryable=True, detail=detail, provider=provider
    )


async def write_stream(response: httpx.Response, dest: Path, provider: str) -> None:
    """Write a streamed body to a temp file beside `dest`; rename only when complete."""
    tmp = temp_path_beside(dest)
    source = safe_url(response.request.url)
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
            raise _cut_off(provider, f"{type(exc).__name__} after {written} bytes from {source}") from None
        if buffer:
            await asyncio.to_thread(handle.write, bytes(buffer))
        await asyncio.to_thread(handle.close)
        if expected is not None and expected.isdigit() and int(expected) != written:
            raise _cut_off(provider, f"got {written} of {expected} bytes from {source}")
        if written == 0:
            raise ProviderError(
                f"{provider} sent an empty file", kind="invalid_output", retryable=True,
                detail=f"empty body from {source}", provider=provider,
            )  # fmt: skip
        await asyncio.to_thread(os.replace, tmp, dest)
    except BaseException:
        if not handle.closed:
            await asyncio.to_thread(handle.close)
        await asyncio.to_thread(tmp.unlink, missing_ok=True)
        raise


def write_bytes_atomic(dest: Path, data: bytes) -> None:
    """Blocking helper (run it in a thread): temp file beside dest, then rename."""
    tmp = temp_path_beside(dest)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
