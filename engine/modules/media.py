"""`media.generate`: show prompts per provider panel, run generations as
durable jobs (engine/jobs.py), and let the person pick one result.

Panels are display-schema nodes with `_ux.render_as` "tab.media"/"media" and
`_ux.provider`; a panel's prompt key is its dotted path inside the prompt data
(cc-workflow.md §1.10). The display data follows the spec's
`get_interaction_request` exactly, plus the derived `panels` and `jobs`.
"""

from __future__ import annotations

from typing import Any

from engine.definitions import ModuleDef
from engine.ids import new_id
from engine.modules.base import InvalidResponse, Module, ModuleContext, RequestSpec, require_inputs
from engine.protocol import (
    ContentItem,
    Generation,
    InteractionRequest,
    InteractionResponse,
    InteractionType,
    MediaDisplay,
    MediaPanel,
    ParamField,
    SubActionRequest,
)
from engine.providers.base import Cost, GenerationRequest, ProviderError
from engine.providers.registry import ProviderRegistry
from engine.selection import ux
from engine.spending import Spending
from engine.state import JobRecord, RunState, get_path

PANEL_KINDS = ("tab.media", "media")
PROMPT_KEYS = ("prompt", "positive_prompt", "natural_prompt", "tag_prompt", "text")


def find_panels(schema: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """(prompt key, panel schema node) for each provider panel, in schema order."""
    found: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(schema, dict):
        return found
    hints = ux(schema)
    if path and hints.get("render_as") in PANEL_KINDS and hints.get("provider"):
        return [(path, schema)]
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for key, sub in properties.items():
            found.extend(find_panels(sub, f"{path}.{key}" if path else key))
    return found


def panel_fields(panel_schema: dict[str, Any], prompt_data: Any) -> list[ParamField]:
    input_schema = ux(panel_schema).get("input_schema") or {}
    fields: list[ParamField] = []
    for name, spec in (input_schema.get("properties") or {}).items():
        if not isinstance(spec, dict):
            continue
        hints = ux(spec)
        source = hints.get("source_field")
        value = spec.get("default")
        if source and isinstance(prompt_data, dict) and prompt_data.get(source) is not None:
            value = prompt_data[source]
        fields.append(
            ParamField(
                name=spec.get("destination_field") or name,
                source_name=name,
                title=spec.get("title") or name,
                type=spec.get("type", "string"),
                input_type=hints.get("input_type"),
                enum=spec.get("enum"),
                enum_labels=spec.get("enum_labels") or {},
                minimum=spec.get("minimum"),
                maximum=spec.get("maximum"),
                step=spec.get("step"),
                value=value,
            )
        )
    return fields


def action_type_of(module_sub_actions: Any) -> str:
    for action in module_sub_actions or []:
        return str(getattr(action, "action_type", None) or action.get("action_type"))
    return "txt2img"


def build_panels(
    prompts: Any, schema: Any, action_type: str, registry: ProviderRegistry, spending: Spending | None = None
) -> list[MediaPanel]:
    """Each provider panel of the display schema, with its availability and its
    price for the default parameters (in dollars, credits at their dollar value)."""
    panels: list[MediaPanel] = []
    for key, node in find_panels(schema):
        hints = ux(node)
        provider = str(hints["provider"])
        prompt_data = get_path(prompts, key) if isinstance(prompts, dict) else None
        fields = panel_fields(node, prompt_data)
        availability = registry.availability(provider, action_type)
        panel = MediaPanel(
            prompt_key=key,
            label=str(hints.get("tab_label") or key),
            provider=provider,
            availability=availability,
            prompt_data=prompt_data,
            fields=fields,
        )
        if availability == "unavailable":
            panel.note = registry.unavailable_reason(provider, action_type)
        else:
            impl = registry.media(provider, action_type)
            try:
                request = generation_request(panel, {}, action_type, None)
                cost = impl.estimate_cost(request) if impl else Cost()
                panel.price = spending.label(cost) if spending else cost.label()
                panel.price_usd = spending.usd(cost) if spending else float(cost.usd or 0)
            except (InvalidResponse, ProviderError):
                panel.price = "?"
        panels.append(panel)
    return panels


def _coerce(field: ParamField, raw: Any) -> Any:
    if field.enum is not None:
        by_text = {str(v): v for v in field.enum}
        if str(raw) not in by_text:
            raise InvalidResponse(f"{field.title}: {raw!r} is not one of {', '.join(by_text)}")
        return by_text[str(raw)]
    if field.type in ("integer", "number"):
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise InvalidResponse(f"{field.title}: {raw!r} is not a number") from None
        if field.minimum is not None and number < field.minimum:
            raise InvalidResponse(f"{field.title}: at least {field.minimum:g}")
        if field.maximum is not None and number > field.maximum:
            raise InvalidResponse(f"{field.title}: at most {field.maximum:g}")
        return int(number) if field.type == "integer" else number
    if field.type == "boolean" and isinstance(raw, str):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    text = "" if raw is None else str(raw)
    if len(text) > 8000:
        raise InvalidResponse(f"{field.title}: too long ({len(text)} characters)")
    return text


def generation_request(
    panel: MediaPanel,
    overrides: dict[str, Any],
    action_type: str,
    source_image: dict[str, Any] | None,
) -> GenerationRequest:
    """Form values (defaults, source fields, the person's overrides) -> provider request."""
    by_name = {f.name: f for f in panel.fields} | {f.source_name: f for f in panel.fields}
    unknown = [k for k in overrides if k not in by_name]
    if unknown:
        raise InvalidResponse(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    params: dict[str, Any] = {}
    for field in panel.fields:
        raw = overrides.get(field.name, overrides.get(field.source_name, field.value))
        if raw is None:
            continue
        params[field.name] = _coerce(field, raw)
    prompt_data = panel.prompt_data if isinstance(panel.prompt_data, dict) else {}
    prompt = params.pop("prompt", None)
    if not prompt:
        prompt = next((prompt_data[k] for k in PROMPT_KEYS if prompt_data.get(k)), None)
        if prompt is None and isinstance(panel.prompt_data, str):
            prompt = panel.prompt_data
    negative = params.pop("negative_prompt", None) or prompt_data.get("negative_prompt")
    request = GenerationRequest(
        action_type=action_type,  # type: ignore[arg-type]
        provider=panel.provider,
        prompt=str(prompt or ""),
        negative_prompt=str(negative) if negative else None,
        params=params,
        prompt_key=panel.prompt_key,
    )
    if source_image and action_type in ("img2vid", "img2img"):
        request.source_image_path = source_image.get("local_path")
        request.source_image_meta = {
            k: source_image.get(k) for k in ("provider", "provider_item_id", "content_id") if source_image.get(k)
        }
    for key in ("music_length_ms", "duration", "seconds"):
        if action_type == "txt2audio" and key in params:
            try:
                value = float(params[key])
            except (TypeError, ValueError):
                continue
            request.duration_hint_s = value / 1000 if key == "music_length_ms" else value
            break
    return request


def generations_for(run: RunState, interaction_id: str) -> dict[str, list[Generation]]:
    result: dict[str, list[Generation]] = {}
    for job in run.jobs.values():
        if job.interaction_id != interaction_id or job.status != "completed":
            continue
        contents = [ContentItem(**run.contents[c]) for c in job.content_ids if c in run.contents]
        batch = Generation(
            urls=[c.url or c.local_path for c in contents],
            metadata_id=job.job_id,
            content_ids=[c.content_id for c in contents],
            contents=contents,
        )
        result.setdefault(job.prompt_key, []).append(batch)
    return result


class MediaGenerateModule(Module):
    module_id = "media.generate"
    interactive = True
    id_prefix = "media"

    def check_config(self, module: ModuleDef) -> list[str]:
        problems = require_inputs(module, "prompts", "schema")
        if not module.sub_actions:
            problems.append("media.generate needs at least one sub_action")
        schema = module.inputs.get("schema")
        if isinstance(schema, dict) and not find_panels(schema):
            problems.append("the display schema has no provider panel (_ux.render_as tab.media + _ux.provider)")
        return problems

    def build_request(self, inputs: dict[str, Any], ctx: ModuleContext) -> RequestSpec:
        prompts = inputs.get("prompts")
        schema = inputs.get("schema") or {}
        action_type = action_type_of(ctx.module.sub_actions)
        source_image = None
        if action_type in ("img2vid", "img2img"):
            source_image = ctx.module_outputs.get("selected_image_data")
        display = MediaDisplay(
            data=prompts,
            schema=schema,
            sub_actions=ctx.module.sub_actions or [],
            source_image=source_image,
            generations={},
            retryable=ctx.module.retryable,
            panels=build_panels(prompts, schema, action_type, ctx.providers, ctx.services.spending),
        )
        return RequestSpec(InteractionType.MEDIA_GENERATION, str(inputs.get("title") or ctx.module.name), display)

    async def handle_response(
        self, inputs: dict[str, Any], response: InteractionResponse, ctx: ModuleContext
    ) -> dict[str, Any]:
        interaction_id = response.interaction_id
        content_id = response.selected_content_id
        if not content_id:
            raise InvalidResponse("pick one of the generated results first")
        owned = {
            c for job in ctx.run.jobs.values() if job.interaction_id == interaction_id for c in job.content_ids
        }
        if content_id not in owned or content_id not in ctx.run.contents:
            raise InvalidResponse("that result does not belong to this step")
        item = ContentItem(**ctx.run.contents[content_id])
        selected = item.model_dump()
        generations = {k: [g.model_dump() for g in v] for k, v in generations_for(ctx.run, interaction_id).items()}
        return {"selected_content_id": content_id, "selected_content": selected, "generations": generations}

    def live_request(self, request: InteractionRequest, run: RunState) -> InteractionRequest:
        """The generations and jobs so far: they change while the question is open."""
        display = request.display_data
        if isinstance(display, MediaDisplay):
            display.generations = generations_for(run, request.interaction_id)
            display.jobs = [job.view() for job in run.jobs.values() if job.interaction_id == request.interaction_id]
        return request

    def create_job(self, request: SubActionRequest, ctx: ModuleContext) -> JobRecord:
        """A generation on one provider panel, with the person's parameter changes,
        validated and priced (nothing is sent to the provider here)."""
        actions = ctx.module.sub_actions or []
        action = next((a for a in actions if a.id == request.action_id), None)
        if action is None:
            raise InvalidResponse(f"unknown action '{request.action_id}'")
        display = (ctx.current_interaction or {})["request"]["display_data"]
        registry, spending = ctx.providers, ctx.services.spending
        panels = {p.prompt_key: p for p in build_panels(display.get("data"), display.get("schema"),
                                                         action.action_type, registry, spending)}
        panel = panels.get(request.prompt_key)
        if panel is None:
            raise InvalidResponse("unknown provider panel")
        if panel.availability == "unavailable":
            raise InvalidResponse(f"{panel.label} is not available: {panel.note}")
        gen = generation_request(panel, request.params, action.action_type, display.get("source_image"))
        provider = registry.media(panel.provider, action.action_type)
        assert provider is not None
        try:
            provider.validate(gen)
        except ProviderError as exc:
            raise InvalidResponse(exc.user_message) from None
        cost = provider.estimate_cost(gen)
        return JobRecord(
            job_id=new_id("job"), interaction_id=request.interaction_id, prompt_key=panel.prompt_key,
            provider=panel.provider, action_type=action.action_type, request=gen.model_dump(mode="json"),
            params=gen.params, request_key=request.request_key, cost_label=spending.label(cost),
            estimate_usd=spending.usd(cost),
        )
