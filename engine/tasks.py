"""Waiting for and stopping a runner's asyncio tasks: the job runners and the
background worker keep theirs in dicts and share these two rules."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any


async def wait_done(current: Callable[[], list[asyncio.Task[Any]]], timeout: float, what: str) -> None:
    """Until `current()` (asked again as tasks end, since a task may start another)
    has no unfinished task; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        tasks = [t for t in current() if not t.done()]
        if not tasks:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{what} still running")
        await asyncio.wait(tasks, timeout=remaining)


async def cancel_all(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel them and wait until each has stopped (their errors are theirs)."""
    stopping = list(tasks)
    for task in stopping:
        task.cancel()
    await asyncio.gather(*stopping, return_exceptions=True)
