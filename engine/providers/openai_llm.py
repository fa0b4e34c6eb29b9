"""OpenAI LLM through the Responses API with strict JSON-schema output.

Caching: the workflow spec puts `cache_ttl: 10800` on system blocks. OpenAI
has no per-block TTL. It caches automatically any exact prompt prefix of
>=1024 tokens, so this provider maps the hint to:

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
import json
import logging
import re
from pathlib import Path
from typing import Any

import openai
from openai import AsyncOpenAI

from engine.providers import costs
from engine.providers.base import (
    LLMMessage,
    LLMProvider,
    LLMRequest,
    LLMResult,
    LLMUsage,
    ProviderError,
)
from engine.providers.http import parse_retry_after, redact

log = logging.getLogger(__name__)

PROVIDER = "openai"
VISION_MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
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

# --------------------------------------------------------------- schemas

# Keywords strict mode accepts (per OpenAI's structured-output guide). Anything
# else (default, allOf, not, if/then/else, oneOf, patternProperties...) makes
# the schema non-strict: it is then sent with strict=False rather than failing.
_STRICT_KEYWORDS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "items", "anyOf",
        "enum", "const", "description", "title", "$defs", "definitions", "$ref",
        "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "minLength", "maxLength",
    }
)  # fmt: skip
_STRICT_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"})


def strip_ux_keys(value: Any) -> Any:
    """A copy of a schema without `_ux*` keys (display hints the API does not know)."""
    if isinstance(value, dict):
        return {k: strip_ux_keys(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("_ux"))}
    if isinstance(value, list):
        return [strip_ux_keys(v) for v in value]
    return value


def is_strict_compatible(schema: dict[str, Any]) -> bool:
    """True when `schema` satisfies OpenAI's strict structured-output rules.

    Root is an object; every object closes with additionalProperties false and
    requires all its properties; only supported keywords and formats appear.
    """
    if not isinstance(schema, dict) or schema.get("type") != "object" or "anyOf" in schema:
        return False
    return _strict_node(schema)


def _strict_node(node: Any) -> bool:
    if isinstance(node, bool):
        return False  # `true`/`false` schemas are not allowed in strict mode
    if not isinstance(node, dict):
        return False
    for key in node:
        if key not in _STRICT_KEYWORDS and key != "$schema":
            return False
    if "format" in node and node["format"] not in _STRICT_FORMATS:
        return False
    types = node.get("type")
    type_list = types if isinstance(types, list) else [types]
    if "object" in type_list or "properties" in node:
        props = node.get("properties", {})
        if node.get("additionalProperties") is not False:
            return False
        if not isinstance(props, dict) or set(node.get("required", [])) != set(props):
            return False
        if not all(_strict_node(sub) for sub in props.values()):
            return False
    if "items" in node and not _strict_node(node["items"]):
        return False
    if "anyOf" in node and not all(_strict_node(sub) for sub in node["anyOf"]):
        return False
    for defs_key in ("$defs", "definitions"):
        if defs_key in node and not all(_strict_node(sub) for sub in node[defs_key].values()):
            return False
    return True


def schema_format(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """The Responses API `text.format` object for a JSON schema."""
    clean = strip_ux_keys(schema)
    clean.pop("$schema", None)  # meta keyword; not part of the output shape
    safe_name = re.sub(r"[^a-zA-Z0-9_-]", "_", name or "response")[:64] or "response"
    return {
        "type": "json_schema",
        "name": safe_name,
        "schema": clean,
        "strict": is_strict_compatible(clean),
    }


def prompt_cache_key(metadata: dict[str, Any]) -> str | None:
    """A stable key per workflow step (<=64 chars) so its calls share a cache shard."""
    step = metadata.get("step_id")
    if not step:
        return None
    key = f"ccbot:{metadata.get('workflow', metadata.get('module', ''))}:{step}"
    if len(key) > 64:
        key = "ccbot:" + hashlib.sha256(key.encode()).hexdigest()[:40]
    return key


# ---------------------------------------------------------------- errors


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


# ------------------------------------------------------------------ LLM


class OpenAILLM(LLMProvider):
    """Structured LLM calls through `client.responses.create`."""

    name = PROVIDER
    live = True

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.openai.com/v1",
        model: str = "gpt-5.2",
        max_retries: int = 2,
        timeout_s: float = 120.0,
        prompt_cache_retention: str | None = "24h",
        system_role: str = "developer",
        image_detail: str = "auto",
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.prompt_cache_retention = prompt_cache_retention or None
        self.system_role = system_role
        self.image_detail = image_detail
        self._secrets = (api_key,)
        # The SDK retries 408/409/429/5xx/connection errors itself (honouring
        # retry-after); we only map the final failure.
        self._client = AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout_s)

    @classmethod
    def from_settings(cls, settings: Any) -> OpenAILLM:
        return cls(
            settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            model=settings.openai_llm_model,
            max_retries=getattr(settings, "openai_max_retries", 2),
            timeout_s=settings.openai_timeout_s,
            prompt_cache_retention=settings.openai_prompt_cache_retention,
        )

    async def aclose(self) -> None:
        await self._client.close()

    # ------------------------------------------------------------ request

    async def build_input(self, messages: list[LLMMessage]) -> list[dict[str, Any]]:
        """Responses `input`: system blocks first (stable cached prefix), then the rest.

        Consecutive messages of one role become one message with several parts.
        """
        ordered = [m for m in messages if m.role == "system"] + [m for m in messages if m.role != "system"]
        items: list[dict[str, Any]] = []
        for message in ordered:
            role = self.system_role if message.role == "system" else message.role
            part = await self._part(message)
            if items and items[-1]["role"] == role:
                items[-1]["content"].append(part)
            else:
                items.append({"role": role, "content": [part]})
        return items

    async def _part(self, message: LLMMessage) -> dict[str, Any]:
        if message.image_path:
            if message.role != "user":
                raise ProviderError(
                    "only user messages can carry images", kind="invalid_request",
                    detail=f"image on a {message.role} message", provider=PROVIDER,
                )  # fmt: skip
            return {
                "type": "input_image",
                "image_url": await image_url(message.image_path),
                "detail": self.image_detail,
            }
        text = message.text or ""
        if message.role == "assistant":
            return {"type": "output_text", "text": text}
        return {"type": "input_text", "text": text}

    async def build_params(self, request: LLMRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": request.model or self.model,
            "input": await self.build_input(request.messages),
            "store": False,
        }
        if request.output_schema is not None:
            params["text"] = {"format": schema_format(request.output_schema, request.schema_name)}
        if request.max_output_tokens:
            params["max_output_tokens"] = request.max_output_tokens
        key = prompt_cache_key(request.metadata)
        if key:
            params["prompt_cache_key"] = key
        if self.prompt_cache_retention:
            params["prompt_cache_retention"] = self.prompt_cache_retention
        return params

    # ------------------------------------------------------------ call

    async def complete(self, request: LLMRequest) -> LLMResult:
        params = await self.build_params(request)
        step = request.metadata.get("step_id", "-")
        try:
            response = await self._client.responses.create(**params)
        except (openai.OpenAIError, json.JSONDecodeError) as exc:
            error = openai_error(exc, what="text model", secrets=self._secrets)
            log.warning("openai llm call for step %s failed: %s", step, error)
            raise error from None
        result = parse_response(response, expect_json=request.output_schema is not None)
        log.info(
            "openai llm step %s: model %s, %d in (%d cached) / %d out tokens, ~$%s",
            step, result.model, result.usage.input_tokens, result.usage.cached_tokens,
            result.usage.output_tokens, result.cost_usd,
        )  # fmt: skip
        return result


def parse_response(response: Any, *, expect_json: bool) -> LLMResult:
    """Text of the message item (reasoning items skipped), usage and cost."""
    status = getattr(response, "status", None)
    if status == "incomplete":
        reason = getattr(getattr(response, "incomplete_details", None), "reason", None) or "unknown"
        if reason == "content_filter":
            raise ProviderError(
                "the text model stopped because of its content filter: try rephrasing",
                kind="refused", detail="incomplete: content_filter", provider=PROVIDER,
            )  # fmt: skip
        raise ProviderError(
            "the text model's answer was cut off before it was complete", kind="invalid_output",
            retryable=reason != "max_output_tokens", detail=f"incomplete: {reason}", provider=PROVIDER,
        )  # fmt: skip
    if status in ("failed", "cancelled"):
        error = getattr(response, "error", None)
        raise ProviderError(
            "the text model failed to answer", kind="generation_failed", retryable=True,
            detail=f"status {status}: {getattr(error, 'code', '-')}", provider=PROVIDER,
        )  # fmt: skip
    texts: list[str] = []
    for item in getattr(response, "output", None) or []:
        if getattr(item, "type", None) != "message":
            continue  # reasoning, tool calls...
        for part in getattr(item, "content", None) or []:
            part_type = getattr(part, "type", None)
            if part_type == "refusal":
                raise ProviderError(
                    "the text model refused this request", kind="refused",
                    detail=f"refusal: {str(getattr(part, 'refusal', ''))[:200]}", provider=PROVIDER,
                )  # fmt: skip
            if part_type == "output_text":
                texts.append(getattr(part, "text", "") or "")
    text = "".join(texts)
    if not text.strip():
        raise ProviderError(
            "the text model sent an empty answer", kind="invalid_output", retryable=True,
            detail=f"no output_text (status {status})", provider=PROVIDER,
        )  # fmt: skip
    if expect_json:
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProviderError(
                "the text model's answer was not valid JSON", kind="invalid_output", retryable=True,
                detail=f"JSON error at char {exc.pos}", provider=PROVIDER,
            ) from None  # fmt: skip
    usage = usage_from(getattr(response, "usage", None))
    model = getattr(response, "model", None) or ""
    return LLMResult(text=text, model=model, usage=usage, cost_usd=costs.llm_cost_usd(model, usage))


def usage_from(raw: Any) -> LLMUsage:
    if raw is None:
        return LLMUsage()
    in_details = getattr(raw, "input_tokens_details", None)
    out_details = getattr(raw, "output_tokens_details", None)
    return LLMUsage(
        input_tokens=int(getattr(raw, "input_tokens", 0) or 0),
        output_tokens=int(getattr(raw, "output_tokens", 0) or 0),
        cached_tokens=int(getattr(in_details, "cached_tokens", 0) or 0),
        reasoning_tokens=int(getattr(out_details, "reasoning_tokens", 0) or 0),
    )


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
    data = await asyncio.to_thread(path.read_bytes)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
