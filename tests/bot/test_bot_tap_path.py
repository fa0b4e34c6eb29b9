"""The tap path itself: what one tap costs, and the screens it must not break."""

from __future__ import annotations

from pathlib import Path

from tests.bot.harness import NO_PHOTO, ALICE, ROOT, cc_to_scenes, running_bot
from tests.fakes.telegram_server import FakeTelegramServer

PAGED = ROOT / "tests" / "data" / "paged"


async def test_one_tap_costs_at_most_three_bot_database_round_trips(tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data") as bot:
        await bot.say("/new")
        sessions = bot.front.bot.sessions
        for label in (NO_PHOTO, "Cat", "Comfort", "seconds", "Skip"):  # skips and picks: each one tap
            sessions.round_trips = 0
            await bot.press(label)
            assert 1 <= sessions.round_trips <= 3, (label, sessions.round_trips)
        await bot.wait_button("New scene ideas")


async def test_a_tick_on_page_two_redraws_page_two(tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data", workflow=PAGED) as bot:
        await bot.say("/new")
        await bot.press("Next ▶")
        page_two = bot.tg.bot_messages(ALICE)[-1]
        assert "Options 61–75 of 75" in page_two["text"]
        bot.front.bot.sessions.round_trips = 0
        await bot.press("63. Treat 63")  # on page two
        ticked = next(m for m in bot.tg.bot_messages(ALICE) if m["message_id"] == page_two["message_id"])
        assert "Options 61–75 of 75" in ticked["text"], "the tick keeps the page it was made on"
        labels = [text for text, _ in bot.tg.buttons_of(ticked)]
        assert "✅ 63. Treat 63" in labels and "Done (1 selected)" in labels
        assert bot.front.bot.sessions.round_trips <= 3
        await bot.press("Done")
        await bot.wait_text("A note?")


async def test_scene_step_buttons_without_round_trips_to_spare(tg: FakeTelegramServer, tmp_path: Path) -> None:
    """The same for a retry tap that opens a feedback prompt (its own message)."""
    async with running_bot(tg, tmp_path / "data") as bot:
        await cc_to_scenes(bot)
        bot.front.bot.sessions.round_trips = 0
        await bot.press("New scene ideas")
        assert bot.front.bot.sessions.round_trips <= 3
        await bot.wait_text("Reply with a few words")
