"""Typed words at every kind of step, offline (the engine's matcher), through
the real bot over the fake Bot API: a select, a multi-select, a media step and
a text input; feedback that reaches the next LLM request after one tap; a
video idea with no run open; "No" that changes nothing; a proposal that
survives a restart; nothing paid without a tap."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.telegram.tap import owner_of
from engine.modules.llm import FEEDBACK_PREFIX
from tests.bot.harness import (
    ALICE,
    NO_PHOTO,
    BotUnderTest,
    CountingRegistry,
    cc_to_images,
    cc_to_scenes,
    counting_registry,
    running_bot,
    start_bot,
)
from tests.fakes.telegram_server import FakeTelegramServer


async def pending(bot):  # noqa: ANN001, ANN201 - BotUnderTest -> InteractionRequest
    view = await bot.engine.active_run(owner_of(ALICE))
    return view.pending


def yes_buttons(tg: FakeTelegramServer) -> list[str]:
    return [text for m in tg.bot_messages(ALICE) for text, _ in tg.buttons_of(m) if text.startswith("✅ Yes")]


def paid(providers: CountingRegistry) -> int:
    """The workflow's own provider calls (LLM steps, generations)."""
    return providers.provider_calls


Counted = tuple[BotUnderTest, CountingRegistry]


async def state_of(bot: BotUnderTest) -> dict[str, Any]:
    return await bot.engine.state((await bot.engine.active_run(owner_of(ALICE))).run_id)


@pytest.fixture
async def counted(tg: FakeTelegramServer, tmp_path: Path) -> AsyncIterator[Counted]:
    """The bot on offline providers that count their calls."""
    providers = counting_registry()
    async with running_bot(tg, tmp_path / "data", providers=providers.registry) as bot:
        yield bot, providers
        await bot.assert_all_answered()


async def test_at_a_select_words_are_said_back_and_asked_before_anything_runs(
    tg: FakeTelegramServer, counted: Counted
) -> None:
    bot, providers = counted
    await cc_to_scenes(bot)
    req = await pending(bot)
    titles = [item["title"] for item in req.display_data.data["scenes"]]
    before, calls = await bot.run_fingerprint(), paid(providers)

    await bot.say("the second one")  # an LLM step follows the pick: asked first
    assert bot.texts()[-1].startswith(f"Pick #2 ‘{titles[1]}’?")
    assert yes_buttons(tg) == ["✅ Yes"], "offline: no price on the button"
    assert paid(providers) == calls
    query = await bot.press("✖️ No")
    assert tg.callback_answer(query)["text"] == "OK, nothing changed."
    assert "Nothing changed" in bot.texts()[-1] or "Not done" in tg.bot_messages(ALICE)[-1]["text"]
    after = await bot.run_fingerprint()
    assert after[:5] == before[:5], "No keeps the step as it was"
    assert paid(providers) == calls

    await bot.say("2")
    await bot.press("✅ Yes")
    state = await state_of(bot)
    assert state["selected_scene"]["title"] == titles[1]
    assert paid(providers) == calls + 1, "one LLM step (the image prompts), after one tap"


async def test_typed_feedback_reaches_the_next_llm_request_after_one_tap(
    tg: FakeTelegramServer, counted: Counted
) -> None:
    bot, providers = counted
    await cc_to_scenes(bot)
    asked = len(providers.llm.requests)
    await bot.say("make it sillier, with a red ball")
    assert bot.texts()[-1].startswith("🔄 New scene ideas with: ‘make it sillier, with a red ball’?")
    assert len(providers.llm.requests) == asked
    taps = len(tg.calls_to("answerCallbackQuery"))
    await bot.press("✅ Yes")
    assert len(tg.calls_to("answerCallbackQuery")) == taps + 1
    assert len(providers.llm.requests) == asked + 1
    assert FEEDBACK_PREFIX + "make it sillier, with a red ball" in providers.llm.user_texts()
    assert any(m.role == "assistant" for m in providers.llm.requests[-1].messages), "as after the retry button"
    await bot.wait_button("New scene ideas")

    # a typed "yes" answers an open proposal too; "no" leaves it
    await bot.say("change the pet")
    assert bot.texts()[-1].startswith("↩️ Change pet, mood or length?")
    await bot.say("no")
    assert (await pending(bot)).module_name == "select_scene"
    await bot.say("change the pet")
    await bot.say("yes")
    assert (await pending(bot)).module_name == "select_pet_type"


async def test_multi_select_ticks_at_once_and_done_asks_first(tg: FakeTelegramServer, counted: Counted) -> None:
    bot, providers = counted
    await cc_to_images(bot)
    await bot.press("Generate with")
    await bot.press("Pick #1")
    req = await pending(bot)
    assert req.display_data.multi_select
    calls = paid(providers)
    await bot.say("1 and 3")  # free: applied at once, the question's message edited in place
    assert bot.texts()[-1].startswith("☑️ Tick")
    assert any("Done (2 selected)" in text for m in tg.bot_messages(ALICE)[-3:] for text, _ in tg.buttons_of(m))
    assert paid(providers) == calls and (await pending(bot)).interaction_id == req.interaction_id
    await bot.say("done")
    assert bot.texts()[-1].startswith("Done with #1 ‘") and yes_buttons(tg)
    assert paid(providers) == calls
    await bot.press("✅ Yes")
    state = await state_of(bot)
    items = req.display_data.data["detected"]
    assert [m["element"] for m in state["selected_motion_elements"]] == [items[0]["element"], items[2]["element"]]
    assert paid(providers) == calls + 1, "the video prompts, after the tap"


async def test_media_step_generate_pick_and_go_back_by_words(tg: FakeTelegramServer, counted: Counted) -> None:
    bot, providers = counted
    await cc_to_images(bot)
    await bot.say("2")
    assert "Nothing has been made yet" in bot.texts()[-1]
    await bot.say("generate with openai")
    assert bot.texts()[-1].startswith("▶ Generate with OpenAI?")
    assert providers.counts.get("submit", 0) == 0
    await bot.press("✅ Yes")
    await bot.settle()
    assert providers.counts["submit"] == 1
    await bot.wait_button("Pick #1")
    assert yes_buttons(tg) == [], "the answered proposal keeps no buttons: nothing to press twice"

    await bot.say("back to the scenes")
    assert bot.texts()[-1].startswith("↩️ Pick a different scene?")
    await bot.press("✖️ No")
    await bot.say("I'll take the first one")
    assert bot.texts()[-1].startswith("✅ Pick #1?")
    await bot.press("✅ Yes")
    assert (await pending(bot)).module_name == "select_motion_elements"
    assert providers.counts["submit"] == 1


async def test_a_video_idea_with_no_run_open_starts_one_and_becomes_its_personal_note(
    tg: FakeTelegramServer, tmp_path: Path
) -> None:
    async with running_bot(tg, tmp_path / "data") as bot:
        await bot.say("/start")
        assert "describe the video" in bot.texts()[-1]
        await bot.say("hello")
        assert "No video in progress" in bot.texts()[-1] and "corgi" in bot.texts()[-1]
        assert await bot.engine.active_run(owner_of(ALICE)) is None
        await bot.say("a corgi chasing bubbles in the garden")
        assert any("personal note" in t and "a corgi chasing bubbles" in t for t in bot.texts()[-3:])
        assert (await pending(bot)).module_name == "get_pet_photo", "the idea does not skip the photo question"
        await bot.press(NO_PHOTO)
        assert (await pending(bot)).module_name == "select_pet_type"
        await bot.press("Dog")
        await bot.press("Playful")
        await bot.press("seconds")
        view = await bot.engine.active_run(owner_of(ALICE))
        assert view.pending.module_name == "select_scene", "the text question was answered with the idea"
        state = await bot.engine.state(view.run_id)
        assert state["user_direction"] == "a corgi chasing bubbles in the garden"
        assert any("Your idea goes in as the personal note" in t for t in bot.texts())
        await bot.assert_all_answered()


async def test_the_text_step_takes_the_words_as_they_are(tg: FakeTelegramServer, counted: Counted) -> None:
    bot, providers = counted
    await bot.say("/new")
    await bot.press(NO_PHOTO)
    await bot.press("Cat")
    await bot.press("Comfort")
    await bot.press("seconds")
    await bot.say("2")  # no understanding at a text question: "2" is the answer
    view = await bot.engine.active_run(owner_of(ALICE))
    assert view.pending.module_name == "select_scene"
    assert (await bot.engine.state(view.run_id))["user_direction"] == "2"


async def test_a_proposal_survives_a_restart(tg: FakeTelegramServer, tmp_path: Path) -> None:
    providers = counting_registry()
    bot = await start_bot(tg, tmp_path / "data", providers=providers.registry)
    try:
        await cc_to_scenes(bot)
        await bot.say("make the cat wear a tiny hat")
    finally:
        await bot.stop()
    asked = len(providers.llm.requests)
    bot = await start_bot(tg, tmp_path / "data", providers=providers.registry)
    try:
        await bot.settle()
        await bot.press("✅ Yes")
        assert len(providers.llm.requests) == asked + 1
        assert FEEDBACK_PREFIX + "make the cat wear a tiny hat" in providers.llm.user_texts()
        await bot.assert_all_answered()
    finally:
        await bot.stop()
