"""Telegram's flood limits, kept on our side so Telegram never has to say 429.

- about 30 messages a second for the whole bot,
- about one a second per private chat (short bursts are fine), 20 a minute per group,
- calls to one chat go out in the order they were made (one FIFO lock per chat),
- an urgent call (the first visible reaction to what a person just did) takes
  the next free slot ahead of queued bulk traffic (progress edits, uploads);
  the first urgent call made while handling a person's message (text, command,
  photo, voice: `expect_first_reaction`) goes ahead of other urgent calls too,
  since for a tap the first reaction is its answer, which needs no slot,
- a 429 that still comes pauses everything for the time Telegram asks.

Cosmetic calls (chat actions) never wait: `try_slot` says no when a slot is not free.

The limits are Telegram's for the bot, not for a process: N identical processes
serving one bot (CCBOT_BOT_PROCESSES) each keep 1/N of every budget, so together
they stay within it (any of them may write to any chat, as webhooks go to any).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from engine.locks import KeyedLocks


# Set while a person's message is handled: [True] until its first urgent call took the front
# of the line. At 100 people every tap's next screen is urgent too, and a /new waited 1.5 s
# (p95) behind them for its first message at Telegram's 30 a second.
_FIRST_REACTION: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar("first_reaction", default=None)
FIRST, URGENT, BULK = 0, 1, 2  # places in line for an overall slot


def expect_first_reaction() -> None:
    """The update being handled is a person's message: its first urgent call is its reaction."""
    _FIRST_REACTION.set([True])


def _place(urgent: bool) -> int:
    if not urgent:
        return BULK
    pending = _FIRST_REACTION.get()
    if pending and pending[0]:
        pending[0] = False
        return FIRST
    return URGENT


@dataclass
class Bucket:
    """A token bucket: `capacity` calls at once, refilled at `rate` per second."""

    rate: float
    capacity: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self, now: float) -> float:
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1

    def idle(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity


class FloodGate:
    def __init__(self, overall_per_s: float = 30.0, chat_per_s: float = 1.0, chat_burst: float = 20.0,
                 group_per_min: float = 20.0, processes: int = 1) -> None:
        share = 1.0 / max(1, processes)  # this process's part of the bot's budgets
        overall_per_s, chat_per_s, group_per_min = overall_per_s * share, chat_per_s * share, group_per_min * share
        chat_burst = max(1.0, chat_burst * share)
        self._group_burst = max(1.0, 20.0 * share)
        self._overall = Bucket(overall_per_s, overall_per_s)
        self._chat_rate, self._chat_burst = chat_per_s, chat_burst
        self._group_rate = group_per_min / 60.0
        self._chats: dict[int, Bucket] = {}
        self._chat_lock = KeyedLocks()
        self._queue: list[tuple[int, int]] = []  # (priority, ticket) waiting for an overall slot
        self._tickets = itertools.count()
        self._cond = asyncio.Condition()
        self._paused_until = 0.0
        self.waited = 0  # calls that had to wait for a slot (for benchmarks)

    def _chat_bucket(self, chat_id: int) -> Bucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if len(self._chats) > 2000:  # forget chats whose budget is full again
                now = time.monotonic()
                for key in [k for k, b in self._chats.items() if b.idle(now)]:
                    del self._chats[key]
            group = chat_id < 0
            bucket = Bucket(self._group_rate, self._group_burst) if group else Bucket(self._chat_rate, self._chat_burst)
            self._chats[chat_id] = bucket
        return bucket

    def pause(self, seconds: float) -> None:
        """Telegram said 429: nothing goes out until it allows again."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def try_slot(self, chat_id: int) -> bool:
        """Take a slot only if one is free right now, with nobody waiting for it."""
        now = time.monotonic()
        if now < self._paused_until or self._queue:
            return False
        chat = self._chat_bucket(chat_id)
        if chat.wait_time(now) > 0 or self._overall.wait_time(now) > 0:
            return False
        chat.take(now)
        self._overall.take(now)
        return True

    @contextlib.asynccontextmanager
    async def slot(self, chat_id: int, urgent: bool = False) -> AsyncIterator[None]:
        """Hold the chat (its calls stay in order) and one overall slot for one call."""
        async with self._chat_lock(chat_id):
            chat = self._chat_bucket(chat_id)
            wait = chat.wait_time(time.monotonic())
            if wait > 0:
                self.waited += 1
                await asyncio.sleep(wait)
            chat.take(time.monotonic())
            await self._overall_slot(_place(urgent))
            yield

    async def _overall_slot(self, place: int) -> None:
        ticket = (place, next(self._tickets))
        heapq.heappush(self._queue, ticket)
        counted = False
        try:
            async with self._cond:
                while True:
                    now = time.monotonic()
                    wait = max(self._paused_until - now, 0.0)
                    if self._queue[0] == ticket and wait <= 0:
                        wait = self._overall.wait_time(now)
                        if wait <= 0:
                            self._overall.take(now)
                            return
                    if not counted:
                        self.waited, counted = self.waited + 1, True
                    # the head sleeps until a slot is due; the others until the head changes
                    timeout = wait if self._queue[0] == ticket else None
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._cond.wait(), timeout)
        finally:
            self._queue.remove(ticket)
            heapq.heapify(self._queue)
            async with self._cond:
                self._cond.notify_all()
