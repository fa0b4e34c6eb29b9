"""`api.llm`: one structured LLM call, validated against the step's schema.

Each element of `system` and `input` becomes its own message, in order
(cc-workflow.md §1.6); `{"type": "image", "content": path}` becomes an
image-only message. An answer that is not valid JSON for `output_schema` gets
one automatic repair attempt, then a clear, retryable error: an invalid answer
is never stored as valid.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from engine.definitions import ModuleDef
from engine.modules.base import Module, ModuleContext, ModuleFailure, require_inputs
from engine.providers.base import LLMMessage, LLMRequest, LLMResult, ProviderError
from engine.ids import new_id
from engine.spending import OverBudget
from engine.store import NewEvent, SpendChange

log = logging.getLogger(__name__)

_FENCE = re.compile(r"^\s*```(?:json)?\s*(?P<body>.*?)\s*```\s*$", re.DOTALL)
FEEDBACK_PREFIX = "FEEDBACK FROM USER: "
REPAIR_PROMPT = (
    "Your previous answer did not match the required JSON schema: {errors}. "
    "Answer again with only the JSON object, matching the schema exactly."
)


def parts_to_messages(value: Any, role: str) -> list[LLMMessage]:
    """A string, one part or a list of parts -> messages (empties skipped)."""
    items = value if isinstance(value, list) else [value]
    messages: list[LLMMessage] = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, str):
            if item.strip():
                messages.append(LLMMessage(role=role, text=item))  # type: ignore[arg-type]
            continue
        if not isinstance(item, dict):
            messages.append(LLMMessage(role=role, text=str(item)))  # type: ignore[arg-type]
            continue
        content = item.get("content")
        if item.get("type") == "image":
            if content:
                messages.append(LLMMessage(role=role, image_path=str(content)))  # type: ignore[arg-type]
            continue
        if content is None or not str(content).strip():
            continue
        messages.append(
            LLMMessage(
                role=item.get("role", role),
                text=str(content),
                cache_ttl=item.get("cache_ttl"),
            )
        )
    return messages


def parse_answer(text: str) -> Any:
    match = _FENCE.match(text)
    return json.loads(match.group("body") if match else text)


def schema_errors(schema: dict[str, Any], value: Any) -> list[str]:
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message[:200]}" for e in errors[:8]]


def feedback_messages(earlier: list[dict[str, Any]]) -> list[LLMMessage]:
    """A retry's history (cc-workflow.md §1.9): each earlier answer as the
    assistant's, then the feedback given after it as the person's."""
    messages = []
    for entry in earlier:
        messages.append(LLMMessage(role="assistant", text=str(entry.get("answer", ""))))
        if entry.get("feedback"):
            messages.append(LLMMessage(role="user", text=FEEDBACK_PREFIX + str(entry["feedback"])))
    return messages


class LLMModule(Module):
    module_id = "api.llm"
    calls_provider = True

    def check_config(self, module: ModuleDef) -> list[str]:
        return require_inputs(module, "input")

    def answer_text(self, outputs: dict[str, Any]) -> str | None:
        return str(outputs.get("response_text", ""))

    async def execute(self, inputs: dict[str, Any], ctx: ModuleContext) -> dict[str, Any]:
        messages = parts_to_messages(inputs.get("system"), "system")
        messages += parts_to_messages(inputs.get("input"), "user")
        for message in messages:
            if message.image_path and not re.match(r"^(https?|data):", message.image_path):
                if not Path(message.image_path).is_file():
                    raise ModuleFailure(
                        "The picture to analyse is missing. Go back and pick an image again.",
                        retryable=False,
                        detail=f"image not found: {message.image_path}",
                    )
        messages += feedback_messages(ctx.earlier_answers)
        schema = inputs.get("output_schema") if isinstance(inputs.get("output_schema"), dict) else None
        metadata = dict(inputs.get("metadata") or {})
        metadata.setdefault("step_id", ctx.step_id)
        metadata["module"] = ctx.module.name
        provider = ctx.providers.llm(inputs.get("provider"))
        request = LLMRequest(
            messages=messages,
            output_schema=schema,
            schema_name=re.sub(r"[^A-Za-z0-9_-]", "_", ctx.module.name)[:64],
            model=(inputs.get("ai_config") or {}).get("model") or inputs.get("model"),
            metadata=metadata,
            hints=ctx.workflow.config.get("offline_writer") or {},
        )
        result = await self._call(provider, request, ctx)
        if schema is None:
            return self._outputs(result.text, result.text, result)
        parsed, errors = self._validate(result.text, schema)
        if errors:
            log.warning("LLM answer invalid for %s: %s; asking once for a repair", ctx.module.name, errors)
            repair = request.model_copy(
                update={
                    "messages": request.messages
                    + [
                        LLMMessage(role="assistant", text=result.text[:20000]),
                        LLMMessage(role="user", text=REPAIR_PROMPT.format(errors="; ".join(errors))),
                    ]
                }
            )
            result = await self._call(provider, repair, ctx)
            parsed, errors = self._validate(result.text, schema)
            if errors:
                raise ModuleFailure(
                    "The AI's answer came back in the wrong shape twice. Please try again.",
                    retryable=True,
                    detail="; ".join(errors),
                )
        return self._outputs(parsed, result.text, result)

    async def _call(self, provider: Any, request: LLMRequest, ctx: ModuleContext) -> LLMResult:
        spending = ctx.services.spending
        key = new_id("llm")
        estimate = spending.usd(provider.estimate_cost(request)) if hasattr(provider, "estimate_cost") else 0.0
        try:  # reserved before the call: a crash after it cannot lose the charge
            reserved = await spending.reserve(key, ctx.run.owner, ctx.run.run_id, getattr(provider, "name", "llm"),
                                              "llm", estimate, what="This step's AI call")
        except OverBudget as exc:
            raise ModuleFailure(str(exc), retryable=True, detail="over budget") from None
        try:
            result: LLMResult = await provider.complete(request)
        except ProviderError as exc:
            log.warning("LLM call failed in %s: %s", ctx.module.name, exc)
            if reserved is not None and exc.kind in ("authentication", "invalid_request", "rate_limit", "refused"):
                ctx.spend.append(SpendChange(key=key, owner=ctx.run.owner, provider=reserved.provider, kind="llm",
                                             status="released"))  # refused before any work: not billed
            raise ModuleFailure(
                exc.user_message,
                retryable=exc.kind not in ("authentication", "insufficient_credits"),
                detail=str(exc),
            ) from None
        if reserved is not None or result.cost_usd:
            ctx.spend.append(SpendChange(key=key, owner=ctx.run.owner, run_id=ctx.run.run_id,
                                         provider=getattr(provider, "name", "llm"), kind="llm", status="charged",
                                         actual_usd=result.cost_usd if result.cost_usd is not None else estimate,
                                         estimate_usd=None if reserved is not None else estimate))
        ctx.emitted.append(
            NewEvent(
                "llm_call",
                {
                    "model": result.model,
                    "usage": result.usage.model_dump(),
                    "cost_usd": result.cost_usd,
                    "provider": getattr(provider, "name", "llm"),
                },
                ctx.step_id,
                ctx.module.name,
            )
        )
        return result

    @staticmethod
    def _validate(text: str, schema: dict[str, Any]) -> tuple[Any, list[str]]:
        try:
            parsed = parse_answer(text)
        except (json.JSONDecodeError, ValueError) as exc:
            return None, [f"not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc})"]
        return parsed, schema_errors(schema, parsed)

    @staticmethod
    def _outputs(response: Any, text: str, result: LLMResult) -> dict[str, Any]:
        return {
            "response": response,
            "response_text": text,
            "model": result.model,
            "usage": result.usage.model_dump(),
        }
