"""Long modules (the final render) run here, off the person's own tap.

- Queued fairly: first come, first served, `slots` at a time (one per core);
  each run waiting is told its place in line and about how long it waits
  (`module_queued`: `position`, and `wait_s` once a render has finished here
  or one under way is far enough along to tell its pace, counting what the
  renders under way have left).
- The run is held only to read its inputs and to write the result; the work
  itself runs without its lock, so the person's other taps are answered.
- Stopping the process cancels the work: nothing is written, so the run is
  still "working" in its log and `resume` runs it again after the restart.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import os
import time
from collections import deque
from typing import Any

from engine.modules.base import ModuleFailure
from engine.runlog import RunLog
from engine.runner import BROKEN_STEP, RunLoop, completed
from engine.state import RunState
from engine.store import NewEvent
from engine.tasks import cancel_all, wait_done
from engine.templating import TemplateError

log = logging.getLogger(__name__)
RECENT = 10  # renders whose durations make the estimate of a wait in line
PACE_FROM = 20.0  # percent a render has done before its pace says how long it takes


class BackgroundWork:
    def __init__(self, runlog: RunLog, loop: RunLoop, slots: int | None = None) -> None:
        self.runlog = runlog
        self.loop = loop
        self.slots = max(1, slots or os.cpu_count() or 1)
        self.tasks: dict[str, asyncio.Task[None]] = {}  # run id -> its work
        self._line: list[str] = []  # run ids waiting for a slot, in order
        self._running = 0
        self._turn = asyncio.Condition()
        self._took: deque[float] = deque(maxlen=RECENT)  # seconds the last renders here took
        self._began: dict[str, float] = {}  # run id -> when its render got a slot
        self._pace: dict[str, float] = {}  # run id -> how long its render takes, from its progress so far

    # ------------------------------------------------------------ control
    def spawn(self, run_id: str) -> None:
        if run_id in self.tasks and not self.tasks[run_id].done():
            return
        task = asyncio.create_task(self._work(run_id), name=f"background {run_id}")
        self.tasks[run_id] = task
        task.add_done_callback(lambda _t, r=run_id: self.tasks.pop(r, None) if self.tasks.get(r) is _t else None)

    def resume(self, run: RunState) -> None:
        """After a restart (run held): work the log says was under way starts again."""
        if run.working and run.status == "active":
            self.spawn(run.run_id)

    def cancel(self, run_id: str) -> None:
        task = self.tasks.pop(run_id, None)
        if task is not None:
            task.cancel()

    def position(self, run_id: str) -> int | None:
        """1 for the next in line; None when not waiting."""
        return self._line.index(run_id) + 1 if run_id in self._line else None

    async def wait_idle(self, run_id: str | None = None, timeout: float = 120) -> None:
        await wait_done(lambda: [t for r, t in self.tasks.items() if run_id in (None, r)], timeout,
                        "background work")

    async def shutdown(self) -> None:
        await cancel_all(self.tasks.values())

    # ------------------------------------------------------------ working
    async def _wait_turn(self, run_id: str) -> None:
        self._line.append(run_id)
        try:
            async with self._turn:
                await self._tell_places()
                while self._running >= self.slots or self._line[0] != run_id:
                    await self._turn.wait()
                self._running += 1
                self._began[run_id] = time.monotonic()  # before the places are told: this slot is taken
        finally:
            self._line.remove(run_id)

    async def _leave(self) -> None:
        async with self._turn:
            self._running -= 1
            self._turn.notify_all()

    async def _tell_places(self) -> None:
        line = list(self._line)
        waits = self.waits(len(line))
        for place, run_id in enumerate(line, start=1):
            run = await self.runlog.load(run_id)
            wait_s = waits[place - 1] if waits else None
            await self.runlog.notify(run, "module_queued", {"module": (run.working or {}).get("module_name"),
                                                             "position": place,
                                                             **({"wait_s": round(wait_s)} if wait_s else {})})

    def waits(self, count: int) -> list[float]:
        """About how long each of the first `count` places in line waits (none before a
        render has finished here or shown its pace): a slot frees once its render has run
        as long as its pace says (or the recent ones took), and the next in line takes it."""
        paces = list(self._pace.values())
        if not (self._took or paces) or count <= 0:
            return []
        mean = sum(self._took) / len(self._took) if self._took else sum(paces) / len(paces)
        now = time.monotonic()
        free = [max(0.0, self._pace.get(run_id, mean) - (now - began))
                for run_id, began in self._began.items()][:self.slots]
        free += [0.0] * (self.slots - len(free))
        heapq.heapify(free)
        waits: list[float] = []
        for _place in range(count):
            waits.append(free[0])
            heapq.heapreplace(free, free[0] + mean)
        return waits

    async def _work(self, run_id: str) -> None:
        await self._wait_turn(run_id)
        began = self._began[run_id]
        try:  # from here on the slot is given back, even if cancelled while the places are told
            await self._tell_places()
            await self._run_module(run_id)
            self._took.append(time.monotonic() - began)
        finally:
            self._began.pop(run_id, None)
            self._pace.pop(run_id, None)
            await self._leave()

    def _paced(self, run_id: str, percent: float) -> None:
        """A render's progress: once far enough along, how long it takes in all at this pace."""
        began = self._began.get(run_id)
        if began is not None and percent >= PACE_FROM:
            self._pace[run_id] = (time.monotonic() - began) * 100 / min(percent, 100.0)

    async def _run_module(self, run_id: str) -> None:
        async with self.runlog.hold(run_id) as run:
            working = dict(run.working or {})
            if not working or run.status != "active":
                return
            si, mi = int(working["step_index"]), int(working["module_index"])
            ctx = self.loop.context(run, si, mi)
            ctx.recovery_option = working.get("recovery_option")

        async def progress(percent: float, message: str) -> None:
            self._paced(run_id, percent)
            await self.runlog.notify(run, "module_progress",
                                     {"module": ctx.module.name, "progress": percent, "message": message})

        ctx.progress = progress
        failure: tuple[str, bool, str, list[dict[str, str]]] | None = None
        outputs: dict[str, Any] = {}
        try:
            inputs = self.loop.resolve_inputs(ctx)
            outputs = await self.loop.impl(ctx.module).execute(inputs, ctx)
        except ModuleFailure as exc:
            failure = (exc.message, exc.retryable, exc.detail, exc.options)
        except TemplateError as exc:
            failure = (BROKEN_STEP, False, str(exc), [])
        async with self.runlog.hold(run_id) as run:
            if run.status != "active" or (run.working or {}).get("module_name") != ctx.module.name:
                return  # cancelled or moved on meanwhile: the result is not wanted
            if failure is not None:
                message, retryable, detail, options = failure
                log.warning("module %s failed in run %s: %s", ctx.module.name, run_id, detail or message)
                await self.runlog.append(run, [*ctx.emitted, NewEvent("module_error", {
                    "message": message, "retryable": retryable, "options": options,
                    "step_index": si, "module_index": mi}, ctx.step_id, ctx.module.name)], spend=ctx.spend)
                await self.runlog.notify(run, "module_error", {"message": message, "retryable": retryable,
                                                               "options": options, "module": ctx.module.name})
            else:
                await self.runlog.append(run, [*ctx.emitted, completed(ctx.step, ctx.module, si, mi, outputs)],
                                         spend=ctx.spend)
                await self.loop.drive(run)
        await self.runlog.notify(run, "run_advanced", {"module": ctx.module.name, "failed": failure is not None})
