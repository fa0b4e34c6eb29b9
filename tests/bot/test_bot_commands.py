"""/status, /cancel, /history and /new through the real bot."""

from __future__ import annotations

from pathlib import Path

from bot.telegram.tap import owner_of
from tests.bot.harness import (
    NO_PHOTO,
    ALICE,
    cc_to_scenes,
    cc_to_video,
    cc_video_to_end,
    running_bot,
)
from tests.fakes.telegram_server import FakeTelegramServer


async def test_status_new_and_cancel(tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data") as bot:
        await bot.say("/status")
        assert "No video in progress" in bot.texts()[-1]

        await cc_to_scenes(bot)
        await bot.say("/status")
        status = bot.texts()[-1]
        assert "Scene Ideas" in status  # the step
        assert "Pet: Cat" in status and "Mood: Comfort" in status and "Length:" in status  # the choices
        assert "Spent so far: free" in status
        await bot.press("Show the current question")
        assert any(text.endswith("New scene ideas") for text, _ in tg.buttons_of(tg.bot_messages(ALICE)[-1]))

        # /new asks first; "Keep going" keeps the run
        first = (await bot.engine.active_run(owner_of(ALICE))).run_id
        await bot.say("/new")
        assert "You have a video in progress" in bot.texts()[-1]
        await bot.press("Keep going")
        assert (await bot.engine.active_run(owner_of(ALICE))).run_id == first

        # "Start over" stops it and starts another
        await bot.say("/new")
        await bot.press("Start over")
        await bot.press(NO_PHOTO)
        second = await bot.engine.active_run(owner_of(ALICE))
        assert second.run_id != first and second.current_step_id == "user_input"
        assert (await bot.engine.get_run(first)).status.value == "cancelled"
        assert any(text.endswith("Cat") for text, _ in tg.buttons_of(tg.bot_messages(ALICE)[-1]))

        # /cancel stops; afterwards the old buttons are closed
        await bot.say("/cancel")
        assert "Stopped" in bot.texts()[-1]
        assert await bot.engine.active_run(owner_of(ALICE)) is None
        assert (await bot.engine.get_run(second.run_id)).status.value == "cancelled"
        query = await bot.press("Cat")
        assert tg.callback_answer(query)["text"] == "This choice is no longer open."
        await bot.say("/cancel")
        assert "Nothing to cancel" in bot.texts()[-1]
        await bot.say("/status")
        assert "No video in progress" in bot.texts()[-1]
        await bot.assert_all_answered()


async def test_history_lists_a_finished_video_and_sends_it_again(tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data") as bot:
        await bot.say("/history")
        assert "No finished videos yet" in bot.texts()[-1]
        await cc_to_video(bot)
        await cc_video_to_end(bot)
        finished = (await bot.engine.list_runs(owner_of(ALICE), "completed"))[0]
        wasted = [c for c in tg.calls if c.status == 400 and "not modified" in (c.error or "")]
        assert wasted == [], "no edit that changes nothing (each spends the rate limit)"
        assert len(tg.calls_to("sendChatAction")) < 10, "typing… only for slow steps"
        title = (await bot.engine.state(finished.run_id)).get("selected_title")
        videos = len(tg.calls_to("sendVideo"))

        await bot.say("/history")
        listing = tg.bot_messages(ALICE)[-1]
        assert "Your finished videos" in listing["text"]
        (label, _), = tg.buttons_of(listing)
        assert label.startswith("🎬") and str(title)[:10] in label
        query = await bot.press("🎬")
        assert tg.callback_answer(query)["text"] == "Sending it again…"
        assert len(tg.calls_to("sendVideo")) == videos + 1
        assert tg.calls_to("sendVideo")[-1].files, "uploaded from disk"
        assert "Your video is ready" in bot.texts()[-1]

        # a new run, then the old "Make another" button must not throw it away
        await bot.say("/new")
        await bot.press(NO_PHOTO)
        await bot.press("Cat")
        current = await bot.engine.active_run(owner_of(ALICE))
        before = await bot.run_fingerprint()
        query = await bot.press("Make another")
        assert tg.callback_answer(query)["text"] == "This choice is no longer open."
        assert await bot.run_fingerprint() == before
        assert (await bot.engine.active_run(owner_of(ALICE))).run_id == current.run_id
        await bot.assert_all_answered()
