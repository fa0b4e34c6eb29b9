"""Interactive modules that ask the person: `user.select`, `user.text_input`."""

from __future__ import annotations

import json
from typing import Any

from engine.definitions import ModuleDef
from engine.modules.base import (
    InvalidResponse,
    Module,
    ModuleContext,
    ModuleFailure,
    RequestSpec,
    require_inputs,
)
from engine.protocol import InteractionResponse, InteractionType, SelectDisplay, TextInputDisplay
from engine.selection import follow, parse_wire_paths, selectable_items, strip_metadata, wire_paths


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _as_int(value: Any, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class SelectModule(Module):
    module_id = "user.select"
    interactive = True
    id_prefix = "sel"

    def check_config(self, module: ModuleDef) -> list[str]:
        problems = require_inputs(module, "data", "schema")
        mode = module.inputs.get("mode", "select")
        if mode not in ("select", "review"):
            problems.append(f"mode must be 'select' or 'review', not {mode!r}")
        return problems

    def build_request(self, inputs: dict[str, Any], ctx: ModuleContext) -> RequestSpec:
        mode = inputs.get("mode") or "select"
        multi = _as_bool(inputs.get("multi_select", False))
        data = inputs.get("data")
        if isinstance(data, str):  # a data file given as text
            try:
                data = json.loads(data)
            except json.JSONDecodeError:
                pass
        items = selectable_items(data, inputs.get("schema") or {})
        min_default = 0 if mode == "review" else 1
        minimum = _as_int(inputs.get("min_selections"), min_default) or 0
        maximum = _as_int(inputs.get("max_selections"), None if multi else 1)
        if mode == "select" and not items:
            raise ModuleFailure(f"There is nothing to choose from in '{ctx.module.name}'.", retryable=True)
        display = SelectDisplay(
            data=data,
            schema=inputs.get("schema") or {},
            multi_select=multi,
            mode=mode,
            min_selections=min(minimum, len(items)) if mode == "select" else minimum,
            max_selections=maximum,
            retryable=ctx.module.retryable,
        )
        interaction_type = InteractionType.REVIEW if mode == "review" else InteractionType.SELECT
        return RequestSpec(interaction_type, str(inputs.get("prompt") or ctx.module.name), display)

    async def handle_response(
        self, inputs: dict[str, Any], response: InteractionResponse, ctx: ModuleContext
    ) -> dict[str, Any]:
        request = ctx.current_interaction or {}
        display = (request.get("request") or {}).get("display_data") or {}
        mode = display.get("mode", "select")
        multi = bool(display.get("multi_select"))
        data = display.get("data")
        if mode == "review":
            return {"selected_indices": [], "selected_data": [], "retry_requested": False}
        paths = parse_wire_paths(response.selected_indices or [], multi)
        allowed = [path for path, _, _ in selectable_items(data, display.get("schema") or {})]
        for path in paths:
            if path not in allowed:
                raise InvalidResponse(f"{path!r} is not one of the options")
        if len({json.dumps(p) for p in paths}) != len(paths):
            raise InvalidResponse("the same option was picked twice")
        minimum = int(display.get("min_selections", 1))
        maximum = display.get("max_selections")
        if not multi and len(paths) != 1:
            raise InvalidResponse("pick exactly one option")
        if multi and len(paths) < minimum:
            raise InvalidResponse(f"pick at least {minimum}")
        if multi and maximum is not None and len(paths) > int(maximum):
            raise InvalidResponse(f"pick at most {maximum}")
        picked = [strip_metadata(follow(data, path)) for path in paths]
        return {
            "selected_indices": wire_paths(paths, multi),
            "selected_data": picked if multi else picked[0],
            "retry_requested": False,
        }


class TextInputModule(Module):
    module_id = "user.text_input"
    interactive = True
    id_prefix = "txt"

    def build_request(self, inputs: dict[str, Any], ctx: ModuleContext) -> RequestSpec:
        prompt = str(inputs.get("prompt") or "Your answer")
        display = TextInputDisplay(
            prompt=prompt,
            default_value=str(inputs.get("default_value") or ""),
            allow_empty=_as_bool(inputs.get("allow_empty", True)),
            max_length=_as_int(inputs.get("max_length"), 2000) or 2000,
            placeholder=inputs.get("placeholder"),
        )
        return RequestSpec(InteractionType.TEXT_INPUT, prompt, display)

    async def handle_response(
        self, inputs: dict[str, Any], response: InteractionResponse, ctx: ModuleContext
    ) -> dict[str, Any]:
        display = ((ctx.current_interaction or {}).get("request") or {}).get("display_data") or {}
        value = (response.value or "").strip()
        if not value:
            value = display.get("default_value", "")
        if not value and not display.get("allow_empty", True):
            raise InvalidResponse("an answer is needed here")
        limit = int(display.get("max_length", 2000))
        if len(value) > limit:
            raise InvalidResponse(f"that is {len(value)} characters; the limit here is {limit}")
        return {"value": value}
