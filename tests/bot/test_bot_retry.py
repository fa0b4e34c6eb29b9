"""🔄 and ↩️ through the real bot: a new version with the person's words (or
the default) reaching the LLM, and going back from the video to the images."""

from __future__ import annotations

from pathlib import Path

from bot.telegram.tap import owner_of
from engine.modules.llm import FEEDBACK_PREFIX
from tests.bot.harness import (
    ALICE,
    cc_to_scenes,
    cc_to_video,
    counting_registry,
    running_bot,
)
from tests.fakes.telegram_server import FakeTelegramServer

SCENE_DEFAULT = ("Please suggest three completely different scene ideas: new settings, new pet behaviours, "
                 "new story angles.")


def scene_requests(llm) -> list:
    return [r for r in llm.requests if r.metadata.get("step_id") == "scene_generation"]


async def test_new_ideas_with_feedback_reach_the_llm(tg: FakeTelegramServer, tmp_path: Path) -> None:
    providers = counting_registry()
    async with running_bot(tg, tmp_path / "data", providers=providers.registry) as bot:
        await cc_to_scenes(bot)
        assert len(scene_requests(providers.llm)) == 1
        first_scenes = (await bot.engine.active_run(owner_of(ALICE))).pending.interaction_id

        await bot.press("New scene ideas")
        prompt = await bot.wait_text("What should the new ideas be like?")
        markup = tg.sent_markup(ALICE, prompt["message_id"])
        assert markup["force_reply"] is True and markup.get("input_field_placeholder")
        default = await bot.wait_text("…or use the default")
        assert any(text.startswith("Just: Please suggest") for text, _ in tg.buttons_of(default))
        assert len(scene_requests(providers.llm)) == 1, "nothing is asked before the person answers"

        await bot.say("more snow and a sleepy owl please")
        requests = scene_requests(providers.llm)
        assert len(requests) == 2
        texts = [m.text for m in requests[-1].messages if m.role == "user"]
        assert FEEDBACK_PREFIX + "more snow and a sleepy owl please" in texts
        assert any(m.role == "assistant" for m in requests[-1].messages), "the earlier answer goes along"

        view = await bot.engine.active_run(owner_of(ALICE))
        assert view.pending.module_name == "select_scene" and view.pending.interaction_id != first_scenes
        await bot.wait_button("New scene ideas")
        assert "Pick the scene" in bot.texts()[-1] or any("Pick the scene" in t for t in bot.texts()[-3:])

        # the next text is an ordinary message again (the feedback prompt was used up)
        await bot.say("hello?")
        assert "question for me" in bot.texts()[-1]
        assert len(scene_requests(providers.llm)) == 2
        await bot.assert_all_answered()


async def test_new_ideas_with_the_default_button(tg: FakeTelegramServer, tmp_path: Path) -> None:
    providers = counting_registry()
    async with running_bot(tg, tmp_path / "data", providers=providers.registry) as bot:
        await cc_to_scenes(bot)
        await bot.press("New scene ideas")
        await bot.press("Just: Please suggest")
        requests = scene_requests(providers.llm)
        assert len(requests) == 2
        texts = [m.text for m in requests[-1].messages if m.role == "user"]
        assert FEEDBACK_PREFIX + SCENE_DEFAULT in texts

        # the used default button is stale now
        default = next(m for m in reversed(tg.bot_messages(ALICE)) if "…or use the default" in (m.get("text") or ""))
        data = tg.buttons_of(default)[0][1]
        before = await bot.run_fingerprint()
        query = tg.inject_callback(ALICE, default["message_id"], data)
        await tg.wait_for(lambda: tg.callback_answer(query))
        await bot.settle()
        assert tg.callback_answer(query)["text"] == "This choice is no longer open."
        assert await bot.run_fingerprint() == before
        assert len(scene_requests(providers.llm)) == 2
        await bot.assert_all_answered()


async def test_back_from_the_video_to_the_images_and_on(tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data") as bot:
        await cc_to_video(bot)
        view = await bot.engine.active_run(owner_of(ALICE))
        assert view.current_step_id == "video_generation"
        state = await bot.engine.state(view.run_id)
        scene = state["selected_scene"]

        query = await bot.press("Go back to image selection")
        assert tg.callback_answer(query)["text"] == "Going back…"
        view = await bot.engine.active_run(owner_of(ALICE))
        assert view.current_step_id == "image_prompts"
        assert view.pending.module_name == "generate_and_select_images"
        assert "Key Frame Image" in bot.texts()[-1]
        assert (await bot.engine.state(view.run_id))["selected_scene"] == scene, "steps 1-2 are kept"

        # the images step again, then on through the video to the end
        await bot.press("Generate with")
        await bot.press("Pick #2")
        await bot.press("▫️")
        await bot.press("Done")
        await bot.wait_button("Go back to image selection")
        await bot.press("Generate with")
        await bot.press("Pick #1")
        view = await bot.engine.active_run(owner_of(ALICE))
        assert view.current_step_id == "text_overlays" and view.pending.module_name == "select_text_overlay"
        await bot.assert_all_answered()
