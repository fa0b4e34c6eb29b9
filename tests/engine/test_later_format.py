"""The reference design's later format (tests/data/reference_v2): what the
engine accepts (action_type as a module input, self_sub_action) and what it
refuses, with one message per construct, before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.api import Engine
from engine.definitions import WorkflowError, load_workflow
from engine.modules import default_modules
from engine.modules.later import GENERATE_V2, RESULT_MAPPING, SELF_PARAMS, TARGET_SUB_ACTION
from engine.protocol import InteractionResponse, SubActionRequest
from engine.providers.registry import offline_registry
from tests.databases import store_for

ROOT = Path(__file__).resolve().parents[2]
LATER = ROOT / "tests" / "data" / "reference_v2"


def test_each_refused_construct_has_one_clear_message() -> None:
    with pytest.raises(WorkflowError) as caught:
        load_workflow(LATER, default_modules())
    where = "workflow_v3.json (step pictures) module "
    assert caught.value.problems == [
        f"{where}prompts_and_pictures_in_one: {GENERATE_V2}",
        f"{where}refused_sub_actions: sub_action 'rewrite_prompts': {TARGET_SUB_ACTION}",
        f"{where}refused_sub_actions: sub_action 'rewrite_prompts': {RESULT_MAPPING}",
        f"{where}refused_sub_actions: sub_action 'generate_tuned': {SELF_PARAMS}",
        f"{where}refused_sub_actions: sub_action 'generate_tuned' has no action_type (txt2img, img2img, img2vid, "
        "txt2audio) and the module has no action_type input to take it from",
    ]
    assert "accepted_generate" not in " ".join(caught.value.problems)


async def test_the_accepted_constructs_run(tmp_path: Path, data_dir: Path) -> None:
    raw = json.loads((LATER / "workflow_v3.json").read_text(encoding="utf-8"))
    raw["steps"][0]["modules"] = raw["steps"][0]["modules"][:1]  # only the accepted module
    folder = tmp_path / "accepted"
    folder.mkdir()
    (folder / "workflow_v3.json").write_text(json.dumps(raw), encoding="utf-8")
    engine = await Engine.open(store=await store_for(data_dir), media_root=data_dir / "media",
                               providers=offline_registry(), workflow_dirs=[folder], poll_scale=0.01)
    try:
        view = await engine.start_run("alice", "later_format")
        (panel,) = view.pending.display_data.panels
        assert panel.availability == "offline" and panel.label == "OpenAI"
        job = await engine.start_sub_action(view.run_id, SubActionRequest(
            interaction_id=view.pending.interaction_id, action_id="generate", prompt_key="openai"))
        assert job.action_type == "txt2img"  # from the module's action_type input
        await engine.wait_idle(view.run_id)
        view = await engine.get_run(view.run_id)
        content = view.pending.display_data.generations["openai"][0].content_ids[0]
        view = await engine.respond(view.run_id, InteractionResponse(interaction_id=view.pending.interaction_id,
                                                                      selected_content_id=content))
        assert view.status == "completed"
        assert Path((await engine.state(view.run_id))["picture"]["local_path"]).is_file()
    finally:
        await engine.close()
