"""Several people at once: every run moves, nobody's taps break anybody else's."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.telegram.session import Session, Sessions
from bot.telegram.tap import owner_of
from tests.bot.harness import ALICE, NO_PHOTO, BotUnderTest, cc_to_video, running_bot
from tests.fakes.telegram_server import FakeTelegramServer

USERS = tuple(range(2001, 2007))


async def tap(bot: BotUnderTest, user: int, label: str, ready: str | None = None) -> None:
    """Wait for the question (a button `ready` shows it is there), then tap `label`."""
    tg = bot.tg
    await bot.wait_button(ready or label, user, timeout=20)
    query = tg.press(user, label)
    await tg.wait_for(lambda: tg.callback_answer(query) is not None, timeout=20)


async def walk(bot: BotUnderTest, user: int) -> None:
    """/new to the images step, waiting for each question like a person would."""
    tg = bot.tg
    tg.inject_command(user, "/new")
    for label, ready in ((NO_PHOTO, None), ("Cat", None), ("Comfort", None), ("seconds", None), ("Skip", None),
                         ("1.", "New scene ideas"), ("Generate with", None)):
        await tap(bot, user, label, ready)
    await bot.wait_button("Pick #1", user, timeout=30)


async def test_six_people_at_once_all_get_through(
    tg: FakeTelegramServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with running_bot(tg, tmp_path / "data", allowed=USERS) as bot:
        await asyncio.gather(*(walk(bot, user) for user in USERS))
        await bot.settle()
        for user in USERS:
            view = await bot.engine.active_run(owner_of(user))
            assert view is not None and view.current_step_id == "image_prompts", user
            run = await bot.engine.load(view.run_id)
            assert [j.status for j in run.jobs.values()] == ["completed"], user
            assert not [t for t in bot.texts(user) if "Something went wrong" in t], user
        problems = [r.getMessage() for r in caplog.records
                    if r.levelno >= logging.ERROR or "transaction" in r.getMessage() or "locked" in r.getMessage()]
        assert problems == []
        await bot.assert_all_answered()


async def test_a_tap_on_a_screen_whose_sending_is_not_finished_waits_and_is_taken(
    tg: FakeTelegramServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The final check is sent by the handling of an engine event (the render finished),
    which began in work the person's earlier tap set off. A tap on it while that handling
    still saves what it showed must wait for it, not find the question "no longer open"
    (it did: the event's task inherited the tap's hold on the person, and so never held it)."""
    real_save = Sessions.save

    async def slow_outside_updates(self: Sessions, session: Session) -> None:
        task = asyncio.current_task()
        if task is not None and not task.get_name().endswith("process_concurrent_update"):
            await asyncio.sleep(0.3)  # an event's handling (not an update's) saves slowly
        await real_save(self, session)

    monkeypatch.setattr(Sessions, "save", slow_outside_updates)
    async with running_bot(tg, tmp_path / "data") as bot:
        await bot.say("/new")
        await cc_to_video(bot)
        for label in ("Generate with", "Pick #1", "1.", "1.", "1.", "1.", "Generate with", "Pick #1"):
            await bot.press(label)
        await bot.wait_button("Looks great")
        query = tg.press(ALICE, "Looks great")  # at once: the final check's handling is still saving
        answer = await tg.wait_for(lambda: tg.callback_answer(query), timeout=10)
        assert "no longer open" not in (answer.get("text") or "")
        await bot.wait_text("ready to post")
