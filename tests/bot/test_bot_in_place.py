"""Fewer messages for the same screens: a question that follows at once takes
over the answered one's message (one edit, its old buttons gone), recalling
the answer; a question that a model call comes before is a new message, and
the tap's toast says it takes a moment. Anything said in between, or a second
bot process that could have, keeps the old way: a new message."""

from __future__ import annotations

from pathlib import Path

from tests.bot.harness import ALICE, ROOT, newest_with, running_bot
from tests.conftest import scripted_registry
from tests.fakes.telegram_server import FakeTelegramServer

MINI = ROOT / "tests" / "data" / "mini"
WORKING = "takes a few seconds"


def labels(message: dict) -> list[str]:
    return [text for row in message["reply_markup"]["inline_keyboard"] for text in [b["text"] for b in row]]


async def test_the_next_question_takes_over_the_answered_message_when_it_comes_at_once(
        tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data", providers=scripted_registry(), workflow=MINI) as bot:
        await bot.say("/new")
        pet = newest_with(tg, ALICE, "Dog")
        sends = len(tg.calls_to("sendMessage"))
        query = await bot.press("Cat")
        await bot.wait_button("Skip")
        now = tg.message(ALICE, pet["message_id"])
        assert now["text"].startswith("✓ Cat\n\n") and "Skip" in " ".join(labels(now)), now["text"]
        assert "Dog" not in " ".join(labels(now)), "the answered question's buttons are gone"
        assert len(tg.calls_to("sendMessage")) == sends, "one edit, no new message"
        assert WORKING not in ((tg.callback_answer(query) or {}).get("text") or ""), "no model call: no toast"

        # the answer sets off a model call: the tap says so, the ideas come as a new message (it notifies)
        query = await bot.press("Skip")
        assert WORKING in tg.callback_answer(query)["text"]
        await bot.wait_button("New ideas")
        ideas = newest_with(tg, ALICE, "New ideas")
        assert ideas["message_id"] != pet["message_id"]
        assert tg.message(ALICE, pet["message_id"])["text"].startswith("✓ Cat"), "the old one stays as it was"

        await bot.press("1.")  # the features question comes at once again
        await bot.wait_button("Done")
        assert newest_with(tg, ALICE, "Done")["message_id"] == ideas["message_id"]
        await bot.assert_all_answered()


async def test_words_from_the_person_in_between_keep_the_next_question_below_them(
        tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data", providers=scripted_registry(), workflow=MINI) as bot:
        await bot.say("/new")
        pet = newest_with(tg, ALICE, "Dog")
        await bot.say("/help")  # the person's message and the bot's answer are newer than the question
        await bot.settle()
        await bot.press("Cat")
        await bot.wait_button("Skip")
        assert newest_with(tg, ALICE, "Skip")["message_id"] > pet["message_id"], "a new message, below"
        assert "Dog" in " ".join(labels(tg.message(ALICE, pet["message_id"])))


async def test_a_bot_of_several_processes_always_sends_the_next_question_anew(
        tg: FakeTelegramServer, tmp_path: Path) -> None:
    def several(settings: object) -> None:
        settings.ccbot_bot_processes = 3  # type: ignore[attr-defined]  # another process may have said something

    async with running_bot(tg, tmp_path / "data", providers=scripted_registry(), workflow=MINI,
                           configure=several) as bot:
        await bot.say("/new")
        pet = newest_with(tg, ALICE, "Dog")
        await bot.press("Cat")
        await bot.wait_button("Skip")
        assert newest_with(tg, ALICE, "Skip")["message_id"] != pet["message_id"]
