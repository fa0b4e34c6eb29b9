"""A person's lock: one update of theirs at a time. The holder may enter it again
without waiting for itself; a task started while it held the lock (the engine's
work for a tap, and the events that work sends back) waits its turn."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.telegram.tap import PersonLocks
from tests import databases

OWNER = "tg:1001"


async def test_the_holder_enters_again_without_waiting_for_itself(data_dir: Path) -> None:
    store = await databases.store_for(data_dir)
    locks = PersonLocks(store)
    try:
        async with locks.hold(OWNER):
            async with asyncio.timeout(5):  # a lock that waited for itself would never open
                async with locks.hold(OWNER):
                    assert locks.busy(OWNER)
        assert not locks.busy(OWNER)
    finally:
        await store.close()


async def test_a_task_started_by_the_holder_waits_until_the_holder_is_done(data_dir: Path) -> None:
    store = await databases.store_for(data_dir)
    locks = PersonLocks(store)
    order: list[str] = []

    async def event_handling() -> None:  # as an engine event, sent back from work a tap began
        async with locks.hold(OWNER):
            order.append("event")

    try:
        async with locks.hold(OWNER):
            spawned = asyncio.create_task(event_handling())  # inherits the holder's context
            await asyncio.sleep(0.05)
            order.append("holder done")
        await asyncio.wait_for(spawned, 5)
        assert order == ["holder done", "event"]
    finally:
        await store.close()
