"""Long modules (the final render) as DBOS workflows on their own queue.

One workflow per start of a long module: its id is the run and the seq of the
`module_started` event that began it, so a resume, a double start or a second
process starts it once, and a retry of the module (a new `module_started`) is
a new workflow. The queue's global limit (`CCBOT_RENDER_CONCURRENCY`, the CPU
count by default) holds across every process that listens to it, so renders
can run in worker processes on machines of their own.

The one step runs the module as engine/background.py does (the run held only
to read its inputs and to write its result). A process that dies mid-render
leaves the workflow PENDING: its restart, or a survivor's reaper, renders again
(a render is local work; nothing is paid twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from typing import Any

from dbos import DBOS, SetWorkflowID

from engine.background import BackgroundWork
from engine.durable.runtime import RENDER_QUEUE, Runtime
from engine.runlog import RunLog
from engine.runner import RunLoop
from engine.state import RunState
from engine.store import NewEvent
from engine.tasks import cancel_all

log = logging.getLogger(__name__)

FINISHED = ("SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")
CHECK_S = 2.0  # how often a waiter asks DBOS about work queued or run elsewhere
FAILED = "The video could not be finished this time. Please try again."

_active: DurableBackground | None = None


def _work() -> DurableBackground:
    if _active is None:
        raise RuntimeError("no durable background work in this process")
    return _active


@DBOS.workflow(name="ccbot.render")
async def render_workflow(run_id: str, start_seq: int) -> str:
    return await _work().work(run_id, start_seq)


@DBOS.step(name="ccbot.render.module")
async def render_step(run_id: str, start_seq: int) -> str:
    return await _work().render(run_id, start_seq)


class DurableBackground(BackgroundWork):
    def __init__(self, runlog: RunLog, loop: RunLoop, runtime: Runtime) -> None:
        super().__init__(runlog, loop, runtime.config.render_concurrency)
        global _active
        _active = self
        self.runtime = runtime
        self.running: dict[str, asyncio.Task[Any]] = {}  # workflow id -> its task in this process
        self._ended: dict[str, asyncio.Event] = {}
        self._positions: dict[str, int] = {}
        self._workflow_of: dict[str, str] = {}  # run id -> its render's workflow id

    def start_seq(self, run: RunState) -> int | None:
        """The seq of the `module_started` of the long module under way (None: none is)."""
        working = run.working
        if not working or run.status != "active":
            return None
        step = self.runlog.workflow_of(run).steps[int(working["step_index"])]
        return run.module_starts.get(f"{step.step_id}/{working['module_name']}")

    # ------------------------------------------------------------ control
    def spawn(self, run_id: str) -> None:
        if run_id in self.tasks and not self.tasks[run_id].done():
            return
        task = asyncio.create_task(self._follow(run_id), name=f"background {run_id}", context=contextvars.Context())
        self.tasks[run_id] = task
        task.add_done_callback(lambda t, r=run_id: self.tasks.pop(r, None) if self.tasks.get(r) is t else None)

    def cancel(self, run_id: str) -> None:
        follower = self.tasks.pop(run_id, None)
        if follower is not None:
            follower.cancel()
        workflow_id = self._workflow_of.pop(run_id, None)
        if workflow_id is None:
            return
        running = self.running.get(workflow_id)
        if running is not None:
            running.cancel()
        self.runtime.track(asyncio.create_task(self._cancel(workflow_id), context=contextvars.Context()))

    @staticmethod
    async def _cancel(workflow_id: str) -> None:
        with contextlib.suppress(Exception):
            await DBOS.cancel_workflow_async(workflow_id)

    def position(self, run_id: str) -> int | None:
        return self._positions.get(run_id)

    async def shutdown(self) -> None:
        await cancel_all([*self.tasks.values(), *self.running.values()])

    # ------------------------------------------------------------ waiting
    async def _follow(self, run_id: str) -> None:
        seq = self.start_seq(await self.runlog.load(run_id))
        if seq is None:
            return
        workflow_id = f"render-{run_id}-{seq}"
        self._workflow_of[run_id] = workflow_id
        ended = self._ended.setdefault(workflow_id, asyncio.Event())
        try:
            with SetWorkflowID(workflow_id):
                await self.runtime.queue(RENDER_QUEUE).enqueue_async(render_workflow, run_id, seq)
            while not ended.is_set():
                if workflow_id not in self.running:
                    status = await DBOS.get_workflow_status_async(workflow_id)
                    if status is None or status.status in FINISHED:
                        return
                    await self._tell_place(run_id, workflow_id, status.status)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ended.wait(), CHECK_S)
        except asyncio.CancelledError:
            running = self.running.get(workflow_id)
            if running is not None:
                running.cancel()
            raise
        finally:
            self._positions.pop(run_id, None)
            if self._workflow_of.get(run_id) == workflow_id:
                self._workflow_of.pop(run_id, None)
            if ended.is_set() and self._ended.get(workflow_id) is ended:
                self._ended.pop(workflow_id, None)

    async def _tell_place(self, run_id: str, workflow_id: str, status: str) -> None:
        """A render still queued: its place in the line of the whole queue (all processes)."""
        if status != "ENQUEUED":
            return
        waiting = await DBOS.list_workflows_async(queue_name=RENDER_QUEUE, status="ENQUEUED", load_input=False,
                                                  load_output=False)
        ids = [w.workflow_id for w in sorted(waiting, key=lambda w: w.created_at or 0)]
        place = ids.index(workflow_id) + 1 if workflow_id in ids else None
        if place is None or self._positions.get(run_id) == place:
            return
        self._positions[run_id] = place
        run = await self.runlog.load(run_id)
        await self.runlog.notify(run, "module_queued", {"module": (run.working or {}).get("module_name"),
                                                         "position": place})

    # ----------------------------------------------------------- working
    async def work(self, run_id: str, seq: int) -> str:
        task = asyncio.current_task()
        assert task is not None
        workflow_id = f"render-{run_id}-{seq}"
        self.running[workflow_id] = task
        self.runtime.track(task)
        try:
            return await render_step(run_id, seq)
        finally:
            if self.running.get(workflow_id) is task:
                self.running.pop(workflow_id, None)
            self._ended.setdefault(workflow_id, asyncio.Event()).set()

    async def render(self, run_id: str, seq: int) -> str:
        if self.runtime.config.role != "all" or self.runlog.store.shared:
            self.runlog.forget(run_id)  # another process may have moved the run on
        if self.start_seq(await self.runlog.load(run_id)) != seq:
            return "moved on"  # done before this step was recorded, cancelled, or retried since
        try:
            await self._run_module(run_id)
        except Exception as exc:  # the run would stay "working" for ever: a retryable error instead
            log.exception("background work of run %s crashed", run_id)
            async with self.runlog.hold(run_id) as run:
                if self.start_seq(run) != seq:
                    return "moved on"
                working = run.working or {}
                step_id = self.runlog.workflow_of(run).steps[int(working["step_index"])].step_id
                await self.runlog.append(run, [NewEvent("module_error", {
                    "message": FAILED, "retryable": True, "options": [], "detail": type(exc).__name__,
                    "step_index": working.get("step_index"), "module_index": working.get("module_index")},
                    step_id, working.get("module_name"))])
                await self.runlog.notify(run, "module_error", {"message": FAILED, "retryable": True, "options": [],
                                                               "module": working.get("module_name")})
            return "failed"
        return "done"
