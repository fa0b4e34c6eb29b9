"""The CC workflow end to end through the engine on offline providers.

Checks every LLM answer in state against its output schema, every select's
data against its display schema, that step 5's prompt LLM sees exactly the
motion elements the person ticked (and the full list to block), and that a
jump from step 5 back to image selection keeps steps 1-2 and replaces 3-5.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from engine.protocol import InteractionResponse, SelectDisplay, SubActionRequest
from engine.providers.base import LLMRequest, LLMResult
from engine.providers.registry import offline_registry
from engine.api import Engine
from tests.players import play_first_choices

CC = Path(__file__).resolve().parents[1] / "workflows" / "cc"
STEP_1_2_KEYS = ["pet_type_selection", "aesthetic_selection", "duration_selection", "user_direction",
                 "scene_concepts", "selected_scene"]
STEP_3_5_KEYS = ["selected_image_id", "selected_image_data", "image_analysis", "selected_motion_elements",
                 "video_prompts", "selected_video_id"]


class RecordingLLM:
    """Wraps the offline LLM and keeps every request by module name."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.live = False
        self.requests: dict[str, list[LLMRequest]] = {}

    async def complete(self, request: LLMRequest) -> LLMResult:
        self.requests.setdefault(request.metadata.get("module", "?"), []).append(request)
        return await self.inner.complete(request)


@pytest.fixture
async def setup(tmp_path: Path):
    registry = offline_registry()
    llm = RecordingLLM(registry.llm_default)
    registry.llm_default = llm  # type: ignore[assignment]
    registry.llms = {"openai": llm}  # type: ignore[dict-item]
    engine = await Engine.open(db_path=tmp_path / "db.sqlite3", media_root=tmp_path / "media",
                               providers=registry, workflow_dirs=[CC], poll_scale=0.01)
    yield engine, llm
    await engine.close()


MOTION_PICKS = [0, 2]


async def answer(engine: Engine, run_id: str, seen: dict[str, Any], stop_at: str | None = None) -> None:
    """First choices everywhere (motion elements: #1 and #3) until the end or `stop_at`."""
    await play_first_choices(engine, run_id, stop_at=stop_at, picks={"select_motion_elements": MOTION_PICKS},
                             on_request=lambda req: seen.__setitem__(req.module_name, req))


async def test_full_cc_run_matches_every_schema(setup) -> None:
    engine, llm = setup
    run = await engine.start_run("tester", "cuddle_crew")
    seen: dict[str, Any] = {}
    await answer(engine, run.run_id, seen)
    view = await engine.get_run(run.run_id)
    assert view.status == "completed", view.error
    state = await engine.state(run.run_id)
    workflow = engine.workflows["cuddle_crew"]

    # every LLM answer in state is valid against the step's output schema
    checked = 0
    for step in workflow.steps:
        for module in step.modules:
            schema = module.inputs.get("output_schema")
            key = module.outputs_to_state.get("response", "")
            if module.module_id == "api.llm" and isinstance(schema, dict) and (module.when is None or key in state):
                # (without a photo its analysis is skipped: tests/test_cc_photo_run.py runs it)
                Draft202012Validator(schema).validate(state[key])
                checked += 1
    assert checked >= 8
    # every select's data fits its display schema, and the pick is the item itself
    for name, req in seen.items():
        if isinstance(req.display_data, SelectDisplay):
            Draft202012Validator(req.display_data.display_schema).validate(req.display_data.data)
    # the state keys steps 4 and 5 read exist with the spec's meaning
    for key in ("title", "narrative", "pet_behavior", "setting", "emotional_arc"):
        assert isinstance(state["selected_scene"][key], str) and state["selected_scene"][key]
    assert state["pet_type_selection"]["label"] in ("Cat", "Dog", "Cat & Dog")
    assert state["aesthetic_selection"]["visual_tone"]["mood"]
    assert isinstance(state["duration_selection"]["video_duration"], int)
    assert Path(state["selected_image_data"]["local_path"]).is_file()
    assert Path(state["selected_video_data"]["local_path"]).is_file()
    assert Path(state["selected_music_data"]["local_path"]).is_file()
    assert Path(state["summary_file_path"]).is_file()
    summary = state["workflow_summary_text"]
    for needle in (state["selected_scene"]["title"], state["selected_title"],
                   state["selected_image_data"]["local_path"], state["selected_video_data"]["local_path"],
                   state["selected_music_data"]["local_path"]):
        assert needle in summary

    # step 4 sends the chosen image; step 5's prompts name exactly the ticked elements
    analysis_request = llm.requests["analyze_image"][-1]
    assert analysis_request.messages[2].image_path == state["selected_image_data"]["local_path"]
    detected = [e["element"] for e in state["image_analysis"]["motion_elements"]["detected_elements"]]
    picked = [detected[i] for i in MOTION_PICKS]
    prompt = llm.requests["generate_video_prompts"][-1].messages[-1].text
    selected_section = re.search(r"Selected Motion Elements(.*?)## Elements to Block", prompt, re.S).group(1)
    for element in detected:
        bullet = f"**{element}**"
        assert (bullet in selected_section) == (element in picked), element
    block_line = ", ".join(state["image_analysis"]["motion_elements"]["all_potential_elements"])
    assert block_line in prompt


async def test_jump_from_video_back_to_images_keeps_steps_1_2_and_replaces_3_5(setup) -> None:
    engine, _ = setup
    run2 = await engine.start_run("tester", "cuddle_crew")
    await answer(engine, run2.run_id, {}, stop_at="generate_and_select_videos")
    view = await engine.get_run(run2.run_id)
    before = await engine.state(run2.run_id)
    await engine.start_sub_action(run2.run_id, SubActionRequest(interaction_id=view.pending.interaction_id,
                                                                prompt_key=view.pending.display_data.panels[0].prompt_key))
    await engine.jobs.wait_idle(run2.run_id)
    view = await engine.respond(run2.run_id, InteractionResponse(
        interaction_id=view.pending.interaction_id, jump_back_requested=True, jump_back_target="change_image"))
    assert view.pending.module_name == "generate_and_select_images"
    middle = await engine.state(run2.run_id)
    for key in STEP_1_2_KEYS + ["image_prompts"]:
        assert middle[key] == before[key], key
    for key in STEP_3_5_KEYS:
        assert key not in middle, key
    await answer(engine, run2.run_id, {}, stop_at="generate_and_select_videos")
    after = await engine.state(run2.run_id)
    for key in STEP_1_2_KEYS:
        assert after[key] == before[key], key
    assert after["selected_image_id"] != before["selected_image_id"]
    assert after["image_analysis"] and after["video_prompts"]
    await answer(engine, run2.run_id, {})
    assert (await engine.get_run(run2.run_id)).status == "completed"
