"""What people type (or send) that the current step does not expect."""

from __future__ import annotations

from pathlib import Path

from bot.telegram.tap import owner_of
from tests.bot.harness import NO_PHOTO, ALICE, running_bot
from tests.fakes.telegram_server import FakeTelegramServer


async def pending_id(bot) -> str:
    view = await bot.engine.active_run(owner_of(ALICE))
    return view.pending.interaction_id


async def test_words_where_a_button_is_expected_are_understood_and_files_get_a_hint(
    tg: FakeTelegramServer, tmp_path: Path
) -> None:
    async with running_bot(tg, tmp_path / "data") as bot:
        await bot.say("/new")
        await bot.press(NO_PHOTO)
        iid = await pending_id(bot)
        count = len(tg.bot_messages(ALICE))
        await bot.say("hello there")  # not an answer: "not sure", the options, the way back to the question
        new = tg.bot_messages(ALICE)[count:]
        assert "not sure" in new[0]["text"].lower() or "question for me" in new[0]["text"]
        assert "Cat & Dog" in new[0]["text"] and len(new) == 1
        assert await pending_id(bot) == iid
        await bot.press("Show the question again")
        assert any(text.endswith("Cat") for text, _ in tg.buttons_of(tg.bot_messages(ALICE)[-1]))

        await bot.say("a cat, obviously")  # a whole label, and nothing paid follows: done at once
        assert "Pick #1 ‘Cat’" in bot.texts()[-2] or any("Pick #1 ‘Cat’" in t for t in bot.texts()[-4:])
        assert await pending_id(bot) != iid

        # stickers and documents at a button step: the same hint (a photo: "start over with it?",
        # tests/bot/test_bot_photo.py)
        for kind in ("sticker", "document"):
            count = len(tg.bot_messages(ALICE))
            await bot.say("", **{kind: True})
            new = tg.bot_messages(ALICE)[count:]
            assert "Please use the buttons" in new[0]["text"], kind
            assert any("Comfort" in text for text, _ in tg.buttons_of(new[-1])), kind
        await bot.assert_all_answered()


async def test_at_the_text_step_long_text_is_refused_and_files_get_a_hint(
    tg: FakeTelegramServer, tmp_path: Path
) -> None:
    async with running_bot(tg, tmp_path / "data") as bot:
        await bot.say("/new")
        await bot.press(NO_PHOTO)
        await bot.press("Dog")
        await bot.press("Comfort")
        await bot.press("seconds")
        view = await bot.engine.active_run(owner_of(ALICE))
        assert view.pending.module_name == "get_user_direction"
        iid = view.pending.interaction_id

        count = len(tg.bot_messages(ALICE))
        await bot.say("x" * 10_000)
        new = tg.bot_messages(ALICE)[count:]
        refusal = new[0]["text"]
        assert "10000 characters" in refusal and "500" in refusal
        assert await pending_id(bot) == iid, "the question is kept"
        assert len(new) == 1 and tg.sent_markup(ALICE, new[0]["message_id"])["force_reply"] is True, \
            "the refusal opens the reply field again"

        for kind in ("sticker", "document"):  # (a photo: "start over with it?", tests/bot/test_bot_photo.py)
            count = len(tg.bot_messages(ALICE))
            await bot.say("", **{kind: True})
            new = tg.bot_messages(ALICE)[count:]
            assert new, kind
            assert "type" in new[0]["text"].lower() and "buttons" not in new[0]["text"], (kind, new[0]["text"])
            assert any("Anything personal" in (m.get("text") or "") for m in new), "the question again"
            assert await pending_id(bot) == iid

        await bot.say("Her name is Biscuit and she loves the sofa")
        view = await bot.engine.active_run(owner_of(ALICE))
        assert view.current_step_id == "scene_generation"
        state = await bot.engine.state(view.run_id)
        assert "Biscuit" in str(state)
        await bot.assert_all_answered()


async def test_long_feedback_is_refused_and_the_prompt_kept(tg: FakeTelegramServer, tmp_path: Path) -> None:
    from tests.bot.harness import cc_to_scenes

    async with running_bot(tg, tmp_path / "data") as bot:
        await cc_to_scenes(bot)
        iid = await pending_id(bot)
        await bot.press("New scene ideas")
        await bot.say("", sticker=True)  # the prompt wants words
        assert "Please type what should be different" in bot.texts()[-1]
        assert await pending_id(bot) == iid
        await bot.say("y" * 10_000)
        assert "please keep it under" in bot.texts()[-1]
        assert await pending_id(bot) == iid
        await bot.say("something with snow")
        assert await pending_id(bot) != iid
        await bot.assert_all_answered()
