"""Durable generation jobs: submit once, record the id, poll, download.

Order of events for one job, each written before the next step happens:
    job_created   (the request; nothing paid yet; written by the engine)
    job_submitted (the provider's job id: written before any polling)
    job_progress  (throttled: only when the progress moves a quarter)
    job_completed (the downloaded files) | job_failed | job_cancelled

After a restart, a job with `job_submitted` is polled again by its id, never
submitted again. A job with only `job_created` may or may not have reached
the provider; it is never resubmitted, so a crash can never pay twice for one
click. A provider that can look its jobs up (`find_submitted`) is asked first:
exactly one unclaimed match is adopted (`job_submitted` with recovered=True)
and polled, charged once; no match, several, or a failed lookup mark the job
failed (INTERRUPTED), for the person to decide.

One lock rule: a job task writes only through `RunLog.hold`, one write at a
time; what the engine asks of the runner while it holds a run (`resume`,
`cancel`) comes back as events for the engine to append.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from engine.ids import new_id
from engine.providers.base import (FetchedFile, GenerationRequest, JobStatus, MediaProvider, ProviderError,
                                   SubmitResult)
from engine.runlog import RunLog
from engine.services import Services
from engine.spending import KIND_OF_ACTION
from engine.state import JobRecord, RunState
from engine.store import JobChange, NewEvent, SpendChange
from engine.tasks import cancel_all, wait_done

log = logging.getLogger(__name__)

IN_FLIGHT = ("submitted", "running")
FETCH_ATTEMPTS = 3
POLL_ERRORS_TOLERATED = 5
RETRY_MARK = "~"  # request_key of a new try on the same button: "<key>~2", "<key>~3"...
INTERRUPTED = (
    "The generation was interrupted before the provider confirmed it. "
    "It was not sent again automatically, so you are not charged twice: tap Generate to try again."
)
_FINAL_STATUS = {"job_completed": "completed", "job_failed": "failed"}
# a submit the provider refused outright does no work and bills nothing; anything else
# (a timeout, a dropped connection) may have been accepted, so its reservation stays
NOT_BILLED = ("authentication", "insufficient_credits", "rate_limit", "refused", "invalid_request")


def adoption_keys(provider: str, provider_job_id: str, job_id: str) -> tuple[str, str]:
    """The claims that a provider's job is one of ours, and whose: taken together just before its
    id is recorded, so a recovery (of this run or another, in any process) never takes another
    job's for its own, and still finds its own when the process died between claim and record."""
    taken = f"provider-job:{provider}:{provider_job_id}"
    return taken, f"{taken}:{job_id}"


def same_request(run: RunState, interaction_id: str, request_key: str | None) -> tuple[JobRecord | None, str | None]:
    """Idempotency for one button: (the live job it already started, or None;
    the request key a deliberate new try should carry)."""
    if not request_key:
        return None, None
    same = [j for j in run.jobs.values() if j.interaction_id == interaction_id
            and (j.request_key or "").split(RETRY_MARK)[0] == request_key]
    if same and same[-1].status not in ("failed", "cancelled"):
        return same[-1], request_key  # a double tap: the same job, not a second payment
    if same:  # the same button again after its job failed: a deliberate new try, a new job
        return None, f"{request_key}{RETRY_MARK}{len(same) + 1}"
    return None, request_key


def job_created_event(job: JobRecord, step_id: str, module_name: str) -> NewEvent:
    return NewEvent("job_created", {
        "job_id": job.job_id, "interaction_id": job.interaction_id, "prompt_key": job.prompt_key,
        "provider": job.provider, "action_type": job.action_type, "request": job.request, "params": job.params,
        "request_key": job.request_key, "cost_label": job.cost_label, "estimate_usd": job.estimate_usd,
    }, step_id, module_name)


async def cancel_at_provider(services: Services, run: RunState, job: JobRecord) -> None:
    """Ask the provider to stop a job it took (best effort: some have no cancel)."""
    provider = services.providers_for(run).media(job.provider, job.action_type)
    if provider and job.provider_job_id:
        try:
            await provider.cancel(job.provider_job_id, job.provider_data)
        except Exception:
            log.info("provider could not cancel job %s", job.job_id)


class JobRunner:
    def __init__(self, runlog: RunLog, services: Services) -> None:
        self.runlog = runlog
        self.services = services
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.run_of: dict[str, str] = {}  # job id -> run id

    # ------------------------------------------------------- engine calls
    def spawn(self, run_id: str, job_id: str, *, submitted: bool = False) -> None:
        self._start(run_id, job_id, "poll" if submitted else "submit")

    def _start(self, run_id: str, job_id: str, mode: str) -> None:
        """mode: submit (a new job), poll (submitted before), recover (may have been sent: look it up)."""
        if job_id in self.tasks and not self.tasks[job_id].done():
            return
        task = asyncio.create_task(self._run(run_id, job_id, mode), name=f"job {job_id}")
        self.tasks[job_id] = task
        self.run_of[job_id] = run_id
        task.add_done_callback(lambda _t, j=job_id: (self.tasks.pop(j, None), self.run_of.pop(j, None)))

    def resume(self, run: RunState) -> list[NewEvent]:
        """After a restart (run held): poll again what was submitted; what was
        not confirmed is looked up at its provider, or comes back as a failure, never
        as a second submission."""
        events = []
        for job in run.jobs.values():
            if job.status in IN_FLIGHT:
                self.spawn(run.run_id, job.job_id, submitted=True)
            elif job.status == "created" and job.job_id not in self.tasks:
                provider = self.services.providers_for(run).media(job.provider, job.action_type)
                if provider is not None and provider.can_find_submitted:
                    self._start(run.run_id, job.job_id, "recover")
                else:
                    events.append(NewEvent("job_failed", {"job_id": job.job_id, "error": INTERRUPTED,
                                                          "retryable": True}))
        return events

    async def cancel(self, run: RunState) -> list[NewEvent]:
        """Stop the run's jobs (run held); the cancellations come back as events."""
        events = []
        for job in run.jobs.values():
            if job.status not in ("created", *IN_FLIGHT):
                continue
            task = self.tasks.pop(job.job_id, None)
            if task:
                task.cancel()
            await cancel_at_provider(self.services, run, job)
            events.append(NewEvent("job_cancelled", {"job_id": job.job_id, "interaction_id": job.interaction_id}))
        return events

    async def wait_idle(self, run_id: str | None = None, timeout: float = 60) -> None:
        """Wait until the run's jobs (or all jobs) have finished. For tests and the demo."""
        await wait_done(lambda: [t for j, t in self.tasks.items() if run_id in (None, self.run_of.get(j))],
                        timeout, "jobs")

    async def shutdown(self) -> None:
        await cancel_all(self.tasks.values())

    # ------------------------------------------------------------ running
    async def _run(self, run_id: str, job_id: str, mode: str) -> None:
        run = await self.runlog.load(run_id)
        job = run.jobs.get(job_id)
        if job is None:
            return
        provider = self.services.providers_for(run).media(job.provider, job.action_type)
        out_dir = self.services.run_dir(run.owner, run_id) / job_id
        try:
            if provider is None:
                raise ProviderError("This provider is no longer configured.", kind="unavailable")
            if mode == "recover":
                adopted = await self._recover(run_id, job, provider)
                if adopted is None:
                    await self._finish(run_id, job, "job_failed", {"error": INTERRUPTED, "retryable": True})
                    return
                job = adopted
            elif mode == "submit":
                job = await self._submitted(run_id, job, provider, await self._send(run_id, job, provider, out_dir))
            status = await self._poll_until_done(run_id, job, provider)
            if status.state == "failed":
                await self._finish(run_id, job, "job_failed",
                                   {"error": status.error or "The provider could not make this one.", "retryable": True})
                return
            files = await self._fetch(job, provider, status, out_dir)
            await self._finish(run_id, job, "job_completed", {"contents": [self._content(job, f) for f in files]})
        except asyncio.CancelledError:
            raise
        except ProviderError as exc:
            log.warning("job %s failed: %s", job_id, exc)
            await self._finish(run_id, job, "job_failed", {"error": exc.user_message, "retryable": exc.retryable})
        except Exception as exc:  # never let a job die silently
            log.exception("job %s crashed", job_id)
            await self._finish(run_id, job, "job_failed",
                               {"error": "Something went wrong while making this. Please try again.",
                                "retryable": True, "detail": type(exc).__name__})

    @staticmethod
    def _request(job: JobRecord) -> GenerationRequest:
        """What the provider is asked, with our job id as its reference (the same at submit and lookup)."""
        return GenerationRequest.model_validate({**job.request, "reference": job.job_id})

    async def _send(self, run_id: str, job: JobRecord, provider: MediaProvider, out_dir: Path) -> SubmitResult:
        """The paid call; a refusal before any work releases its reservation."""
        await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
        try:
            return await provider.submit(self._request(job), out_dir)
        except ProviderError as exc:
            if exc.kind in NOT_BILLED and job.estimate_usd > 0:  # refused before any work: its reservation goes
                await self._record(run_id, [], JobChange(job.job_id, job.interaction_id, "created"),
                                   spend=[self._spend(run_id, job, "released")])
            raise

    async def _submitted(self, run_id: str, job: JobRecord, provider: MediaProvider, result: SubmitResult,
                         *, recovered: bool = False) -> JobRecord:
        """Record the provider's job id, its charge in the same write (the reservation becomes it)."""
        if provider.can_find_submitted and not recovered:  # a recovery has claimed it already
            await self.services.store.claim(list(adoption_keys(job.provider, result.job_id, job.job_id)), run_id)
        spending = self.services.spending
        paid = spending.usd(result.cost) if not result.cost.is_free else job.estimate_usd
        charge = [self._spend(run_id, job, "charged", actual_usd=paid, credits=result.cost.credits)] if paid else []
        return await self._record(run_id, [NewEvent("job_submitted", {
            "job_id": job.job_id, "provider_job_id": result.job_id, "provider_data": result.provider_data,
            "cost_usd": result.cost.usd, "cost_credits": result.cost.credits,
            "cost_label": spending.label(result.cost) if not result.cost.is_free else job.cost_label,
            **({"recovered": True} if recovered else {}),
        })], JobChange(job.job_id, job.interaction_id, "submitted"), spend=charge) or job

    async def _recover(self, run_id: str, job: JobRecord, provider: MediaProvider) -> JobRecord | None:
        """A job that may have reached the provider with no id recorded: adopt the provider's
        job if exactly one unclaimed one matches (None: not found, ambiguous, or no lookup)."""
        if not provider.can_find_submitted:
            return None
        try:
            found = await provider.find_submitted(self._request(job), job.sent_at)
        except Exception as exc:  # best effort: without an answer the person decides, as before
            log.warning("job %s: looking it up at %s failed: %s", job.job_id, job.provider, exc)
            return None
        known = {j.provider_job_id for j in (await self._fresh(run_id)).jobs.values()}
        store = self.services.store
        free, mine = [], []
        for result in found or []:
            taken, ours = adoption_keys(job.provider, result.job_id, job.job_id)
            if await store.claimed(ours):  # claimed for this job just before the process died
                mine.append(result)
            elif result.job_id not in known and not await store.claimed(taken):
                free.append(result)
        if not mine and len(free) != 1:  # none: never sent (or lost); several: no way to tell which is ours
            log.info("job %s: %d unclaimed matches at %s: not adopted", job.job_id, len(free), job.provider)
            return None
        adopted = (mine or free)[0]
        if not mine and not all(await store.claim(list(adoption_keys(job.provider, adopted.job_id, job.job_id)),
                                                  run_id)):
            return None  # another recovery took it a moment ago
        log.info("job %s: adopted %s job %s after a restart", job.job_id, job.provider, adopted.job_id)
        return await self._submitted(run_id, job, provider, adopted, recovered=True)

    async def _fresh(self, run_id: str) -> RunState:
        return await self.runlog.load(run_id)

    def _spend(self, run_id: str, job: JobRecord, status: str, **amounts: Any) -> SpendChange:
        return SpendChange(key=job.job_id, owner="", run_id=run_id, provider=job.provider,
                           kind=KIND_OF_ACTION.get(job.action_type, "media"), status=status, **amounts)

    async def _poll_until_done(self, run_id: str, job: JobRecord, provider: MediaProvider) -> JobStatus:
        started = time.monotonic()
        scale = self.services.poll_scale
        reported_bucket = -1
        errors = 0
        while True:
            try:
                status = await provider.poll(job.provider_job_id or "", job.provider_data)
                errors = 0
            except ProviderError as exc:
                errors += 1
                if not exc.retryable or errors > POLL_ERRORS_TOLERATED:
                    raise
                status = JobStatus(state="running", message="waiting for the provider")
            if status.state in ("completed", "failed"):
                return status
            bucket = int((status.progress or 0) // 25)
            if bucket != reported_bucket:  # persist a quarter step, notify every poll
                reported_bucket = bucket
                await self._record(run_id, [NewEvent("job_progress", {
                    "job_id": job.job_id, "progress": status.progress, "message": status.message})],
                    JobChange(job.job_id, job.interaction_id, "running"))
            await self._notify(run_id, "job_progress", {
                "job_id": job.job_id, "progress": status.progress, "message": status.message,
                "prompt_key": job.prompt_key, "provider": job.provider})
            if time.monotonic() - started > provider.timeout_s:
                raise ProviderError("The provider took too long; please try again.", kind="timeout", retryable=True)
            delay = status.poll_after_s if status.poll_after_s is not None else provider.poll_interval_s
            await asyncio.sleep(max(0.01, delay * scale))

    async def _fetch(self, job: JobRecord, provider: MediaProvider, status: JobStatus, out_dir: Path) -> list[FetchedFile]:
        await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
        for attempt in range(1, FETCH_ATTEMPTS + 1):
            try:
                files = await provider.fetch(job.provider_job_id or "", status, out_dir)
                if not files:
                    raise ProviderError("The provider returned no file.", kind="generation_failed")
                return files
            except ProviderError as exc:
                if not exc.retryable or attempt == FETCH_ATTEMPTS:
                    raise
                log.info("download for job %s failed (attempt %d): %s", job.job_id, attempt, exc)
                await asyncio.sleep(0.5 * attempt * self.services.poll_scale)
        raise AssertionError("unreachable")

    @staticmethod
    def _content(job: JobRecord, file: FetchedFile) -> dict[str, Any]:
        return {
            "content_id": new_id("gc"), "media_type": file.media_type, "local_path": str(Path(file.local_path).resolve()),
            "url": file.url, "metadata_id": job.job_id, "prompt_key": job.prompt_key, "provider": job.provider,
            "provider_item_id": file.provider_item_id, "width": file.width, "height": file.height,
            "duration_s": file.duration_s,
        }

    async def _record(self, run_id: str, events: list[NewEvent], change: JobChange,
                      spend: list[SpendChange] | None = None) -> JobRecord | None:
        """Write under the run's lock (the accounting in the same transaction); the job as the log now has it."""
        async with self.runlog.hold(run_id) as run:
            for item in spend or []:
                item.owner = run.owner
            if events:
                await self.runlog.append(run, events, jobs=[change], spend=spend)
            elif spend:
                await self.services.store.record_spend(spend)
            return run.jobs.get(change.job_id)

    async def _finish(self, run_id: str, job: JobRecord, kind: str, data: dict[str, Any]) -> None:
        await self._record(run_id, [NewEvent(kind, {"job_id": job.job_id, **data})],
                           JobChange(job.job_id, job.interaction_id, _FINAL_STATUS[kind]))
        await self._notify(run_id, kind, {"job_id": job.job_id, "prompt_key": job.prompt_key, "provider": job.provider,
                                          **{k: v for k, v in data.items() if k != "detail"}})

    async def _notify(self, run_id: str, kind: str, data: dict[str, Any]) -> None:
        await self.runlog.notify(await self.runlog.load(run_id), kind, data)
