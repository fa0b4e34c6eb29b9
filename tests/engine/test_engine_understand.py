"""`Engine.understand` on a real CC run: it changes nothing, prices what
answering would set off from the run's own earlier calls, falls back to the
matcher when the model is away, and refuses what it cannot read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.api import Engine
from engine.providers.openai_llm import OpenAILLM
from engine.providers.registry import offline_registry
from tests.fakes.openai_server import FakeOpenAI
from tests.players import offline_answer, play_first_choices

CC = Path(__file__).resolve().parents[2] / "workflows" / "cc"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI()
    server.answer_with = offline_answer  # the workflow's own LLM steps
    await server.start()
    yield server
    await server.stop()


async def engine_on(tmp_path: Path, fake: FakeOpenAI, *, understander: bool) -> Engine:
    registry = offline_registry()
    live = OpenAILLM(fake.api_key, base_url=fake.base_url, model="gpt-5.2", max_retries=0)
    registry.llm_default, registry.llms = live, {"openai": live}
    if understander:
        registry.understander = OpenAILLM(fake.api_key, base_url=fake.base_url, model="gpt-5.6-luna", max_retries=0)
    return await Engine.open(db_path=tmp_path / "db.sqlite3", media_root=tmp_path / "media", providers=registry,
                             workflow_dirs=[CC], poll_scale=0.01)


async def test_understanding_changes_nothing_and_prices_a_paid_retry(tmp_path: Path, fake: FakeOpenAI) -> None:
    engine = await engine_on(tmp_path, fake, understander=False)
    try:
        run_id = (await engine.start_run("me")).run_id
        skip = await engine.understand(run_id, "no photo")  # the photo question: words can only skip it
        assert skip.kind == "confirm" and not skip.confirm and skip.response.file is None
        await engine.respond(run_id, skip.response)
        text_question = await engine.understand(run_id, "cat")
        assert text_question.kind == "choose" and not text_question.confirm  # the pet: free, certain
        await play_first_choices(engine, run_id, stop_at="get_user_direction")
        answer = await engine.understand(run_id, "2")
        assert answer.kind == "answer" and answer.via == "direct" and answer.response.value == "2"
        await play_first_choices(engine, run_id, stop_at="select_scene")
        events = len(await engine.services.store.events(run_id))

        retry = await engine.understand(run_id, "more snow and a sleepy owl")
        assert retry.kind == "feedback" and retry.confirm and retry.costs_money
        assert retry.price.startswith("~$"), "priced from the run's own scene-writing call"
        pick = await engine.understand(run_id, "3")
        assert pick.kind == "choose" and pick.confirm and pick.costs_money, "an LLM step follows the pick"
        assert pick.price == "a paid AI call", "no earlier call of that step to price it by"
        assert len(await engine.services.store.events(run_id)) == events, "understanding changes nothing"

        await engine.cancel_run(run_id)
        over = await engine.understand(run_id, "2")
        assert over.kind == "unclear" and "finished" in over.reason
    finally:
        await engine.close()


async def test_the_matcher_stands_in_when_the_model_is_away(tmp_path: Path, fake: FakeOpenAI) -> None:
    engine = await engine_on(tmp_path, fake, understander=True)
    try:
        run_id = (await engine.start_run("me")).run_id
        await play_first_choices(engine, run_id, stop_at="select_scene")
        fake.scenario = "server_error"
        guess = await engine.understand(run_id, "make it sillier, with a red ball")
        assert guess.kind == "feedback" and guess.via == "matcher" and guess.confirm
        long = await engine.understand(run_id, "x" * 10_000)
        assert long.kind == "unclear" and "10000 characters" in long.reason
        calls = fake.count("POST", "/v1/responses")
        for text in ("🐶🐶🐶", "hello", "x" * 10_000, "2", "New scene ideas"):
            await engine.understand(run_id, text)
        assert fake.count("POST", "/v1/responses") == calls, "no model call for what the matcher is sure of"
    finally:
        await engine.close()
