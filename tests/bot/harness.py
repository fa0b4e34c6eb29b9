"""The real bot (python-telegram-bot Application over real HTTP) against the
fake Bot API server, with the engine on offline providers and a temp SQLite."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from telegram.ext import Application

from bot.app import CCBot, build_application
from bot.ui_store import UIStore
from engine.providers.registry import ProviderRegistry, offline_registry
from engine.runner import Engine
from engine.settings import Settings
from tests.fakes.telegram_server import FakeTelegramServer

ROOT = Path(__file__).resolve().parents[2]
CC = ROOT / "workflows" / "cc"
ALICE, BOB, MALLORY = 1001, 1002, 6666


@dataclass
class BotUnderTest:
    tg: FakeTelegramServer
    engine: Engine
    ui: UIStore
    app: Application
    bot: CCBot
    data_dir: Path

    async def stop(self) -> None:
        """A clean shutdown (see `kill` for the other kind)."""
        with contextlib.suppress(Exception):
            await self.app.updater.stop()
        with contextlib.suppress(Exception):
            await self.app.stop()
        with contextlib.suppress(Exception):
            await self.app.shutdown()
        await self.engine.close()
        await self.ui.close()

    async def kill(self) -> None:
        """As close to SIGKILL as one process allows: tasks die, nothing is flushed on purpose."""
        await self.engine.jobs.shutdown()
        for task in list(getattr(self.app, "_ApplicationBase__update_fetcher_task", []) or []):
            task.cancel()
        await self.stop()

    def texts(self, chat_id: int = ALICE) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.tg.bot_messages(chat_id)]

    async def wait_text(self, needle: str, chat_id: int = ALICE, timeout: float = 10.0) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for message in reversed(self.tg.bot_messages(chat_id)):
                if needle in (message.get("text") or message.get("caption") or ""):
                    return message
            return None

        return await self.tg.wait_for(find, timeout)

    async def wait_button(self, label: str, chat_id: int = ALICE, timeout: float = 10.0) -> None:
        def find() -> bool:
            return any(label in text for m in self.tg.bot_messages(chat_id) for text, _ in self.tg.buttons_of(m))

        await self.tg.wait_for(find, timeout)

    async def press(self, label: str, user: int = ALICE, chat_id: int | None = None, timeout: float = 10.0) -> str:
        await self.wait_button(label, chat_id if chat_id is not None else user, timeout)
        before = self.tg.mark()
        query_id = self.tg.press(user, label, chat_id=chat_id)
        await self.tg.wait_for(lambda: self.tg.callback_answer(query_id) is not None, timeout)
        await self.settle(before)
        return query_id

    async def say(self, text: str, user: int = ALICE, chat_id: int | None = None) -> None:
        before = self.tg.mark()
        if text.startswith("/"):
            self.tg.inject_command(user, text, chat_id=chat_id)
        else:
            self.tg.inject_message(user, text, chat_id=chat_id)
        await self.settle(before)

    async def settle(self, after: int = 0, quiet_s: float = 0.3, timeout: float = 20.0) -> None:
        """Wait until the bot has stopped talking for `quiet_s` (and its jobs are done)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last = -1
        stable_since = loop.time()
        while loop.time() < deadline:
            await self.engine.jobs.wait_idle(timeout=timeout)
            count = len([c for c in self.tg.calls if c.method not in ("getUpdates",)])
            if count != last:
                last, stable_since = count, loop.time()
            elif loop.time() - stable_since >= quiet_s and count > after:
                return
            elif loop.time() - stable_since >= quiet_s * 3:
                return
            await asyncio.sleep(0.05)


async def start_bot(
    tg: FakeTelegramServer,
    data_dir: Path,
    *,
    allowed: tuple[int, ...] = (ALICE, BOB),
    providers: ProviderRegistry | None = None,
    workflow: Path = CC,
    configure: Callable[[Settings], None] | None = None,
) -> BotUnderTest:
    settings = Settings(
        telegram_bot_token=SecretStr(tg.token),
        telegram_api_base_url=tg.base_url,
        telegram_api_file_url=tg.base_file_url,
        ccbot_allowed_users=",".join(str(a) for a in allowed),
        ccbot_data_dir=data_dir,
        _env_file=None,
    )
    if configure:
        configure(settings)
    engine = await Engine.open(
        db_path=settings.db_path, media_root=settings.media_root,
        providers=providers or offline_registry(), workflow_dirs=[workflow], poll_scale=0.01,
    )
    ui = await UIStore.open(settings.db_path)
    app, ccbot = build_application(settings, engine, ui)
    await app.initialize()
    await ccbot.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    return BotUnderTest(tg, engine, ui, app, ccbot, data_dir)


@contextlib.asynccontextmanager
async def running_bot(tg: FakeTelegramServer, data_dir: Path, **kwargs: Any) -> AsyncIterator[BotUnderTest]:
    bot = await start_bot(tg, data_dir, **kwargs)
    try:
        yield bot
    finally:
        await bot.stop()
