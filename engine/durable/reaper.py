"""Who is alive, and the work of those who are not.

DBOS recovers a process's unfinished workflows when a process with the same
executor id starts again. A process that never comes back (its machine gone,
its slot scaled away) needs a survivor to take its work over; DBOS 3.4 keeps no
record of which executors are alive (only its paid Conductor does), so we keep
one: every process writes its executor id and the time into the store's
`executors` table every `CCBOT_HEARTBEAT_S`. The reaper, in every process that
runs work, then finds the PENDING workflows on our queues whose executor has
been silent longer than `CCBOT_EXECUTOR_DEAD_AFTER_S` (or never wrote a beat)
and puts them back on their own queue, for whichever live process comes first.

Putting one back is DBOS's own recovery, guarded by the executor id: the row
moves from PENDING to ENQUEUED only while it still names the dead executor, so
two reapers (or the dead one coming back) cannot start it twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from dbos import DBOS

from engine.durable.runtime import JOBS_QUEUE, RENDER_QUEUE, DurableConfig
from engine.store import Store

log = logging.getLogger(__name__)

FORGET_AFTER = 10  # a row silent this many times `dead_after` is deleted (its work was taken over long ago)


class Reaper:
    def __init__(self, store: Store, config: DurableConfig) -> None:
        self.store = store
        self.config = config
        self.token = uuid.uuid4().hex[:12]  # this start of the process
        self.taken_over: list[str] = []  # workflow ids this process put back on their queues
        self._task: asyncio.Task[None] | None = None
        self._beats = 0
        self._warned = ""

    async def beat(self) -> None:
        before = await self.store.beat(self.config.executor_id, self.config.role, self.token)
        # the first beat finds the row of this id's previous life; a later one finds its own,
        # unless another live process was started with the same id and beats too
        if self._beats and before is not None and before.token != self.token and before.token != self._warned:
            self._warned = before.token
            log.warning("another live process uses the executor id %s: give each process its own "
                        "CCBOT_EXECUTOR_ID or CCBOT_PROCESS_SLOT", self.config.executor_id)
        self._beats += 1

    async def reap(self) -> list[str]:
        """Put the work of silent executors back on its queues; the workflow ids put back."""
        now = time.time()
        rows = await self.store.executors()
        alive = {r.executor_id for r in rows if now - r.last_seen < self.config.dead_after_s}
        alive.add(self.config.executor_id)
        pending = await DBOS.list_workflows_async(status="PENDING", queue_name=[JOBS_QUEUE, RENDER_QUEUE],
                                                  load_input=False, load_output=False)
        dead = sorted({w.executor_id for w in pending if w.executor_id and w.executor_id not in alive})
        recovered: list[str] = []
        for executor_id in dead:
            handles = await asyncio.to_thread(DBOS._recover_pending_workflows, [executor_id])
            ids = [h.get_workflow_id() for h in handles]
            if ids:
                log.warning("executor %s is silent: %d of its workflows go to the live processes (%s)",
                            executor_id, len(ids), ", ".join(ids[:5]))
            recovered += ids
        for row in rows:
            if now - row.last_seen > FORGET_AFTER * self.config.dead_after_s:
                await self.store.forget_executor(row.executor_id)
        self.taken_over += recovered
        return recovered

    async def run(self) -> None:
        """Beat (and reap, where this process runs work) until cancelled."""
        while True:
            try:
                await self.beat()
                if self.config.executes:
                    await self.reap()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: the next round tries again
                log.warning("executor heartbeat or reaper failed", exc_info=True)
            await asyncio.sleep(self.config.heartbeat_s)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="durable reaper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
