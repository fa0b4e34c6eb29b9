"""Durable jobs and renders on DBOS Transact (`CCBOT_JOBS=dbos`).

- `runtime.py`: DBOS configured from our settings and launched on the loop.
- `jobs.py`: generation jobs as workflows (submit once, poll, download, finish).
- `background.py`: the final render as a workflow on its own queue.
- `reaper.py`: heartbeats, and the work of silent processes taken over.

Importing this package imports DBOS (~40 MB, ~0.4 s), so the engine imports it
only when `CCBOT_JOBS=dbos`. See docs/architecture.md, "Decision: durable jobs on DBOS".
"""

from __future__ import annotations

from typing import Any

from engine.durable.reaper import Reaper
from engine.durable.runtime import DurableConfig, Runtime
from engine.settings import Settings
from engine.store import Store


class Durable:
    """DBOS for one engine: the runtime and its heartbeat/reaper."""

    def __init__(self, store: Store, config: DurableConfig) -> None:
        self.config = config
        self.runtime = Runtime(config)
        self.reaper = Reaper(store, config)

    @classmethod
    def for_store(cls, store: Store, settings: Settings, role: str | None = None, **overrides: Any) -> Durable:
        return cls(store, DurableConfig.for_store(store, settings, role, **overrides))

    async def start(self) -> None:
        await self.reaper.beat()  # alive before it can own any work: no reaper takes a newcomer's work
        await self.runtime.start()
        self.reaper.start()

    async def stop(self) -> None:
        await self.reaper.stop()
        await self.runtime.stop()


__all__ = ["Durable", "DurableConfig", "Runtime"]
