"""OpenAI text model through the Responses API: one structured call per LLMRequest.

openai_request builds the call (input order for prompt caching, the strict
JSON-schema format), openai_errors maps a failed call; this module makes the
call and reads the answer: the message text (reasoning items skipped),
refusals and cut-off answers as ProviderErrors, token usage and its cost.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import openai

from engine.providers import costs
from engine.providers.base import Cost, LLMProvider, LLMRequest, LLMResult, LLMUsage, ProviderError
from engine.providers.openai_client import openai_client
from engine.providers.openai_errors import openai_error
from engine.providers.openai_request import build_params

log = logging.getLogger(__name__)

PROVIDER = "openai"
ESTIMATE_OUTPUT_TOKENS = 8_000  # the most a step's answer (reasoning included) is reckoned to take
# The shape of a structured answer (a reasoning item, then the message), read once at start-up
WARM_UP_ANSWER: dict[str, Any] = {
    "id": "resp_warm_up", "object": "response", "created_at": 0, "model": "gpt-5.2", "status": "completed",
    "parallel_tool_calls": False, "tool_choice": "auto", "tools": [],
    "output": [
        {"type": "reasoning", "id": "rs_warm_up", "summary": []},
        {"type": "message", "id": "msg_warm_up", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "{}", "annotations": []}]},
    ],
    "text": {"format": {"type": "json_schema", "name": "warm_up", "schema": {"type": "object"}, "strict": True}},
    "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2,
              "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
}  # fmt: skip
WARM_UP_REQUEST: dict[str, Any] = {
    "model": "gpt-5.2", "store": False, "max_output_tokens": 1, "reasoning": {"effort": "low"},
    "input": [{"role": "developer", "content": [{"type": "input_text", "text": "-"}]},
              {"role": "user", "content": [{"type": "input_text", "text": "-"},
                                           {"type": "input_image", "image_url": "data:,", "detail": "auto"}]}],
    "text": {"format": {"type": "json_schema", "name": "warm_up", "schema": {"type": "object"}, "strict": True}},
}  # fmt: skip


class OpenAILLM(LLMProvider):
    """Structured LLM calls through `client.responses.create`."""

    name = PROVIDER
    live = True

    def warm_up(self) -> None:
        """The SDK imports its Responses resource (building its pydantic models) on the first
        `client.responses`: ~0.1 s of CPU that would stall the event loop at the first call."""
        from openai.types.responses import Response

        Response.model_rebuild()
        _ = self._client.responses
        try:  # ... the type adapters of the first answer it reads, the type hints of the first request
            from openai._models import construct_type
            from openai._utils import maybe_transform
            from openai.types.responses.response_create_params import ResponseCreateParamsNonStreaming

            construct_type(type_=Response, value=WARM_UP_ANSWER)
            maybe_transform(WARM_UP_REQUEST, ResponseCreateParamsNonStreaming)
        except Exception:  # only a cache warmer: a changed SDK must not stop the start
            log.debug("could not warm up the Responses models", exc_info=True)

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
        self._client = openai_client(api_key, base_url=base_url, max_retries=max_retries, timeout_s=timeout_s)

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

    def estimate_cost(self, request: LLMRequest) -> Cost:
        """On the safe side before the call: every character a token (text is
        about four to one), ~1,100 tokens a picture, no cache hit, and the most
        output the call may write."""
        text = sum(len(m.text or "") for m in request.messages) + len(str(request.output_schema or ""))
        pictures = sum(1 for m in request.messages if m.image_path)
        usage = LLMUsage(input_tokens=text + 1100 * pictures,
                         output_tokens=request.max_output_tokens or ESTIMATE_OUTPUT_TOKENS)
        usd = costs.llm_cost_usd(request.model or self.model, usage)
        return Cost(usd=usd, note="a ceiling, before the call") if usd else Cost()

    async def complete(self, request: LLMRequest) -> LLMResult:
        params = await build_params(
            request,
            model=self.model,
            system_role=self.system_role,
            image_detail=self.image_detail,
            prompt_cache_retention=self.prompt_cache_retention,
        )
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
