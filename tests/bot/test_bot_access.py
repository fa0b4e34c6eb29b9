"""Default deny: a person who is not on the allowed list is told their id
politely, and nothing else happens (no run, no provider call)."""

from __future__ import annotations

from pathlib import Path

from bot import callbacks
from bot.telegram.tap import owner_of
from tests.bot.harness import ALICE, MALLORY, counting_registry, running_bot
from tests.fakes.telegram_server import FakeTelegramServer


async def test_an_unknown_user_is_refused_with_their_id_and_nothing_runs(
    tg: FakeTelegramServer, tmp_path: Path
) -> None:
    providers = counting_registry()
    async with running_bot(tg, tmp_path / "data", providers=providers.registry) as bot:
        for text in ("/start", "/new", "/status", "/history", "a cat video please"):
            before = len(tg.bot_messages(MALLORY))
            await bot.say(text, user=MALLORY)
            replies = bot.texts(MALLORY)[before:]
            assert len(replies) == 1, text
            assert str(MALLORY) in replies[0] and "private bot" in replies[0]
        await bot.say("", user=MALLORY, sticker=True)
        await bot.say("", user=MALLORY, photo=True)

        # a well-signed button (as if copied from someone's chat) is refused too
        data = callbacks.encode("new", "menu", "", bot.front.bot.secret)
        query = tg.inject_callback(MALLORY, 1, data)
        await tg.wait_for(lambda: tg.callback_answer(query))
        await bot.settle()
        assert "private bot" in tg.callback_answer(query)["text"]

        assert providers.provider_calls == 0
        assert await bot.engine.services.store.list_runs(owner_of(MALLORY)) == []
        assert await bot.engine.services.store.list_runs(status="active") == []
        assert not [c for c in tg.calls if c.params.get("chat_id") not in (None, MALLORY)]

        # the owner is not affected
        await bot.say("/start", user=ALICE)
        assert "cute-pet video" in bot.texts(ALICE)[-1]
        await bot.assert_all_answered()
