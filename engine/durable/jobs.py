"""Generation jobs as DBOS workflows: the same job, the same events, run by DBOS.

One job is one workflow whose id is the job id (so starting it twice runs it
once), on the jobs queue (per-process and global limits). Its steps each write
our event log through `RunLog.hold`, as engine/jobs.py does; the log stays the
truth, and DBOS decides who runs what and runs it again after a crash:

    submit    job_submitting (before the provider is called), then job_submitted
    poll      job_progress, until the provider is done (preemptible: a cancel stops it)
    download  the files
    finish    job_completed | job_failed

Steps are at-least-once: a process that dies inside one runs it again. Each
step first reads the log, so a step whose write was committed is not repeated;
and a submit step that finds `job_submitting` without `job_submitted` may have
been paid for already: it never calls the provider again, but asks it for the
job (engine/jobs.py `_recover`: adopted and polled when exactly one matches),
else ends the job as failed with INTERRUPTED, for the person to decide. Steps
never raise (their failures are values), so DBOS records no Python exception of ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator
from typing import Any

from dbos import DBOS, SetWorkflowID

from engine.durable.runtime import JOBS_QUEUE, Runtime
from engine.jobs import INTERRUPTED, IN_FLIGHT, JobRunner, cancel_at_provider
from engine.providers.base import JobStatus, MediaProvider, ProviderError
from engine.runlog import RunLog
from engine.services import Services
from engine.state import JobRecord, RunState
from engine.store import JobChange, NewEvent, SpendChange
from engine.tasks import cancel_all, wait_done

log = logging.getLogger(__name__)

LIVE = ("created", *IN_FLIGHT)
FINISHED = ("SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")
CHECK_S = 2.0  # how often a waiter asks DBOS about a job run by another process
CRASHED = "Something went wrong while making this. Please try again."

_active: DurableJobRunner | None = None  # DBOS is per process, so is the runner its workflows call


def _runner() -> DurableJobRunner:
    if _active is None:
        raise RuntimeError("no durable job runner in this process")
    return _active


@DBOS.workflow(name="ccbot.job")
async def job_workflow(run_id: str, job_id: str) -> str:
    return await _runner().work(run_id, job_id)


@DBOS.step(name="ccbot.job.submit")
async def submit_step(run_id: str, job_id: str) -> dict[str, Any]:
    return await _runner().guarded(run_id, job_id, _runner().submit)


@DBOS.step(name="ccbot.job.poll", preemptible=True)
async def poll_step(run_id: str, job_id: str) -> dict[str, Any]:
    return await _runner().guarded(run_id, job_id, _runner().poll)


@DBOS.step(name="ccbot.job.download")
async def download_step(run_id: str, job_id: str, status: dict[str, Any]) -> dict[str, Any]:
    return await _runner().guarded(run_id, job_id, _runner().download, status)


@DBOS.step(name="ccbot.job.finish")
async def finish_step(run_id: str, job_id: str, kind: str, data: dict[str, Any]) -> None:
    await _runner().finish(run_id, job_id, kind, data)


def _failed(error: str, retryable: bool = True, **extra: Any) -> dict[str, Any]:
    return {"final": "job_failed", "data": {"error": error, "retryable": retryable, **extra}}


class DurableJobRunner(JobRunner):
    """The engine's job runner (spawn, resume, cancel, wait_idle, shutdown) on DBOS.

    `tasks` holds, per job started or resumed here, a task that enqueues its
    workflow and waits for its end (where it runs: here, or in a worker)."""

    def __init__(self, runlog: RunLog, services: Services, runtime: Runtime) -> None:
        super().__init__(runlog, services)
        global _active
        _active = self
        self.runtime = runtime
        self.running: dict[str, asyncio.Task[Any]] = {}  # job id -> its workflow task in this process
        self.running_run: dict[str, str] = {}  # ... and its run id
        self._ended: dict[str, asyncio.Event] = {}

    # ------------------------------------------------------- engine calls
    def spawn(self, run_id: str, job_id: str, *, submitted: bool = False) -> None:
        """Start the job's workflow (once: the job id is the workflow id). `submitted`
        (a resume): a job still only created whose workflow does not exist was
        interrupted before its workflow was made, and fails as INTERRUPTED."""
        if job_id in self.tasks and not self.tasks[job_id].done():
            return
        # a context of its own: called from inside a workflow (a render that drives the run on),
        # DBOS would take the waiter's calls for that workflow's steps
        task = asyncio.create_task(self._follow(run_id, job_id, submitted), name=f"job {job_id}",
                                   context=contextvars.Context())
        self.tasks[job_id] = task
        self.run_of[job_id] = run_id
        task.add_done_callback(lambda t, j=job_id: self._forget(j, t))

    def _forget(self, job_id: str, task: asyncio.Task[None]) -> None:
        if self.tasks.get(job_id) is task:
            self.tasks.pop(job_id, None)
            self.run_of.pop(job_id, None)

    def resume(self, run: RunState) -> list[NewEvent]:
        """After a restart (run held): every live job's workflow is started again if
        it is not there; DBOS runs what it already had. Nothing to write here."""
        for job in run.jobs.values():
            if job.status in LIVE:
                self.spawn(run.run_id, job.job_id, submitted=True)
        return []

    async def cancel(self, run: RunState) -> list[NewEvent]:
        """Stop the run's jobs (run held): DBOS cancels each workflow wherever it runs."""
        events = []
        for job in run.jobs.values():
            if job.status not in LIVE:
                continue
            with contextlib.suppress(Exception):
                await DBOS.cancel_workflow_async(job.job_id)
            for task in (self.tasks.pop(job.job_id, None), self.running.get(job.job_id)):
                if task is not None:
                    task.cancel()
            self.run_of.pop(job.job_id, None)
            await cancel_at_provider(self.services, run, job)
            events.append(NewEvent("job_cancelled", {"job_id": job.job_id, "interaction_id": job.interaction_id}))
        return events

    async def wait_idle(self, run_id: str | None = None, timeout: float = 60) -> None:
        await wait_done(lambda: [t for j, t in [*self.tasks.items(), *self.running.items()]
                                 if run_id in (None, self.run_of.get(j), self.running_run.get(j))], timeout, "jobs")

    async def shutdown(self) -> None:
        """Stop waiting and stop this process's workflows where they are: they stay
        PENDING in DBOS, so the next start (or a survivor) runs them on."""
        await cancel_all([*self.tasks.values(), *self.running.values()])

    # ----------------------------------------------------------- waiting
    async def _follow(self, run_id: str, job_id: str, resumed: bool) -> None:
        ended = self._ended.setdefault(job_id, asyncio.Event())
        try:
            if resumed and await DBOS.get_workflow_status_async(job_id) is None:
                job = (await self.runlog.load(run_id)).jobs.get(job_id)
                if job is not None and job.status == "created":  # never got a workflow: may have been sent
                    await self.finish(run_id, job_id, "job_failed", {"error": INTERRUPTED, "retryable": True})
                    return
            with SetWorkflowID(job_id):
                await self.runtime.queue(JOBS_QUEUE).enqueue_async(job_workflow, run_id, job_id)
            while not ended.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ended.wait(), CHECK_S)
                if not ended.is_set() and job_id not in self.running:
                    status = await DBOS.get_workflow_status_async(job_id)
                    if status is None or status.status in FINISHED:
                        return
        except asyncio.CancelledError:
            running = self.running.get(job_id)
            if running is not None:  # the waiter killed with its process: the work dies with it
                running.cancel()
            raise
        finally:
            if self._ended.get(job_id) is ended and ended.is_set():
                self._ended.pop(job_id, None)

    # ---------------------------------------------------------- workflow
    async def work(self, run_id: str, job_id: str) -> str:
        task = asyncio.current_task()
        assert task is not None
        self.running[job_id], self.running_run[job_id] = task, run_id
        self.runtime.track(task)
        try:
            outcome = await submit_step(run_id, job_id)
            if "submitted" in outcome:
                outcome = await poll_step(run_id, job_id)
            if "status" in outcome:
                outcome = await download_step(run_id, job_id, outcome["status"])
            if "final" in outcome:
                await finish_step(run_id, job_id, outcome["final"], outcome["data"])
            return str(outcome.get("final", "ended"))
        finally:
            if self.running.get(job_id) is task:
                self.running.pop(job_id, None)
                self.running_run.pop(job_id, None)
            self._ended.setdefault(job_id, asyncio.Event()).set()

    async def guarded(self, run_id: str, job_id: str, step: Any, *args: Any) -> dict[str, Any]:
        """A step's failures as values; a job no longer live in the log ends quietly."""
        job = (await self._fresh(run_id)).jobs.get(job_id)
        if job is None or job.status not in LIVE:
            return {"end": True}
        try:
            provider = self.services.providers_for(await self.runlog.load(run_id)).media(job.provider, job.action_type)
            if provider is None:
                raise ProviderError("This provider is no longer configured.", kind="unavailable")
            return dict(await step(run_id, job, provider, *args))
        except ProviderError as exc:
            log.warning("job %s failed: %s", job_id, exc)
            return _failed(exc.user_message, exc.retryable)
        except Exception as exc:  # never let a job die silently
            log.exception("job %s crashed", job_id)
            return _failed(CRASHED, detail=type(exc).__name__)

    async def submit(self, run_id: str, job: JobRecord, provider: MediaProvider) -> dict[str, Any]:
        if job.status in IN_FLIGHT:
            return {"submitted": True}  # this step ran before, up to its record: never again
        async with self._hold(run_id) as run:
            job = run.jobs[job.job_id]
            if job.status != "created":  # submitted, or ended (cancelled), while this step waited for the run
                return {"submitted": True} if job.status in IN_FLIGHT else {"end": True}
            sent_before = job.submitting
            if not sent_before:
                await self.runlog.append(run, [NewEvent("job_submitting", {"job_id": job.job_id})])
        if sent_before:  # the provider may have it (and have billed it): look it up, else the person decides
            return {"submitted": True} if await self._recover(run_id, job, provider) else _failed(INTERRUPTED)
        out_dir = self.services.run_dir(run.owner, run_id) / job.job_id
        await self._submitted(run_id, job, provider, await self._send(run_id, job, provider, out_dir))
        return {"submitted": True}

    async def poll(self, run_id: str, job: JobRecord, provider: MediaProvider) -> dict[str, Any]:
        status = await self._poll_until_done(run_id, job, provider)
        if status.state == "failed":
            return _failed(status.error or "The provider could not make this one.")
        return {"status": status.model_dump(mode="json")}

    async def download(self, run_id: str, job: JobRecord, provider: MediaProvider,
                       status: dict[str, Any]) -> dict[str, Any]:
        run = await self.runlog.load(run_id)
        out_dir = self.services.run_dir(run.owner, run_id) / job.job_id
        files = await self._fetch(job, provider, JobStatus.model_validate(status), out_dir)
        return {"final": "job_completed", "data": {"contents": [self._content(job, f) for f in files]}}

    async def finish(self, run_id: str, job_id: str, kind: str, data: dict[str, Any]) -> None:
        job = (await self._fresh(run_id)).jobs.get(job_id)
        if job is None or job.status not in LIVE:
            return  # written before this step was recorded, or cancelled meanwhile
        await self._finish(run_id, job, kind, data)

    # ------------------------------------------------------------ writing
    @contextlib.asynccontextmanager
    async def _hold(self, run_id: str) -> AsyncIterator[RunState]:
        if self.services.store.shared:  # another process may have written since this one cached the run
            self.runlog.forget(run_id)
        async with self.runlog.hold(run_id) as run:
            yield run

    async def _fresh(self, run_id: str) -> RunState:
        if self.services.store.shared and not self.runlog.lock(run_id).locked():
            self.runlog.forget(run_id)
        return await self.runlog.load(run_id)

    async def _record(self, run_id: str, events: list[NewEvent], change: JobChange,
                      spend: list[SpendChange] | None = None) -> JobRecord | None:
        """As the task runner writes, but never onto a job the log has ended (a cancel
        while a step was under way): its charge is still recorded, alone."""
        async with self._hold(run_id) as run:
            for item in spend or []:
                item.owner = run.owner
            job = run.jobs.get(change.job_id)
            if events and (job is None or job.status not in LIVE):
                events = []
            if events:
                await self.runlog.append(run, events, jobs=[change], spend=spend)
            elif spend:
                await self.services.store.record_spend(spend)
            return run.jobs.get(change.job_id)
