"""The fake Telegram Bot API on an event loop of its own, in a thread of its own.

The fake's clock is the benchmark's clock: it stamps when an update is handed
over and when each of the bot's requests arrives. On the people's loop, every
fold of a run log, every decision and every wake-up of a person delayed those
stamps and the answers to the bot's long polls; a ccbot run does far more of
that than the baseline's, so the delay was counted against ccbot (the loop
lagged up to 431 ms in a ccbot phase, 2 ms in the baseline's). Here the
server's loop does only the server's work. The GIL is still shared, so the
driver asks for a short switch interval (`SWITCH_INTERVAL_S`): a busy person
holds up the server for about a millisecond, not for a whole fold.

Reads of the server's state from the people's thread (its calls, its
messages) are plain reads of lists and dicts that only the server's thread
writes; anything that changes the server (injecting an update) runs on its
loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from tests.fakes.telegram_server import Call, FakeTelegramServer

SWITCH_INTERVAL_S = 0.001  # Python's default is 5 ms
T = TypeVar("T")


class ThreadedFakeTelegram:
    """`FakeTelegramServer` served from its own thread; attribute reads go to the server."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-bot-api", daemon=True)
        self._server: FakeTelegramServer | None = None

    @property
    def server(self) -> FakeTelegramServer:
        assert self._server is not None, "start() first"
        return self._server

    def __getattr__(self, name: str) -> Any:  # token, base_url, calls, calls_to, _messages, ...
        if name.startswith("__") or self._server is None:
            raise AttributeError(name)
        return getattr(self._server, name)

    async def on_server(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the server's loop and wait for it from the caller's."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    async def start(self) -> None:
        self._thread.start()

        async def make() -> FakeTelegramServer:
            server = FakeTelegramServer(**self._options)
            await server.start()
            return server

        self._server = await self.on_server(make())

    async def stop(self) -> None:
        if self._server is not None:
            await self.on_server(self._server.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join, 10)
        self._loop.close()

    # --------------------------------------------------------- people's side
    async def inject_command(self, user_id: int, text: str) -> float:
        """Hand the bot a command; returns the moment it was handed over, by the server's clock."""

        async def inject() -> float:
            at = time.monotonic()
            self.server.inject_command(user_id, text)
            return at

        return await self.on_server(inject())

    async def inject_callback(self, user_id: int, message_id: int, data: str) -> tuple[float, str]:
        """Tap a button; returns (the moment, by the server's clock; the callback query id)."""

        async def inject() -> tuple[float, str]:
            at = time.monotonic()
            return at, self.server.inject_callback(user_id, message_id, data)

        return await self.on_server(inject())

    def listen(self, listener: Callable[[Call, float], None]) -> None:
        """Call `listener(call, finished_at)` on the caller's loop after each call the bot makes."""
        loop = asyncio.get_running_loop()
        self.server.listeners.append(lambda call: loop.call_soon_threadsafe(listener, call, time.monotonic()))

    def watch_lag(self, lag: Any) -> None:
        """Start a `measure.LoopLag` on the server's loop (the one whose lateness would count)."""
        self._loop.call_soon_threadsafe(lag.start)
