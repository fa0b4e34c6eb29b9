"""Telegram saying no: a 429 is waited out, a 500 is reported and survived."""

from __future__ import annotations

import time
from pathlib import Path

from bot.telegram.tap import owner_of
from tests.bot.harness import NO_PHOTO, ALICE, BOB, running_bot
from tests.fakes.telegram_server import FakeTelegramServer


async def test_a_429_on_send_message_is_waited_out(tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data") as bot:
        tg.fail_next("sendMessage", 429, retry_after=1)
        started = time.monotonic()
        mark = tg.mark()
        tg.inject_command(ALICE, "/help")
        message = await bot.wait_text("/new start a video", timeout=10)
        waited = time.monotonic() - started
        sends = [c for c in tg.calls[mark:] if c.method == "sendMessage"]
        assert [c.status for c in sends] == [429, 200]
        assert sends[1].time - sends[0].time >= 1.0, "retried only after retry_after"
        assert waited < 3
        assert message["text"].startswith("I make short cute-pet videos")
        await bot.settle()
        assert len([m for m in bot.texts() if m.startswith("I make short")]) == 1, "sent once"
        await bot.say("/new")  # and the next update works as usual
        assert any(text.endswith(NO_PHOTO) for text, _ in tg.buttons_of(tg.bot_messages(ALICE)[-1]))
        await bot.assert_all_answered()


async def test_a_500_on_send_is_reported_and_the_next_update_works(tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data") as bot:
        tg.fail_next("sendMessage", 500)
        await bot.say("/help")
        assert "Something went wrong on my side" in bot.texts()[-1]
        assert [c.status for c in tg.calls_to("sendMessage")] == [500, 200]

        await bot.say("/help")  # the next update works
        assert bot.texts()[-1].startswith("I make short cute-pet videos")

        # a 500 while the next question is shown (it takes over the answered one's
        # message): the answer was taken, the person is told, and /status brings it back
        await bot.say("/new")
        await bot.press(NO_PHOTO)
        tg.fail_next("editMessageText", 500)
        query = await bot.press("Cat")
        assert tg.callback_answer(query) is not None
        assert "Something went wrong on my side" in bot.texts()[-1]
        view = await bot.engine.active_run(owner_of(ALICE))
        assert view.pending.module_name == "select_aesthetic"
        await bot.say("/status")
        await bot.press("Show the current question")
        await bot.press("Comfort")
        view = await bot.engine.active_run(owner_of(ALICE))
        assert view.pending.module_name == "select_duration"

        # other people were never affected
        await bot.say("/help", user=BOB)
        assert bot.texts(BOB)[-1].startswith("I make short cute-pet videos")
        await bot.assert_all_answered()
