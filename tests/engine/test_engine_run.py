"""The engine end to end on the mini workflow: answers, retry, jump, stale answers, repair."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.modules.base import InvalidResponse
from engine.protocol import InteractionResponse, InteractionType, SubActionRequest
from engine.api import Engine
from engine.errors import NotOwner, StaleInteraction
from tests.databases import store_for
from tests.conftest import MINI, CountingImages, ScriptedLLM, scripted_registry


async def open_engine(data_dir: Path, llm: ScriptedLLM, images: CountingImages) -> Engine:
    return await Engine.open(
        store=await store_for(data_dir),
        media_root=data_dir / "media",
        providers=scripted_registry(llm, images),
        workflow_dirs=[MINI],
        poll_scale=0.01,
    )


async def answer(engine: Engine, run_id: str, **fields):
    view = await engine.get_run(run_id)
    assert view.pending is not None
    return await engine.respond(run_id, InteractionResponse(interaction_id=view.pending.interaction_id, **fields))


async def generate_and_pick(engine: Engine, run_id: str, index: int = 0):
    view = await engine.get_run(run_id)
    job = await engine.start_sub_action(
        run_id, SubActionRequest(interaction_id=view.pending.interaction_id, prompt_key="openai")
    )
    await engine.jobs.wait_idle(run_id)
    view = await engine.get_run(run_id)
    contents = view.pending.display_data.generations["openai"][0].contents
    assert job.status == "created"
    return await answer(engine, run_id, selected_content_id=contents[index].content_id)


@pytest.fixture
async def env(data_dir: Path):
    llm, images = ScriptedLLM(), CountingImages()
    engine = await open_engine(data_dir, llm, images)
    yield engine, llm, images
    await engine.close()


async def test_whole_run_reaches_the_end_with_native_values(env) -> None:
    engine, llm, images = env
    view = await engine.start_run("alice", "mini")
    assert view.pending.interaction_type == InteractionType.SELECT
    assert view.pending.step_name == "Step 1: Pick"
    await answer(engine, view.run_id, selected_indices=[1])
    view = await answer(engine, view.run_id, value="  ")
    # the LLM ran, and the select got the list of ideas as native data
    assert view.pending.display_data.data["ideas"][0]["title"] == "Dog idea 1.0"
    view = await answer(engine, view.run_id, selected_indices=["ideas", 2])
    view = await answer(engine, view.run_id, selected_indices=[["detected", 0], ["detected", 2]])
    assert view.pending.interaction_type == InteractionType.MEDIA_GENERATION
    panel = view.pending.display_data.panels[0]
    assert panel.prompt_data == {"prompt": "A Dog: Dog idea 1.2"}
    view = await generate_and_pick(engine, view.run_id, 1)
    assert view.status == "completed"
    state = await engine.state(view.run_id)
    assert state["pet"] == {"id": "dog", "label": "Dog"}
    assert state["direction"] == ""
    assert state["idea"]["title"] == "Dog idea 1.2"
    assert state["features"] == ["tail 2", "paws 2"]
    assert state["feature_indices"] == [["detected", 0], ["detected", 2]]
    assert state["idea_indices"] == ["ideas", 2]
    assert Path(state["selected_image_data"]["local_path"]).is_file()
    assert state["summary_text"].startswith("Dog / Dog idea 1.2 / tail 2, paws 2 / /")
    assert images.submits == 1
    # the system part kept its metadata and the user prompt was rendered from state
    request = llm.requests[0]
    assert request.messages[0].role == "system" and request.messages[0].cache_ttl == 10800
    assert "Pet: Dog" in request.messages[1].text


async def test_retry_with_feedback_reaches_the_llm(env) -> None:
    engine, llm, _ = env
    view = await engine.start_run("alice", "mini")
    await answer(engine, view.run_id, selected_indices=[0])
    await answer(engine, view.run_id, value="a sleepy one")
    view = await answer(engine, view.run_id, retry_requested=True, retry_feedback="more snow please")
    assert view.pending.module_name == "select_idea"
    assert view.pending.display_data.data["ideas"][0]["title"] == "Cat idea 2.0"
    retry_messages = llm.requests[1].messages
    assert retry_messages[-2].role == "assistant" and "Cat idea 1.0" in retry_messages[-2].text
    assert retry_messages[-1].text == "FEEDBACK FROM USER: more snow please"
    # an empty feedback falls back to the option's default message, and history grows
    view = await answer(engine, view.run_id, retry_requested=True, retry_feedback="")
    texts = [m.text for m in llm.requests[2].messages if m.role == "user"]
    assert texts[-2:] == ["FEEDBACK FROM USER: more snow please", "FEEDBACK FROM USER: Three different ideas please."]
    # a normal pick afterwards: no feedback leaks into unrelated calls
    await answer(engine, view.run_id, selected_indices=["ideas", 0])
    assert (await engine.state(view.run_id))["idea"]["title"] == "Cat idea 3.0"


async def test_jump_to_earlier_step_drops_later_state_and_keeps_earlier(env) -> None:
    engine, llm, images = env
    view = await engine.start_run("alice", "mini")
    await answer(engine, view.run_id, selected_indices=[0])
    await answer(engine, view.run_id, value="")
    view = await answer(engine, view.run_id, jump_back_requested=True, jump_back_target="change_pet")
    assert view.pending.module_name == "select_pet"
    state = await engine.state(view.run_id)
    assert "pet" not in state and "ideas" not in state
    assert state["workflow_name"] == "Mini"
    await answer(engine, view.run_id, selected_indices=[1])
    view = await answer(engine, view.run_id, value="")
    assert view.pending.display_data.data["ideas"][0]["title"].startswith("Dog")


async def test_jump_within_a_step_and_back_from_media(env) -> None:
    engine, _, images = env
    view = await engine.start_run("alice", "mini")
    await answer(engine, view.run_id, selected_indices=[0])
    await answer(engine, view.run_id, value="")
    await answer(engine, view.run_id, selected_indices=["ideas", 0])
    view = await answer(engine, view.run_id, selected_indices=[["detected", 1]])
    ideas_before = (await engine.state(view.run_id))["ideas"]
    view = await answer(engine, view.run_id, jump_back_requested=True, jump_back_target="select_features")
    assert view.pending.module_name == "select_features"
    state = await engine.state(view.run_id)
    assert "features" not in state and state["ideas"] == ideas_before and state["pet"]["id"] == "cat"
    view = await answer(engine, view.run_id, selected_indices=[["detected", 0], ["detected", 1]])
    view = await generate_and_pick(engine, view.run_id)
    assert view.status == "completed"
    assert (await engine.state(view.run_id))["features"] == ["tail 0", "ears 0"]


async def test_stale_forged_and_foreign_answers_are_refused(env) -> None:
    engine, _, _ = env
    view = await engine.start_run("alice", "mini")
    first_id = view.pending.interaction_id
    await answer(engine, view.run_id, selected_indices=[0])
    with pytest.raises(StaleInteraction):  # the old question again
        await engine.respond(view.run_id, InteractionResponse(interaction_id=first_id, selected_indices=[1]))
    with pytest.raises(StaleInteraction):  # a made-up id
        await engine.respond(view.run_id, InteractionResponse(interaction_id="sel_forged", value="x"))
    with pytest.raises(NotOwner):
        await engine.get_run(view.run_id, owner="mallory")
    view = await answer(engine, view.run_id, value="")
    for bad in ([7], ["ideas", 9], ["other", 0], [], [0]):
        with pytest.raises(InvalidResponse):
            await answer(engine, view.run_id, selected_indices=bad)
    view = await answer(engine, view.run_id, selected_indices=["ideas", 0])
    d = "detected"
    for bad in ([], [[d, 0], [d, 1], [d, 2]], [[d, 0], [d, 0]], [[d, 5]], [0]):  # min 1, max 2, no repeats
        with pytest.raises(InvalidResponse):
            await answer(engine, view.run_id, selected_indices=bad)
    too_long = "x" * 10_000
    assert (await engine.state(view.run_id))["direction"] == ""
    await answer(engine, view.run_id, selected_indices=[[d, 0]])
    with pytest.raises(InvalidResponse):  # a pick of a content that is not this step's
        await answer(engine, view.run_id, selected_content_id="gc_not_mine")
    assert len(too_long) == 10_000


async def test_long_text_is_refused_without_losing_the_question(env) -> None:
    engine, _, _ = env
    view = await engine.start_run("alice", "mini")
    view = await answer(engine, view.run_id, selected_indices=[0])
    with pytest.raises(InvalidResponse):
        await answer(engine, view.run_id, value="x" * 10_000)
    again = await engine.get_run(view.run_id)
    assert again.pending.interaction_id == view.pending.interaction_id


async def test_schema_invalid_answer_is_repaired_once_then_reported(env) -> None:
    engine, llm, _ = env
    llm.bad_answers = ["```json\n{\"ideas\": []}\n```"]  # valid JSON, wrong shape: repaired
    view = await engine.start_run("alice", "mini")
    await answer(engine, view.run_id, selected_indices=[0])
    view = await answer(engine, view.run_id, value="")
    assert view.pending.module_name == "select_idea"
    repair = llm.requests[-1].messages
    assert "did not match the required JSON schema" in repair[-1].text
    # twice wrong: a clear error, nothing stored, and the run can try again
    view = await answer(engine, view.run_id, jump_back_requested=True, jump_back_target="change_pet")
    await answer(engine, view.run_id, selected_indices=[1])
    llm.bad_answers = ["not json", "{\"ideas\": \"nope\"}"]
    view = await answer(engine, view.run_id, value="")
    assert view.pending is None and "wrong shape" in view.error
    assert "ideas" not in await engine.state(view.run_id)
    view = await engine.retry_failed(view.run_id)
    assert view.error is None and view.pending.module_name == "select_idea"


async def test_double_tap_on_generate_submits_once(env) -> None:
    engine, _, images = env
    view = await engine.start_run("alice", "mini")
    await answer(engine, view.run_id, selected_indices=[0])
    await answer(engine, view.run_id, value="")
    await answer(engine, view.run_id, selected_indices=["ideas", 0])
    view = await answer(engine, view.run_id, selected_indices=[["detected", 1]])
    req = SubActionRequest(interaction_id=view.pending.interaction_id, prompt_key="openai", request_key="msg42:gen")
    first = await engine.start_sub_action(view.run_id, req)
    second = await engine.start_sub_action(view.run_id, req)
    await engine.jobs.wait_idle(view.run_id)
    assert first.job_id == second.job_id and images.submits == 1
    with pytest.raises(InvalidResponse):
        await engine.start_sub_action(view.run_id, req.model_copy(update={"request_key": None, "params": {"n": "9"}}))
    with pytest.raises(InvalidResponse):
        await engine.start_sub_action(view.run_id, req.model_copy(update={"request_key": None, "prompt_key": "nope"}))


async def test_runs_of_different_owners_are_isolated(env) -> None:
    engine, _, _ = env
    a = await engine.start_run("alice", "mini")
    b = await engine.start_run("bob", "mini")
    await answer(engine, a.run_id, selected_indices=[0])
    assert (await engine.active_run("bob")).run_id == b.run_id
    assert "pet" not in await engine.state(b.run_id)
    with pytest.raises(NotOwner):
        await engine.respond(a.run_id, InteractionResponse(interaction_id="x"), owner="bob")


async def test_status_display_renders_from_state(env) -> None:
    engine, _, _ = env
    view = await engine.start_run("alice", "mini")
    await answer(engine, view.run_id, selected_indices=[1])
    rows = await engine.status_fields(view.run_id)
    assert rows == [[("Pet", "Dog")], [("Step", "Step 1: Pick")]]
