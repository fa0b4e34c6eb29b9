"""A module id the engine has no implementation for, met while a run is under
way (a registry or workflow swapped after the load checks): an error event, a
failed run, never a KeyError and never a run left "active" forever."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api import Engine
from engine.errors import EngineError
from engine.protocol import InteractionResponse, SubActionRequest
from engine.runner import BROKEN_STEP
from tests.conftest import MINI, scripted_registry
from tests.databases import store_for


@pytest.fixture
async def engine(data_dir: Path):
    engine = await Engine.open(store=await store_for(data_dir), media_root=data_dir / "media",
                               providers=scripted_registry(), workflow_dirs=[MINI], poll_scale=0.01)
    yield engine
    await engine.close()


async def events_of(engine: Engine, run_id: str) -> list[str]:
    return [e.type for e in await engine.services.store.events(run_id)]


async def test_an_unknown_module_on_the_way_fails_the_run_with_an_error_event(engine: Engine) -> None:
    del engine.modules["user.select"]  # the first module of the mini workflow
    view = await engine.start_run("alice", "mini")
    assert view.status == "failed"
    assert view.error == BROKEN_STEP and view.pending is None
    types = await events_of(engine, view.run_id)
    assert types[-2:] == ["module_error", "run_failed"]
    # the store agrees, and nothing is left to resume
    assert [r.run_id for r in await engine.services.store.list_runs("alice", "active")] == []
    assert await engine.resume_all() == []
    engine.runlog._cache.clear()  # a fresh fold of the log (and its snapshot) says the same
    again = await engine.get_run(view.run_id)
    assert again.status == "failed" and again.error == BROKEN_STEP


async def test_an_answer_to_a_module_gone_missing_fails_the_run(engine: Engine) -> None:
    view = await engine.start_run("alice", "mini")
    del engine.modules["user.select"]
    view = await engine.get_run(view.run_id)  # the pending question is still shown as it was asked
    assert view.pending is not None
    view = await engine.respond(view.run_id, InteractionResponse(interaction_id=view.pending.interaction_id,
                                                                  selected_indices=[0]))
    assert view.status == "failed" and view.error == BROKEN_STEP
    assert (await events_of(engine, view.run_id))[-3:] == ["interaction_response", "module_error", "run_failed"]


async def test_a_generation_on_a_module_gone_missing_is_refused_clearly(engine: Engine) -> None:
    view = await engine.start_run("alice", "mini")
    for pick in ([0], None, ["ideas", 0], [["detected", 0]]):
        fields = {"selected_indices": pick} if pick is not None else {"value": ""}
        view = await engine.respond(view.run_id, InteractionResponse(
            interaction_id=view.pending.interaction_id, **fields))
    assert view.pending.module_name == "generate_and_select_images"
    del engine.modules["media.generate"]
    with pytest.raises(EngineError, match="This step of the workflow is broken"):
        await engine.start_sub_action(view.run_id, SubActionRequest(interaction_id=view.pending.interaction_id,
                                                                     prompt_key="openai"))
