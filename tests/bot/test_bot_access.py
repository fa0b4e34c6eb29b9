"""Default deny: a person who is not on the allowed list is told their id
politely, and nothing else happens (no run, no provider call)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot import callbacks
from bot.telegram import access
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


async def test_what_another_process_decided_applies_soon_and_no_update_waits_to_read_it(
    tg: FakeTelegramServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(access, "REFRESH_S", 0.2)
    async with running_bot(tg, tmp_path / "data") as bot:
        store = bot.engine.services.store
        await bot.say("/start", user=MALLORY)
        assert "private bot" in bot.texts(MALLORY)[-1]
        await store.save_person(owner_of(MALLORY), allowed=True)  # an admin's /allow in another bot process
        deadline = asyncio.get_running_loop().time() + 5
        while not bot.front.access.allows(MALLORY):  # read in the background within REFRESH_S
            assert asyncio.get_running_loop().time() < deadline, "the access lists were not read again"
            await asyncio.sleep(0.05)
        await bot.say("/start", user=MALLORY)
        assert "cute-pet video" in bot.texts(MALLORY)[-1]

        async def stuck() -> list[object]:  # the store takes its time: updates do not wait for it
            await asyncio.Event().wait()
            return []

        monkeypatch.setattr(store, "people", stuck)
        await asyncio.sleep(0.3)  # the lists are older than REFRESH_S now
        await asyncio.wait_for(bot.say("/help", user=ALICE), 10)
        assert "/new" in bot.texts(ALICE)[-1]
