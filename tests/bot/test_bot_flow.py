"""A whole CC run from /start to the finished video, through the real bot."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.harness import NO_PHOTO, running_bot
from tests.fakes.telegram_server import FakeTelegramServer


@pytest.fixture
async def tg():
    async with FakeTelegramServer() as server:
        yield server


async def play_to_end(bot, photo_skipped: bool = False) -> None:
    """Tap through the CC workflow with first choices (no photo of your own)."""
    if not photo_skipped:
        await bot.press(NO_PHOTO)
        await bot.press("Cat")
    await bot.press("Comfort")
    await bot.press("seconds")
    await bot.press("Skip")
    await bot.press("1.")  # first scene
    await bot.press("Generate with")
    await bot.press("Pick #1")
    await bot.press("▫️")  # tick the first motion element
    await bot.press("Done")
    await bot.press("Generate with")
    await bot.press("Pick #1")
    await bot.press("1.")  # caption set
    await bot.press("1.")  # title
    await bot.press("1.")  # description
    await bot.press("1.")  # music style
    await bot.press("Generate with")
    await bot.press("Pick #1")
    await bot.press("Looks great")  # the finished video is shown first, then the final check


async def test_whole_run_from_start_to_finished_video(tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data") as bot:
        await bot.say("/start")
        assert "cute-pet video" in bot.texts()[-1]
        assert "Demo mode" in bot.texts()[-1]
        commands = tg.calls_to("setMyCommands")
        assert commands and "history" in str(commands[0].params)
        await bot.press("Start a new video")
        await play_to_end(bot)
        await bot.wait_text("Your video is ready")
        videos = tg.calls_to("sendVideo")
        assert videos and all(c.params.get("supports_streaming") in (True, "true", "True") for c in videos)
        # uploaded from disk, or sent again by the file id Telegram gave an earlier upload: never by URL
        assert all(c.files or str(c.params.get("video", "")).startswith("BQ") for c in videos)
        finals = [c for c in videos if any((f.filename or "").startswith("final_") for f in c.files.values())]
        assert len(finals) == 1, "the finished video is uploaded once: for the final check, then sent by its id"
        assert tg.calls_to("pinChatMessage")
        assert any("Putting your video together" in t for t in bot.texts())  # render progress was shown
        assert sum("Putting your video together… 100%" in t for t in bot.texts()) == 1, "100% arrives once"
        not_modified = [c.method for c in tg.calls if c.status == 400 and "not modified" in (c.error or "")]
        assert not_modified == []
        # the finished video came with title and hashtags as caption
        final = tg.calls_to("sendVideo")[-1]
        assert "#" in str(final.params.get("caption", "")) or "#" in " ".join(bot.texts()[-3:])
        await bot.press("Summary as a file")
        documents = tg.calls_to("sendDocument")
        assert documents and documents[-1].files
        assert not tg.unanswered_callbacks()


async def test_a_whole_run_costs_at_most_35_chat_calls_and_says_nothing_empty(
        tg: FakeTelegramServer, tmp_path: Path) -> None:
    """Telegram allows a bot about 30 messages a second in all: each call a run makes
    costs the crowd. The pinned status waits until it has a choice to show, a render's
    own message is its only sign of life, and a job done within seconds is not
    reported as under way."""
    async with running_bot(tg, tmp_path / "data") as bot:
        start = tg.mark()
        await bot.say("/new")
        await bot.press(NO_PHOTO)
        await bot.press("Cat")
        assert not tg.calls_to("pinChatMessage"), "no empty status message before anything is chosen"
        await play_to_end(bot, photo_skipped=True)
        await bot.wait_text("Your video is ready")
        await bot.settle()
        chat_calls = [c for c in tg.calls[start:] if "chat_id" in c.params and c.method != "answerCallbackQuery"]
        assert len(chat_calls) <= 35, [c.method for c in chat_calls]
        assert len(tg.calls_to("pinChatMessage")) == 1
        status = [c for c in chat_calls if "📌" in str(c.params.get("text", ""))]
        assert status and "Cat" in str(status[0].params["text"]), "the status is first sent with the choices made"
        render_start = next(i for i, c in enumerate(chat_calls) if "in line to be put together" in str(c.params))
        assert not [c for c in chat_calls[render_start:] if c.method == "sendChatAction"], \
            "the render's progress message says it is being made"
