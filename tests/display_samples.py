"""Display schemas and data from the spec (shared/seed, step 2 and step 5), and
requests built from them the way the engine builds them: the samples the
presentation and render tests share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.protocol import (
    InteractionRequest,
    InteractionType,
    MediaDisplay,
    MediaPanel,
    ParamField,
    Retryable,
    RetryOption,
)
from engine.selection import ux

ROOT = Path(__file__).resolve().parents[1]

# --- the spec's step 5 display schemas (shared/seed, "Schemas" of step 5) ---------------

MOTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "_ux.display": "passthrough",
    "properties": {
        "detected": {
            "type": "array",
            "_ux": {"display": "visible", "display_label": "Detected Motion Elements", "render_as": "content-panel"},
            "items": {
                "type": "object",
                "_ux": {"display": "visible", "render_as": "card", "nudges": ["index-badge"], "selectable": True},
                "properties": {
                    "element": {
                        "type": "string",
                        "_ux": {
                            "display": True,
                            "display_label": "Element",
                            "render_as": "card-title",
                            "highlight": True,
                            "highlight_color": "#4ECDC4",
                        },
                    },
                    "motion_type": {"type": "string", "_ux.display": True, "_ux.display_label": "Motion Type"},
                    "location": {"type": "string", "_ux.display": True, "_ux.display_label": "Location"},
                },
            },
        }
    },
}


def _textarea(title: str, source: str, destination: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "string", "title": title, "_ux": {"input_type": "textarea", "source_field": source}}
    if destination:
        node["destination_field"] = destination
    return node


def _select(title: str, enum: list[str], default: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "string", "title": title, "enum": enum, "default": default, "_ux": {"input_type": "select"}}
    if labels:
        node["enum_labels"] = labels
    return node


VIDEO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "_ux.display": "passthrough",
    "properties": {
        "leonardo": {
            "type": "object",
            "_ux": {
                "display": "visible",
                "tab_label": "Leonardo",
                "render_as": "tab.media",
                "provider": "leonardo",
                "input_schema": {
                    "type": "object",
                    "properties": {
                        "_text": _textarea("Prompt", "positive_prompt", "prompt"),
                        "negative_prompt": _textarea("Negative Prompt", "negative_prompt"),
                        "motion_strength": {
                            "type": "integer", "title": "Motion Strength", "minimum": 1, "maximum": 10,
                            "default": 5, "step": 1, "_ux": {"input_type": "slider"},
                        },
                    },
                },
            },
            "properties": {
                "positive_prompt": {"type": "string", "_ux.display": False},
                "negative_prompt": {"type": "string", "_ux.display": False},
                "motion_strength": {"type": "string", "_ux.display": True, "_ux.display_label": "Motion"},
                "motion_notes": {"type": "string", "_ux.display": True, "_ux.display_label": "Notes", "_ux.highlight": True},
            },
        },
        "veo": {
            "type": "object",
            "_ux": {
                "display": "visible",
                "tab_label": "Veo 3.1",
                "render_as": "tab.media",
                "provider": "leonardo",
                "input_schema": {
                    "type": "object",
                    "properties": {
                        "_text": _textarea("Prompt", "prompt", "prompt"),
                        "duration": _select("Duration", ["4", "6", "8"], "8", {"4": "4 seconds", "6": "6 seconds", "8": "8 seconds"}),
                        "resolution": _select("Resolution", ["RESOLUTION_720", "RESOLUTION_1080"], "RESOLUTION_720",
                                              {"RESOLUTION_720": "720p", "RESOLUTION_1080": "1080p"}),
                    },
                },
            },
            "properties": {
                "prompt": {"type": "string", "_ux.display": False},
                "audio_notes": {"type": "string", "_ux.display": True, "_ux.display_label": "Sound"},
            },
        },
        "sora": {
            "type": "object",
            "_ux": {
                "display": "visible",
                "tab_label": "Sora 2",
                "render_as": "tab.media",
                "provider": "openai",
                "input_schema": {
                    "type": "object",
                    "properties": {
                        "_text": _textarea("Prompt", "prompt", "prompt"),
                        "model": _select("Model", ["sora-2", "sora-2-pro"], "sora-2"),
                        "aspect_ratio": _select("Aspect Ratio", ["16:9", "9:16"], "9:16"),
                    },
                },
            },
            "properties": {
                "prompt": {"type": "string", "_ux.display": False},
                "style_notes": {"type": "string", "_ux.display": True, "_ux.display_label": "Style", "_ux.highlight": True},
            },
        },
    },
}  # fmt: skip

# a step-2-like scene schema (the spec's select_scene cards)
SCENES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "_ux.display": "passthrough",
    "properties": {
        "scenes": {
            "type": "array",
            "_ux": {"render_as": "card-stack", "display_label": "Scene ideas"},
            "items": {
                "type": "object",
                "_ux": {"render_as": "card", "selectable": True},
                "properties": {
                    "title": {"type": "string", "_ux": {"render_as": "card-title"}},
                    "hook": {"type": "string", "_ux": {"render_as": "card-subtitle"}},
                    "narrative": {"type": "string", "_ux.display_label": "Story"},
                    "visual_moments": {"type": "array", "items": {"type": "string"}, "_ux.display_label": "Moments"},
                    "pet_behavior": {"type": "string", "_ux.display_label": "Pet focus"},
                    "emotional_arc": {"type": "string", "_ux.display_label": "Arc"},
                    "setting": {"type": "object", "_ux.display_label": "Setting",
                                "properties": {"place": {"type": "string"}, "time": {"type": "string"}}},
                    "scene_keywords": {"type": "array", "_ux.display": False},
                },
            },
        }
    },
}  # fmt: skip

MOTION_DATA = {
    "detected": [
        {"element": "Steam from the teacup", "motion_type": "rising wisps", "location": "table, left"},
        {"element": "Curtain", "motion_type": "gentle breeze ripple", "location": "window, background"},
        {"element": "Candle flame", "motion_type": "soft flicker", "location": "shelf, right"},
        {"element": "Falling snow", "motion_type": "slow drift", "location": "outside the window"},
    ]
}

SCENES_DATA = {
    "scenes": [
        {
            "title": f"Window Seat Snow Day {n}",
            "hook": "A kitten discovers snow through glass.",
            "narrative": "The kitten watches flakes fall. It paws at the glass. It curls up, content.",
            "visual_moments": ["paw on glass", "tail flick", "slow blink"],
            "pet_behavior": "curious pawing",
            "emotional_arc": "wonder to comfort",
            "setting": {"place": "cosy window seat", "time": "winter morning"},
            "scene_keywords": [{"keyword": "snow", "category": "setting", "weight": 80}],
        }
        for n in range(1, 4)
    ]
}

VIDEO_PROMPTS = {
    "leonardo": {
        "positive_prompt": "Static tabby cat on a window seat, steam rising from a teacup, curtain ripples softly",
        "negative_prompt": "pet moving, deformation, morphing",
        "motion_strength": "subtle",
        "motion_notes": "Only the steam and curtain move.",
    },
    "veo": {"prompt": "Locked-off shot: steam curls from a teacup beside a sleeping cat", "audio_notes": "soft rain"},
    "sora": {"prompt": "A still cat, steam rising, curtains breathing", "style_notes": "warm film grain"},
}

RETRY_SCENES = Retryable(
    options=[
        RetryOption(id="continue", mode="continue", label="Use this scene"),
        RetryOption(
            id="retry",
            mode="retry",
            label="Give me three different ideas",
            target_module="generate_scenes",
            feedback={"enabled": True, "prompt": "What should be different?", "default_message": "Different ideas please"},
        ),
    ]
)

RETRY_VIDEO = Retryable(
    options=[
        RetryOption(id="continue", mode="continue", label="Accept and continue"),
        RetryOption(id="retry_prompts", mode="retry", label="Regenerate video prompts", target_module="generate_video_prompts",
                    feedback={"enabled": True}),
        RetryOption(id="change_motion_elements", mode="jump", label="Change motion elements",
                    target_step="video_generation", target_module="select_motion_elements"),
        RetryOption(id="change_image", mode="jump", label="Go back to image selection", target_step="image_prompts",
                    target_module="generate_and_select_images"),
    ]
)  # fmt: skip


def request(display: Any, itype: InteractionType, title: str = "Pick", **kw: Any) -> InteractionRequest:
    base: dict[str, Any] = dict(
        interaction_id="sel_0190f3a5b7c87d3e9a1b2c3d4e5f6a7b",
        interaction_type=itype,
        run_id="run_0190f3a5",
        step_id="video_generation",
        step_name="Step 5: Video Generation",
        step_number=5,
        module_name="select_motion_elements",
        title=title,
        display_data=display,
    )
    base.update(kw)
    return InteractionRequest(**base)


def media_nodes(schema: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    for key, node in (schema.get("properties") or {}).items():
        if ux(node).get("render_as") in ("tab.media", "media"):
            found.append((prefix + key, node))
        elif isinstance(node, dict):
            found.extend(media_nodes(node, f"{prefix}{key}."))
    return found


def panels_for(schema: dict[str, Any], data: dict[str, Any], availability: dict[str, str]) -> list[MediaPanel]:
    """Panels the way the engine derives them (cc-workflow.md §1.10)."""
    panels = []
    for key, node in media_nodes(schema):
        hints = ux(node)
        data_node = data
        for part in key.split("."):
            data_node = data_node[part]
        fields = []
        for name, prop in hints["input_schema"]["properties"].items():
            source = ux(prop).get("source_field")
            value = data_node.get(source) if source else None
            fields.append(
                ParamField(
                    name=prop.get("destination_field", name),
                    source_name=name,
                    title=prop.get("title", name),
                    type=prop.get("type", "string"),
                    input_type=ux(prop).get("input_type"),
                    enum=prop.get("enum"),
                    enum_labels=prop.get("enum_labels", {}),
                    minimum=prop.get("minimum"),
                    maximum=prop.get("maximum"),
                    step=prop.get("step"),
                    value=value if value is not None else prop.get("default"),
                )
            )
        panels.append(
            MediaPanel(
                prompt_key=key,
                label=hints["tab_label"],
                provider=hints["provider"],
                availability=availability.get(key, "live"),  # type: ignore[arg-type]
                prompt_data=data_node,
                fields=fields,
                price={"leonardo": "~200 credits", "veo": "~$0.40"}.get(key, "free"),
                note="Sora 2 was shut down on 2026-09-24." if availability.get(key) == "unavailable" else "",
            )
        )
    return panels


def media_request(**update: Any) -> InteractionRequest:
    panels = panels_for(VIDEO_SCHEMA, VIDEO_PROMPTS, {"veo": "offline", "sora": "unavailable"})
    disp = MediaDisplay(data=VIDEO_PROMPTS, schema=VIDEO_SCHEMA, panels=panels, retryable=RETRY_VIDEO, **update)
    return request(disp, InteractionType.MEDIA_GENERATION, "Generate and Select Videos", interaction_id="med_0190abc")


def sample(schema: Any, depth: int = 0) -> Any:
    """Plausible data for a display schema (3 items per array)."""
    if not isinstance(schema, dict) or depth > 6:
        return "sample"
    kind = schema.get("type")
    if kind == "array" or "items" in schema:
        return [sample(schema.get("items", {}), depth + 1) for _ in range(3)]
    if kind == "object" or "properties" in schema:
        return {k: sample(v, depth + 1) for k, v in (schema.get("properties") or {}).items()}
    if "enum" in schema:
        return schema["enum"][0]
    return {"integer": 3, "number": 1.5, "boolean": True}.get(kind, "sample <text> & more")  # type: ignore[arg-type]


DISPLAY_SCHEMAS = sorted((ROOT / "workflows").glob("**/*display_schema*.json"))


def every_display_schema() -> list[Any]:
    """pytest params: each workflow display schema in the repo (one skip when there are none)."""
    skip = pytest.param(None, marks=pytest.mark.skip(reason="no workflow display schemas in this tree"))
    return [pytest.param(path, id=path.name) for path in DISPLAY_SCHEMAS] or [skip]


def load_sample(path: Path) -> tuple[dict[str, Any], Any]:
    """A display schema file and plausible data for it."""
    schema = json.loads(path.read_text())
    return schema, sample(schema)
