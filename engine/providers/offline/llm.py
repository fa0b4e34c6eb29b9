"""OfflineLLM: a schema-driven writer for a cozy pet channel, free, fast and deterministic."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from engine.providers.base import LLMProvider, LLMRequest, LLMResult, LLMUsage, ProviderError
from engine.providers.offline.context import RequestContext
from engine.providers.offline.pictures import image_notes
from engine.providers.offline.templates import Renderer
from engine.providers.offline.writer import Scope, SchemaWriter
from engine.providers.offline.writer_data import writer_data

OFFLINE_MODEL = "offline"


class OfflineLLM(LLMProvider):
    """A schema-driven writer for a cozy pet channel: free, fast, deterministic.

    What it says comes from the package's generic data plus the workflow's
    `request.hints` (its config.offline_writer), see `writer_data.py`.
    """

    name = "offline"
    live = False

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = max(0.0, float(delay_s))

    async def complete(self, request: LLMRequest) -> LLMResult:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        local_images = [
            m.image_path for m in request.messages
            if m.image_path and not m.image_path.startswith(("http:", "https:", "data:"))
        ]
        notes = await asyncio.to_thread(image_notes, local_images) if local_images else []
        try:
            data = writer_data(request.hints)
        except (ValueError, TypeError, KeyError) as exc:
            raise ProviderError("The workflow's offline answer data is not usable.", kind="invalid_request",
                                detail=str(exc)[:300], provider="offline") from None
        ctx = RequestContext(request, notes, data)
        schema = request.output_schema
        if schema is None:
            text = Renderer(ctx, data, Scope(), ctx.themes[0]).piece(data.plain_text)
        else:
            text = self._json_answer(schema, ctx, request.schema_name)
        images = sum(1 for m in request.messages if m.image_path)
        usage = LLMUsage(
            input_tokens=sum(len(m.text or "") for m in request.messages) // 4 + 85 * images,
            output_tokens=max(1, len(text) // 4),
        )
        return LLMResult(text=text, model=OFFLINE_MODEL, usage=usage, cost_usd=0.0)

    @staticmethod
    def _json_answer(schema: dict[str, Any], ctx: RequestContext, schema_name: str) -> str:
        try:
            validator = Draft202012Validator(schema)
            validator.check_schema(schema)
        except SchemaError as exc:
            raise ProviderError("The answer format of this step is not a valid JSON schema.",
                                kind="invalid_request", detail=str(exc.message)[:300], provider="offline") from None
        try:
            value = SchemaWriter(schema, ctx).value(schema, Scope(key=schema_name))
        except (KeyError, TypeError, ValueError, RecursionError) as exc:  # e.g. a $ref to nowhere
            raise ProviderError("The offline writer could not read this answer format.", kind="invalid_request",
                                detail=f"{type(exc).__name__}: {exc}"[:300], provider="offline") from None
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(map(str, errors[0].absolute_path)) or "(root)"
            raise ProviderError("The offline writer could not fill this answer format.", kind="invalid_output",
                                detail=f"{where}: {errors[0].message}"[:300], provider="offline")
        return json.dumps(value, ensure_ascii=False)
