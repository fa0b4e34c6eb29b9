"""What a job or a render in one process tells the front end in another.

In one process the job runner's `runlog.notify(...)` reaches the front end's
listener directly. A worker has no front end: `publish_to(store, runlog, source)`
subscribes a listener that passes every engine event on through the store
(`Store.publish`: PostgreSQL NOTIFY), and `relay_from(store, runlog, source)`,
in a process that serves people, hands what others published to its own
listeners, after dropping its cached copy of that run (the worker wrote it).
Messages carry their source (the executor id), so a process never hears its
own events twice. The embedded store publishes nothing: one process, no need.
"""

from __future__ import annotations

import logging
from typing import Any

from engine.protocol import EngineEvent
from engine.runlog import RunLog
from engine.store import Store

log = logging.getLogger(__name__)

KIND = "engine_event"


def publish_to(store: Store, runlog: RunLog, source: str) -> None:
    async def publish(event: EngineEvent) -> None:
        await store.publish({"kind": KIND, "source": source, "event": event.model_dump(mode="json")})

    runlog.subscribe(publish)


async def relay_from(store: Store, runlog: RunLog, source: str) -> None:
    async def on_message(message: dict[str, Any]) -> None:
        if message.get("kind") != KIND or message.get("source") == source:
            return
        event = EngineEvent.model_validate(message["event"])
        runlog.forget(event.run_id)  # written by another process: the next load reads the log
        await runlog.deliver(event)

    await store.listen(on_message)
