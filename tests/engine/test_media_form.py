"""A provider panel's form as the reference design writes it: object-valued enums
(value_key / label_key), one field controlling another's values, a panel named
by `_ux.display_label` inside a tab, an enum fed by a fetch that failed, and
the `source_image` input."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from engine.errors import InvalidResponse
from engine.modules.media import build_panels, generation_request, panel_label, source_image_of
from engine.modules.media_form import form_problems
from engine.presentation import next_param_choice, panel_params, panel_settings
from engine.providers.base import Cost, GenerationRequest, JobStatus, MediaProvider, SubmitResult
from engine.providers.registry import ProviderRegistry, offline_registry
from tests.conftest import ScriptedLLM

MODELS = [
    {"id": "sora-2", "label": "Sora 2", "sizes": ["720x1280", "1280x720"]},
    {"id": "sora-2-pro", "label": "Sora 2 Pro", "sizes": ["720x1280", "1280x720", "1024x1792"]},
]
SIZES = [{"value": "720x1280", "label": "Portrait 720p"}, {"value": "1280x720", "label": "Landscape 720p"},
         {"value": "1024x1792", "label": "Portrait HD"}]


def panel_schema(fields: dict[str, Any], **hints: Any) -> dict[str, Any]:
    """A reference-shaped display schema: tabs > a tab > a media panel."""
    return {"type": "object", "_ux": {"render_as": "tabs"}, "properties": {
        "video": {"type": "object", "_ux": {"render_as": "tab", "display_label": "Video"}, "properties": {
            "sora": {"type": "object", "_ux": {"render_as": "media", "provider": "openai", **hints,
                                               "input_schema": {"type": "object", "properties": fields}},
                     "properties": {"prompt": {"type": "string"}}}}}}}


def form(default_size: str = "1024x1792", controls: Any = None) -> dict[str, Any]:
    return {
        "_text": {"type": "string", "title": "Prompt", "destination_field": "prompt",
                  "_ux": {"input_type": "textarea", "source_field": "prompt"}},
        "model": {"type": "string", "title": "Model", "enum": copy.deepcopy(MODELS), "default": "sora-2",
                  "value_key": "id", "label_key": "label",
                  "_ux": {"input_type": "select", "controls": controls or {"size": "sizes"}}},
        "size": {"type": "string", "title": "Size", "enum": copy.deepcopy(SIZES), "default": default_size,
                 "_ux": {"input_type": "select", "value_key": "value", "label_key": "label"}},
    }


class PricedVideos(MediaProvider):
    """Prices by model and size as a live provider does; never called."""

    name = "priced"
    live = True
    actions = frozenset({"img2vid"})

    def estimate_cost(self, request: GenerationRequest) -> Cost:
        per_second = {"sora-2": 0.10, "sora-2-pro": 0.30}[request.params["model"]]
        return Cost(usd=per_second * 4 * (5 / 3 if request.params["size"] == "1024x1792" else 1))

    async def submit(self, request: GenerationRequest, out_dir: Path) -> SubmitResult:
        raise AssertionError("never submitted")

    async def poll(self, job_id: str, provider_data: dict[str, Any]) -> JobStatus:
        raise AssertionError("never polled")

    async def fetch(self, job_id: str, status: JobStatus, out_dir: Path) -> list[Any]:
        raise AssertionError("never fetched")


def priced_registry() -> ProviderRegistry:
    registry = ProviderRegistry(llm_default=ScriptedLLM())
    registry.media_providers[("openai", "img2vid")] = PricedVideos()
    return registry


def the_panel(fields: dict[str, Any], registry: ProviderRegistry | None = None, **hints: Any):
    prompts = {"video": {"sora": {"prompt": "A cat naps in the sun"}}}
    (panel,) = build_panels(prompts, panel_schema(fields, **hints), "img2vid", registry or priced_registry())
    return panel


def test_an_object_enum_shows_its_label_sends_its_value_and_is_priced() -> None:
    panel = the_panel(form("720x1280"))
    model = panel.fields[1]
    assert model.enum == ["sora-2", "sora-2-pro"] and model.value == "sora-2"
    assert model.enum_labels == {"sora-2": "Sora 2", "sora-2-pro": "Sora 2 Pro"}
    assert panel.price == "~$0.40"  # before: "?" (the default was "not one of" the object entries)
    assert [(s.title, s.value) for s in panel_settings(panel)] == [("Model", "Sora 2"), ("Size", "Portrait 720p")]
    request = generation_request(panel, {"model": "sora-2-pro"}, "img2vid", None)
    assert request.params == {"model": "sora-2-pro", "size": "720x1280"} and request.prompt == "A cat naps in the sun"
    with pytest.raises(InvalidResponse, match="Model: 'Sora 2' is not one of sora-2, sora-2-pro"):
        generation_request(panel, {"model": "Sora 2"}, "img2vid", None)


def test_a_controlled_field_follows_its_controller() -> None:
    panel = the_panel(form("1024x1792"))
    size = panel.fields[2]
    # the default HD size is not offered by the default model: it starts on the first size allowed
    assert size.value == "720x1280" and panel.allowed(size, {"model": "sora-2"}) == ["720x1280", "1280x720"]
    assert panel.allowed(size, {"model": "sora-2-pro"}) == ["720x1280", "1280x720", "1024x1792"]
    overrides = next_param_choice(panel, 1)  # model -> sora-2-pro
    overrides = next_param_choice(panel, 2, overrides, value_index=2)  # size -> HD, now allowed
    assert panel_params(panel, overrides)["size"] == "1024x1792"
    assert generation_request(panel, overrides, "img2vid", None).params["size"] == "1024x1792"
    overrides = next_param_choice(panel, 1, overrides)  # model back to sora-2: HD is stale and corrected
    assert overrides == {"model": "sora-2", "size": "720x1280"}
    assert [s.value for s in panel_settings(panel, overrides)] == ["Sora 2", "Portrait 720p"]
    # an engine that gets the stale value anyway (an old form) corrects it the same way
    stale = {"model": "sora-2", "size": "1024x1792"}
    assert generation_request(panel, stale, "img2vid", None).params["size"] == "720x1280"
    # cycling the size under sora-2 only visits the sizes it allows
    assert next_param_choice(panel, 2, {"model": "sora-2", "size": "1280x720"})["size"] == "720x1280"
    with pytest.raises(InvalidResponse, match="Size: 'huge' is not one of"):
        generation_request(panel, {"size": "huge"}, "img2vid", None)


@pytest.mark.parametrize("controls", [
    ["sizes"],  # a list: the entry's key named after the field (here the field is "sizes")
    {"sizes": {"sora-2": ["720x1280", "1280x720"], "sora-2-pro": ["720x1280", "1280x720", "1024x1792"]}},
])
def test_the_other_spellings_of_controls(controls: Any) -> None:
    fields = form(controls=controls)
    fields["sizes"] = fields.pop("size")  # the entries' own key names the field it controls
    panel = the_panel(fields, registry=offline_registry())
    sizes = panel.fields[2]
    assert panel.allowed(sizes, {"model": "sora-2"}) == ["720x1280", "1280x720"]
    assert panel.allowed(sizes, {"model": "sora-2-pro"})[-1] == "1024x1792"


def test_a_field_may_take_its_values_from_its_controller_alone() -> None:
    fields = form()
    fields["size"] = {"type": "string", "title": "Size", "_ux": {"input_type": "select"}}
    panel = the_panel(fields)
    assert panel.fields[2].enum == ["720x1280", "1280x720", "1024x1792"] and panel.fields[2].value == "720x1280"


def test_a_panel_is_named_by_its_display_label_or_its_tab() -> None:
    assert the_panel(form(), display_label="Sora 2 (video)").label == "Sora 2 (video)"  # before: "video.sora"
    assert the_panel(form()).label == "Video"  # no label of its own: the enclosing tab's
    assert panel_label({"properties": {"a": {"properties": {"b": {}}}}}, "a.b") == "a.b"
    assert panel_label({"properties": {"a": {"title": "Not a tab", "properties": {"b": {}}}}}, "a.b") == "a.b"


def test_an_enum_with_nothing_in_it_makes_the_panel_unavailable() -> None:
    fields = form()
    fields["model"]["enum"] = None  # "{{ state.models }}" after a fetch that failed
    panel = the_panel(fields)
    assert panel.availability == "unavailable" and panel.note == "its choices for Model could not be loaded"
    assert panel.price == "free"  # no estimate is attempted


def test_controls_naming_no_field_is_a_load_problem() -> None:
    fields = form(controls={"resolution": "sizes"})
    assert form_problems(panel_schema(fields)["properties"]["video"]["properties"]["sora"]) == [
        "field 'model' controls 'resolution', which is not a field of this panel"]


def test_the_source_image_input_wins_over_state(tmp_path: Path) -> None:
    state = {"selected_image_data": {"local_path": "/state.png"}}
    assert source_image_of({"source_image": {"local_path": "/given.png", "content_id": "gc_1"}}, state, "img2vid") \
        == {"local_path": "/given.png", "content_id": "gc_1"}
    assert source_image_of({"source_image": "/a/path.png"}, state, "img2vid") == {"local_path": "/a/path.png"}
    assert source_image_of({"source_image": None}, state, "img2vid") == {"local_path": "/state.png"}
    assert source_image_of({}, state, "txt2img") is None
