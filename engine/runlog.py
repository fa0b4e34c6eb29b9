"""The run log: every run's events, folded into state, behind one lock per run.

- `load` rebuilds a run from its snapshot and later events (or the whole log)
  and keeps it in a bounded cache; the log stays the truth.
- `append` writes events (callers hold the run's lock), then folds them in,
  so what is in memory is always what a restart would rebuild.
- `notify` tells subscribers (front ends) what happened to a run.

On a store several processes share (PostgreSQL), another process may have
appended since this one cached a run: `load` and `hold` first fold whatever
the log has beyond the cached state, and `append` folds the log's order
(theirs and ours) rather than only its own events. Who may change a run at
the same moment is kept apart above this room (one person's updates in order;
a worker only touches jobs and background work), so their events interleave
but never contradict.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from engine.definitions import WorkflowDef
from engine.errors import EngineError, RunNotFound
from engine.fold import AnswerText, Fold
from engine.ids import new_id
from engine.locks import KeyedLocks
from engine.protocol import EngineEvent
from engine.state import RunState
from engine.store import JobChange, NewEvent, SpendChange, Store

log = logging.getLogger(__name__)

SNAPSHOT_EVERY = 60  # events
PROGRESS_EVENTS = ("job_progress", "module_progress")
PUBLISH_PROGRESS_EVERY_S = 2.0
CACHE_SIZE = 512  # runs kept folded in memory; the least recently used go first

Listener = Callable[[EngineEvent], Awaitable[None]]


class RunLog:
    def __init__(self, store: Store, workflows: dict[str, WorkflowDef], answer_text: AnswerText,
                 cache_size: int = CACHE_SIZE) -> None:
        self.store = store
        self.workflows = workflows
        self.folds = {wid: Fold(w, answer_text) for wid, w in workflows.items()}
        self.cache_size = cache_size
        self._cache: OrderedDict[str, RunState] = OrderedDict()
        self._locks = KeyedLocks()
        self._listeners: list[Listener] = []
        self.publish = False  # a process with no front end (a worker): its events go to the others
        self._published: dict[str, float] = {}

    # ------------------------------------------------------------- locks
    def lock(self, run_id: str) -> asyncio.Lock:
        """The run's lock (kept only while someone holds or waits for it)."""
        return self._locks(run_id)

    @contextlib.asynccontextmanager
    async def hold(self, run_id: str) -> AsyncIterator[RunState]:
        """The run, loaded under its lock: the one way to change a run.

        Nobody keeps a RunState across a release: a run that leaves the cache
        and is loaded again is a new object, so every writer loads it here.
        On a shared store the hold spans processes too: a process that starts
        while another is mid-module on a run (an LLM call after an answer) waits
        for it instead of running the module, and paying for it, a second time."""
        async with self.lock(run_id), self.store.lock("run", run_id):
            yield await self.load(run_id)

    async def _catch_up(self, run: RunState) -> RunState:
        """Fold what other processes appended since this copy was made (shared stores only)."""
        if not self.store.shared:
            return run
        newer = await self.store.events(run.run_id, after_seq=run.last_seq)
        if not newer:
            return run
        fold = self.folds[run.workflow_id]
        if any(e.type == "jump_requested" for e in newer):
            self._replace(run, fold.replay(await self.store.events(run.run_id)))
        else:
            for event in newer:
                fold.apply(run, event)
        return run

    @staticmethod
    def _replace(run: RunState, fresh: RunState) -> None:
        for name in RunState.model_fields:
            setattr(run, name, getattr(fresh, name))

    # ------------------------------------------------------------ reading
    def workflow_of(self, run: RunState) -> WorkflowDef:
        return self.workflows[run.workflow_id]

    async def load(self, run_id: str) -> RunState:
        run = self._cache.get(run_id)
        if run is not None:
            self._cache.move_to_end(run_id)
            return await self._catch_up(run)
        row = await self.store.get_run(run_id)
        if row is None:
            raise RunNotFound("That run does not exist.")
        fold = self.folds.get(row.workflow_id)
        if fold is None:
            raise EngineError(f"The workflow '{row.workflow_id}' is not installed.")
        run = await self._rebuild(run_id, fold)
        self._remember(run)
        return run

    async def _rebuild(self, run_id: str, fold: Fold) -> RunState:
        snap = await self.store.snapshot(run_id)
        if snap is not None:
            seq, data = snap
            later = await self.store.events(run_id, after_seq=seq)
            forks_before_snapshot = any(
                e.type == "jump_requested" and int(e.data["fork_before_seq"]) <= seq for e in later
            )
            if not forks_before_snapshot:
                run = RunState.model_validate(data)
                for event in later:
                    fold.apply(run, event)
                return run
        return fold.replay(await self.store.events(run_id))

    def _remember(self, run: RunState) -> None:
        self._cache[run.run_id] = run
        self._cache.move_to_end(run.run_id)
        excess = len(self._cache) - self.cache_size
        for run_id in list(self._cache):
            if excess <= 0:
                break
            lock = self._locks.get(run_id)
            if lock is None or not lock.locked():  # a held run stays: its holder is writing to it
                del self._cache[run_id]
                excess -= 1

    def forget(self, run_id: str) -> None:
        self._cache.pop(run_id, None)

    # ------------------------------------------------------------ writing
    async def create(self, run_id: str, owner: str, workflow: WorkflowDef) -> RunState:
        await self.store.create_run(run_id, owner, workflow.workflow_id)
        run = RunState(run_id=run_id, owner=owner, workflow_id=workflow.workflow_id)
        self._remember(run)
        return run

    async def append(
        self,
        run: RunState,
        events: list[NewEvent],
        *,
        run_status: str | None = None,
        jobs: list[JobChange] | None = None,
        spend: list[SpendChange] | None = None,
        snapshot: bool = False,
    ) -> None:
        """Write events, then fold them in. Callers hold the run (`hold`)."""
        fold = self.folds[run.workflow_id]
        before = run.last_seq
        written = await self.store.append(run.run_id, events, run_status=run_status, jobs=jobs, spend=spend)
        if self.store.shared:  # the log's order: another process's events may sit between ours
            written = await self.store.events(run.run_id, after_seq=before)
        if any(e.type == "jump_requested" for e in written):
            self._replace(run, fold.replay(await self.store.events(run.run_id)))
        else:
            for event in written:
                fold.apply(run, event)
        # a cache for fast loading (the log stays the truth): at the end, and
        # at step boundaries once enough events have piled up since the last one
        if snapshot and (run.status != "active" or run.last_seq - run.snapshot_seq >= SNAPSHOT_EVERY):
            run.snapshot_seq = run.last_seq
            await self.store.write_snapshot(run.run_id, run.last_seq, run.model_dump(mode="json"))

    # ------------------------------------------------------------- events
    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def _publish(self, event: EngineEvent) -> None:
        """To the other processes (the bot processes of a scaled deployment); progress
        is cosmetic, so at most one an interval per job."""
        if event.type in PROGRESS_EVENTS:
            key = f"{event.run_id}:{event.type}:{event.data.get('job_id') or event.data.get('module')}"
            now = time.monotonic()
            if now - self._published.get(key, 0.0) < PUBLISH_PROGRESS_EVERY_S:
                return
            self._published[key] = now
            if len(self._published) > 10_000:
                self._published.clear()
        try:
            await self.store.publish({"id": new_id("evt"), "event": event.model_dump(mode="json")})
        except Exception:  # a front end that misses progress must not stop a job
            log.exception("could not pass on %s", event.type)

    async def notify(self, run: RunState, type_: str, data: dict[str, Any] | None = None) -> None:
        if not self._listeners and not self.publish:
            return
        event = EngineEvent(run_id=run.run_id, owner=run.owner, origin=run.origin, type=type_, data=data or {})
        if self.publish:
            await self._publish(event)
        await self.deliver(event)

    async def relay(self, message: dict[str, Any]) -> None:
        """What another process published (`_publish`), to this process's listeners."""
        await self.deliver(EngineEvent.model_validate(message["event"]))

    async def deliver(self, event: EngineEvent) -> None:
        """Tell the subscribers an event (one of ours, or one another process published)."""
        for listener in list(self._listeners):
            try:
                await listener(event)
            except Exception:  # a front end's bug must not stop the engine
                log.exception("engine listener failed on %s", event.type)
