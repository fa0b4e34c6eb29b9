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
from engine.modules.later import runs_other_modules, sub_action_problems
from engine.modules.media_form import coerce, form_problems, no_choices, panel_fields
from engine.protocol import (
    ContentItem,
    Generation,
    InteractionRequest,
    InteractionResponse,
    InteractionType,
    MediaDisplay,
    MediaPanel,
    SubActionRequest,
)
from engine.providers.base import Cost, GenerationRequest, ProviderError
from engine.providers.registry import ProviderRegistry
from engine.selection import ux
from engine.spending import Spending
from engine.state import JobRecord, RunState, get_path

PANEL_KINDS = ("tab.media", "media")
ACTION_TYPES = ("txt2img", "img2img", "img2vid", "txt2audio")
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


def panel_label(schema: Any, key: str) -> str:
    """A panel's name as shown: its own `tab_label`, `display_label` or title,
    else the nearest enclosing tab's (`render_as: tab`), else its key."""
    node, label = schema, None
    parts = key.split(".")
    for depth, part in enumerate(parts, start=1):
        props = node.get("properties") if isinstance(node, dict) else None
        node = props.get(part) if isinstance(props, dict) else None
        hints = ux(node)
        own = hints.get("tab_label") or hints.get("display_label") or (node or {}).get("title")
        if own and (depth == len(parts) or hints.get("render_as") == "tab"):
            label = own
    return str(label or key)


def sub_action_type(action: Any, module_inputs: dict[str, Any] | None = None) -> str | None:
    """A sub-action's action type; the reference's later format names it once,
    as the module's `action_type` input."""
    own = getattr(action, "action_type", None) if not isinstance(action, dict) else action.get("action_type")
    return own or (module_inputs or {}).get("action_type")


def action_type_of(module_sub_actions: Any, module_inputs: dict[str, Any] | None = None) -> str:
    for action in module_sub_actions or []:
        return str(sub_action_type(action, module_inputs) or "txt2img")
    return str((module_inputs or {}).get("action_type") or "txt2img")


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
            label=panel_label(schema, key),
            provider=provider,
            availability=availability,
            prompt_data=prompt_data,
            fields=fields,
        )
        starting = panel.settle({f.name: f.value for f in fields})  # a default its controller forbids moves
        for f in fields:
            f.value = starting.get(f.name, f.value)
        missing = no_choices(fields)
        if availability == "unavailable":
            panel.note = registry.unavailable_reason(provider, action_type)
        elif missing:
            panel.availability = "unavailable"
            panel.note = f"its choices for {', '.join(missing)} could not be loaded"
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


def generation_request(
    panel: MediaPanel,
    overrides: dict[str, Any],
    action_type: str,
    source_image: dict[str, Any] | None,
) -> GenerationRequest:
    """Form values (defaults, source fields, the person's overrides, dependent
    fields settled) -> provider request."""
    by_name = {f.name: f for f in panel.fields} | {f.source_name: f for f in panel.fields}
    unknown = [k for k in overrides if k not in by_name]
    if unknown:
        raise InvalidResponse(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    raw = panel.settle({f.name: overrides.get(f.name, overrides.get(f.source_name, f.value)) for f in panel.fields})
    params: dict[str, Any] = {}
    for field in panel.fields:
        if raw[field.name] is None:
            continue
        params[field.name] = coerce(field, raw[field.name], panel.allowed(field, raw))
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


def source_image_of(inputs: dict[str, Any], state: dict[str, Any], action_type: str) -> dict[str, Any] | None:
    """The picture an img2vid / img2img generation starts from: the reference's
    `source_image` input (a content object or a path), else the state's
    `selected_image_data` (cc-workflow.md §1.11 #3)."""
    given = inputs.get("source_image")
    if isinstance(given, str) and given.strip():
        given = {"local_path": given.strip()}
    if isinstance(given, dict) and given.get("local_path"):
        return given
    if action_type in ("img2vid", "img2img"):
        selected = state.get("selected_image_data")
        return selected if isinstance(selected, dict) else None
    return None


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
        if isinstance(schema, dict):
            panels = find_panels(schema)
            if not panels:
                problems.append("the display schema has no provider panel (_ux.render_as tab.media + _ux.provider)")
            problems += [f"panel '{key}': {p}" for key, node in panels for p in form_problems(node)]
        named = module.inputs.get("action_type")
        if named is not None and named not in ACTION_TYPES:
            problems.append(f"input 'action_type' must be one of {', '.join(ACTION_TYPES)}, not {named!r}")
        problems += sub_action_problems(module)
        for action in module.sub_actions or []:
            if sub_action_type(action, module.inputs) is None and not runs_other_modules(action):
                problems.append(f"sub_action '{action.id}' has no action_type ({', '.join(ACTION_TYPES)}) and the "
                                "module has no action_type input to take it from")
        return problems

    def build_request(self, inputs: dict[str, Any], ctx: ModuleContext) -> RequestSpec:
        prompts = inputs.get("prompts")
        schema = inputs.get("schema") or {}
        action_type = action_type_of(ctx.module.sub_actions, ctx.module.inputs)
        source_image = source_image_of(inputs, ctx.module_outputs, action_type)
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
        action_type = str(sub_action_type(action, ctx.module.inputs) or "txt2img")
        panels = {p.prompt_key: p for p in build_panels(display.get("data"), display.get("schema"),
                                                         action_type, registry, spending)}
        panel = panels.get(request.prompt_key)
        if panel is None:
            raise InvalidResponse("unknown provider panel")
        if panel.availability == "unavailable":
            raise InvalidResponse(f"{panel.label} is not available: {panel.note}")
        gen = generation_request(panel, request.params, action_type, display.get("source_image"))
        provider = registry.media(panel.provider, action_type)
        assert provider is not None
        try:
            provider.validate(gen)
        except ProviderError as exc:
            raise InvalidResponse(exc.user_message) from None
        cost = provider.estimate_cost(gen)
        return JobRecord(
            job_id=new_id("job"), interaction_id=request.interaction_id, prompt_key=panel.prompt_key,
            provider=panel.provider, action_type=action_type, request=gen.model_dump(mode="json"),
            params=gen.params, request_key=request.request_key, cost_label=spending.label(cost),
            estimate_usd=spending.usd(cost),
        )
