"""The Responses API request for an LLMRequest: input items, output format, prompt caching.

Caching: the workflow spec puts `cache_ttl: 10800` on system blocks. OpenAI
has no per-block TTL. It caches automatically any exact prompt prefix of
>=1024 tokens, so the request maps the hint to:

- message order: every system block first (role "developer"), unchanged
  between calls, then the rest in the order given (image before per-request
  text is the caller's job);
- `prompt_cache_retention` from settings ("24h", the longest OpenAI offers);
- `prompt_cache_key` derived from the workflow step (`metadata["step_id"]`),
  so calls of one step land on the same cache shard.

The per-block number itself is not sent anywhere.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from pathlib import Path
from typing import Any

from engine.providers.base import LLMMessage, LLMRequest, ProviderError
from engine.providers.openai_schema import schema_format

PROVIDER = "openai"
VISION_MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
# A bigger PNG or WebP goes as a JPEG of the same pixels: a 2 MB key frame is held twice as
# base64 (our request and the SDK's body) for the whole call, ~5 MB per call in flight at once
JPEG_OVER_BYTES = 512 * 1024


async def build_params(
    request: LLMRequest,
    *,
    model: str,
    system_role: str,
    image_detail: str,
    prompt_cache_retention: str | None,
) -> dict[str, Any]:
    """Keyword arguments for `client.responses.create` (nothing stored on OpenAI's side)."""
    params: dict[str, Any] = {
        "model": request.model or model,
        "input": await build_input(request.messages, system_role=system_role, image_detail=image_detail),
        "store": False,
    }
    if request.output_schema is not None:
        params["text"] = {"format": schema_format(request.output_schema, request.schema_name)}
    if request.max_output_tokens:
        params["max_output_tokens"] = request.max_output_tokens
    if request.reasoning_effort:
        params["reasoning"] = {"effort": request.reasoning_effort}
    key = prompt_cache_key(request.metadata)
    if key:
        params["prompt_cache_key"] = key
    if prompt_cache_retention:
        params["prompt_cache_retention"] = prompt_cache_retention
    return params


async def build_input(messages: list[LLMMessage], *, system_role: str, image_detail: str) -> list[dict[str, Any]]:
    """Responses `input`: system blocks first (stable cached prefix), then the rest.

    Consecutive messages of one role become one message with several parts.
    """
    ordered = [m for m in messages if m.role == "system"] + [m for m in messages if m.role != "system"]
    items: list[dict[str, Any]] = []
    for message in ordered:
        role = system_role if message.role == "system" else message.role
        part = await _part(message, image_detail)
        if items and items[-1]["role"] == role:
            items[-1]["content"].append(part)
        else:
            items.append({"role": role, "content": [part]})
    return items


async def _part(message: LLMMessage, image_detail: str) -> dict[str, Any]:
    if message.image_path:
        if message.role != "user":
            raise ProviderError(
                "only user messages can carry images", kind="invalid_request",
                detail=f"image on a {message.role} message", provider=PROVIDER,
            )  # fmt: skip
        return {"type": "input_image", "image_url": await image_url(message.image_path), "detail": image_detail}
    text = message.text or ""
    if message.role == "assistant":
        return {"type": "output_text", "text": text}
    return {"type": "input_text", "text": text}


def prompt_cache_key(metadata: dict[str, Any]) -> str | None:
    """A stable key per workflow step (<=64 chars) so its calls share a cache shard."""
    step = metadata.get("step_id")
    if not step:
        return None
    key = f"ccbot:{metadata.get('workflow', metadata.get('module', ''))}:{step}"
    if len(key) > 64:
        key = "ccbot:" + hashlib.sha256(key.encode()).hexdigest()[:40]
    return key


async def image_url(path_or_url: str) -> str:
    """http(s)/data URLs pass through; a local file becomes a data URL with its real type."""
    if path_or_url.startswith(("http://", "https://", "data:")):
        return path_or_url
    from engine.media.images import mime_type

    path = Path(path_or_url)
    if not path.is_file():
        raise ProviderError(
            "the picture to describe is missing", kind="invalid_request",
            detail=f"no file {path.name}", provider=PROVIDER,
        )  # fmt: skip
    try:
        mime = await asyncio.to_thread(mime_type, path)
    except ValueError:
        mime = "unknown"
    if mime not in VISION_MIME_TYPES:
        raise ProviderError(
            "this picture format cannot be read by the text model (use PNG, JPEG, WEBP or GIF)",
            kind="invalid_request", detail=f"mime {mime}", provider=PROVIDER,
        )  # fmt: skip
    if mime in ("image/png", "image/webp") and path.stat().st_size > JPEG_OVER_BYTES:
        from engine.media.images import in_image_worker, jpeg_bytes

        data, mime = await in_image_worker(jpeg_bytes, path), "image/jpeg"
    else:
        data = await asyncio.to_thread(path.read_bytes)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
