"""The Engine: the one object every front end talks to.

It checks who may do what, holds the run (`RunLog.hold`) for every change,
and hands back a `RunView`. The work is done by the rooms it wires up: the
run log (events, state, locks), the run loop (modules), the job runner
(paid generations) and the views.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.catalogue import load_catalogue
from engine.definitions import ModuleDef, WorkflowDef, template_texts
from engine.errors import EngineError, InvalidResponse, NotOwner, RunNotActive, StaleInteraction
from engine.ids import new_id
from engine.jobs import job_created_event, same_request
from engine.modules import default_modules
from engine.modules.base import Module
from engine.lookahead import last_costs, priced, set_off_by
from engine.personal_data import Deleted, expire_media, forget_owner
from engine.protocol import InteractionRequest, InteractionResponse, JobView, RunView, SubActionRequest, Understanding
from engine.providers.base import LLMResult, ProviderError
from engine.providers.registry import ProviderRegistry
from engine.runlog import Listener, RunLog
from engine.runner import RunLoop
from engine.runners import durable_for, runners_for
from engine.services import FetchPolicy, Services
from engine.settings import Settings
from engine.state import RunState
from engine.spending import KIND_OF_ACTION, OverBudget, Spending
from engine.store import JobChange, NewEvent, SpendChange, Store, open_store
from engine.templating import TemplateEngine
from engine.understanding import interpret
from engine.views import run_view, status_fields

if TYPE_CHECKING:
    from engine.durable import Durable

log = logging.getLogger(__name__)

UNDERSTAND_CEILING_USD = 0.002  # what reading one typed message may cost at most (a small model, short prompt)
TRANSCRIBE_USD_PER_MINUTE_CEILING = 0.02  # a voice note's price ceiling before the call


class Engine:
    def __init__(self, services: Services, workflows: dict[str, WorkflowDef],
                 modules: dict[str, Module] | None = None, default_workflow: str | None = None,
                 durable: Durable | None = None) -> None:
        self.services = services
        services.templates.add_function("estimate", services.providers.estimate)
        self.workflows = workflows
        self.modules = modules or default_modules()
        self.runlog = RunLog(services.store, workflows, self._answer_text)
        self.loop = RunLoop(self.runlog, services, self.modules)
        self.durable = durable
        self.jobs, self.background = runners_for(self.runlog, self.loop, services, durable)
        if default_workflow is not None and default_workflow not in workflows:
            raise EngineError(f"the default workflow '{default_workflow}' is not installed")
        self.default_workflow_id = default_workflow or sorted(workflows)[0]

    @classmethod
    async def open(
        cls,
        *,
        db_path: str | Path | None = None,
        store: Store | None = None,
        media_root: str | Path,
        providers: ProviderRegistry,
        workflow_dirs: list[Path] | None = None,
        poll_scale: float = 1.0,
        default_workflow: str | None = None,
        budget_usd: float | None = None,
        usd_per_credit: float = 0.0015,
        fetch_policy: FetchPolicy | None = None,
        jobs: str | None = None,
        role: str | None = None,
        settings: Settings | None = None,
        durable_options: dict[str, Any] | None = None,
    ) -> Engine:
        """An engine on `store` (shared with the front end), or on its own SQLite file at `db_path`.
        `budget_usd`: what one person may spend a month (None: no limit).
        `jobs`: "tasks" or "dbos" (default: CCBOT_JOBS); `role` with DBOS: "all" (serve and run
        jobs), "bot" (only enqueue them) or "worker" (only run them; see `serve_forever`)
        (default: CCBOT_ROLE); `settings`: where the durable settings come from (default: the
        environment); `durable_options`: DurableConfig fields to override (tests)."""
        modules = default_modules()
        workflows = load_catalogue(workflow_dirs, modules)
        if store is None:
            if db_path is None:
                raise EngineError("the engine needs a store or a db_path")
            store = await open_store(db_path)
        services = Services(store=store, providers=providers, templates=TemplateEngine(),
                            media_root=Path(media_root).resolve(), spending=Spending(store, budget_usd, usd_per_credit),
                            poll_scale=poll_scale, fetch=fetch_policy or FetchPolicy())
        await asyncio.to_thread(providers.warm_up)
        services.templates.warm([text for workflow in workflows.values() for text in template_texts(workflow)])
        settings = settings or Settings(_env_file=None)  # type: ignore[call-arg]
        durable = durable_for(store, settings, jobs, role, durable_options)
        engine = cls(services, workflows, modules, default_workflow, durable)
        if durable is not None:
            await durable.start()
        return engine

    async def close(self) -> None:
        """Stop cleanly: jobs and background work are cancelled with nothing written,
        so a restart polls the jobs again and runs the work again."""
        await self.background.shutdown()
        await self.jobs.shutdown()
        if self.durable is not None:
            await self.durable.stop()
        await self.services.store.close()

    async def serve_forever(self) -> None:
        """A worker's life (`Engine.open(role="worker")`): DBOS runs the jobs and renders
        of the queues; the heartbeat and the reaper run; this waits until cancelled."""
        if self.durable is None or not self.durable.config.executes:
            raise EngineError("serve_forever needs CCBOT_JOBS=dbos and a role that runs work (worker or all)")
        await asyncio.Event().wait()

    async def listen_to_workers(self) -> None:
        """In a process that serves people, with workers elsewhere: their jobs' and renders'
        events (published through the shared store) reach this engine's listeners."""
        if self.services.store.shared:
            await self.services.store.listen(self.runlog.relay)

    async def wait_idle(self, run_id: str | None = None, timeout: float = 120) -> None:
        """Until the run's (or every run's) jobs and background work are done. For tests and the demo."""
        while True:
            await self.jobs.wait_idle(run_id, timeout)
            await self.background.wait_idle(run_id, timeout)
            if not any(t for r, t in self.background.tasks.items() if run_id in (None, r)):
                return

    def subscribe(self, listener: Listener) -> None:
        self.runlog.subscribe(listener)

    @property
    def spending(self) -> Spending:
        return self.services.spending

    def _answer_text(self, module: ModuleDef, outputs: dict[str, Any]) -> str | None:
        impl = self.modules.get(module.module_id)
        return impl.answer_text(outputs) if impl is not None else None

    # ------------------------------------------------------------- reading
    async def _owned(self, run_id: str, owner: str | None) -> RunState:
        run = await self.runlog.load(run_id)
        if owner is not None and run.owner != owner:
            raise NotOwner("That run belongs to someone else.")
        return run

    def view(self, run: RunState) -> RunView:
        return run_view(run, self.runlog.workflow_of(run), self.modules, self.services.templates, self.spending)

    async def get_run(self, run_id: str, owner: str | None = None) -> RunView:
        return self.view(await self._owned(run_id, owner))

    async def load(self, run_id: str) -> RunState:
        return await self.runlog.load(run_id)

    async def state(self, run_id: str, owner: str | None = None) -> dict[str, Any]:
        return dict((await self._owned(run_id, owner)).state)

    async def list_runs(self, owner: str, status: str | None = None, limit: int = 20) -> list[RunView]:
        views = []
        for row in await self.services.store.list_runs(owner, status, limit):
            try:
                views.append(self.view(await self.runlog.load(row.run_id)))
            except EngineError:
                continue
        return views

    async def active_run(self, owner: str) -> RunView | None:
        rows = await self.services.store.list_runs(owner, "active", 1)
        return await self.get_run(rows[0].run_id) if rows else None

    async def incoming_path(self, run_id: str, suffix: str = "") -> Path:
        """Where a front end puts a file the person sent for this run before answering
        with it: inside the run's own folder, never anywhere shared."""
        run = await self.runlog.load(run_id)
        folder = self.services.run_dir(run.owner, run.run_id) / "incoming"
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        return folder / f"{new_id('in')}{suffix}"

    async def status_fields(self, run_id: str, with_step: bool = True) -> list[list[tuple[str, str]]]:
        run = await self.runlog.load(run_id)
        return status_fields(run, self.runlog.workflow_of(run), self.services.templates, with_step)

    # ------------------------------------------------------- understanding
    async def understand(self, run_id: str, text: str, owner: str | None = None,
                         chosen: list[int] | None = None) -> Understanding:
        """What `text` means at the run's open question, and what it would cost;
        nothing is applied (a model call it took is recorded, so it is counted).
        `chosen`: a multi-select's ticks so far (0-based), for "done"."""
        run = await self._owned(run_id, owner)
        view = self.view(run)
        if view.status.value != "active" or view.pending is None:
            reason = "This run has already finished." if view.status.value != "active" else \
                "Nothing is being asked right now."
            return Understanding(text=text, kind="unclear", confirm=False, reason=reason)
        providers = self.services.providers_for(run)
        llm, key = providers.understander, new_id("llm")
        if llm is not None:  # a small paid call: reserved first; over budget, the free matcher alone reads it
            try:
                await self.spending.reserve(key, run.owner, run_id, getattr(llm, "name", "llm"), "llm",
                                            UNDERSTAND_CEILING_USD, what="Reading your words")
            except OverBudget:
                llm = None
        found, result = await interpret(view.pending, text, chosen=chosen, llm=llm,
                                        reasoning_effort=providers.understand_effort)
        if llm is not None and result is not None:
            await self._record_call(run_id, view.pending, "understand", result.model, result.cost_usd or 0.0,
                                    getattr(llm, "name", "llm"), result, spend_key=key, kind="llm")
        elif llm is not None:  # the matcher was sure (or the call failed): nothing to pay
            await self.services.store.record_spend([SpendChange(key=key, owner=run.owner, run_id=run_id,
                                                                provider=getattr(llm, "name", "llm"), kind="llm",
                                                                status="released")])
        calls = set_off_by(found, run, self.runlog.workflow_of(run), self.modules, self.loop.foreseen(run))
        live = bool(calls) and providers.llm().live
        recorded = last_costs(await self.services.store.events(run_id), {m.name for m in calls}) if live else {}
        return priced(found, calls, live, recorded)

    @property
    def can_transcribe(self) -> bool:
        return self.services.providers.transcriber is not None

    async def transcribe(self, audio: Path, owner: str, run_id: str | None = None,
                         duration_s: float | None = None) -> str:
        """The words of a voice note (its cost recorded in the run, if one is open)."""
        transcriber = self.services.providers.transcriber
        if transcriber is None or (await self.spending.limit(owner)) == 0:
            raise EngineError("Voice notes need an OpenAI key (OPENAI_API_KEY).")
        key = new_id("llm")
        estimate = TRANSCRIBE_USD_PER_MINUTE_CEILING * max(1.0, (duration_s or 120) / 60)
        await self.spending.reserve(key, owner, run_id or "", transcriber.name, "transcription", estimate,
                                    what="Listening to this voice note")
        try:
            transcript = await transcriber.transcribe(audio, duration_s)
        except ProviderError as exc:
            log.warning("transcription failed: %s", exc)
            raise EngineError(exc.user_message) from None
        charge = SpendChange(key=key, owner=owner, run_id=run_id or "", provider=transcriber.name,
                             kind="transcription", status="charged", actual_usd=transcript.cost_usd or estimate)
        pending = self.view(await self._owned(run_id, owner)).pending if run_id is not None else None
        if run_id is not None and pending is not None:
            await self._record_call(run_id, pending, "transcribe", transcript.model, transcript.cost_usd,
                                    transcriber.name, spend=charge)
        else:
            await self.services.store.record_spend([charge])
        return transcript.text

    async def _record_call(self, run_id: str, req: InteractionRequest, purpose: str, model: str,
                           cost_usd: float | None, provider: str, result: LLMResult | None = None, *,
                           spend: SpendChange | None = None, spend_key: str | None = None,
                           kind: str = "llm") -> None:
        """An `llm_call` event at the open question, with its accounting in the same commit."""
        data = {"model": model, "usage": result.usage.model_dump() if result else {}, "cost_usd": cost_usd,
                "provider": provider, "purpose": purpose}
        async with self.runlog.hold(run_id) as run:
            if spend is None and spend_key is not None:
                spend = SpendChange(key=spend_key, owner=run.owner, run_id=run_id, provider=provider, kind=kind,
                                    status="charged" if result is not None else "released",
                                    actual_usd=cost_usd if result is not None else None)
            if run.status == "active":
                await self.runlog.append(run, [NewEvent("llm_call", data, req.step_id, req.module_name)],
                                         spend=[spend] if spend else None)
            elif spend is not None:
                await self.services.store.record_spend([spend])

    # ------------------------------------------------------------- changing
    async def start_run(self, owner: str, workflow_id: str | None = None,
                        origin: dict[str, Any] | None = None) -> RunView:
        """A new run. `origin` is the front end's own address for it (e.g. a
        chat), kept untouched and handed back in every view and event."""
        workflow = self.workflows.get(workflow_id or self.default_workflow_id)
        if workflow is None:
            raise EngineError(f"Unknown workflow '{workflow_id}'.")
        run_id = new_id("run")
        # no budget at all: the run shows how things work on offline providers and costs nothing
        mode = "offline" if await self.spending.limit(owner) == 0 else "live"
        await self.runlog.create(run_id, owner, workflow)
        async with self.runlog.hold(run_id) as run:
            await self.runlog.append(run, [NewEvent("workflow_created", {
                "owner": owner, "workflow_id": workflow.workflow_id, "initial_state": workflow.initial_state,
                "fingerprint": workflow.fingerprint, "version": workflow.version, "origin": origin or {},
                "providers": mode,
            })])
            await self.loop.drive(run)
            return self.view(run)

    async def respond(self, run_id: str, response: InteractionResponse, owner: str | None = None) -> RunView:
        await self._owned(run_id, owner)
        async with self.runlog.hold(run_id) as run:
            self._require_active(run)
            if run.pending is None or run.pending["request"]["interaction_id"] != response.interaction_id:
                raise StaleInteraction("This choice is no longer open.")
            if response.cancelled:
                await self._cancel(run)
            else:
                await self.loop.answer(run, response)
            return self.view(run)

    async def retry_failed(self, run_id: str, owner: str | None = None, option_id: str | None = None) -> RunView:
        """Run the module that failed again, optionally with one of the recovery
        options its error offered (e.g. "finish without music")."""
        await self._owned(run_id, owner)
        async with self.runlog.hold(run_id) as run:
            self._require_active(run)
            if run.pending is None:
                offered = {o.get("id") for o in (run.last_error or {}).get("options", [])}
                if option_id is not None and option_id not in offered:
                    raise InvalidResponse("that choice is not offered here")
                await self.loop.drive(run, rerun_failed=True, recovery_option=option_id)
            return self.view(run)

    async def cancel_run(self, run_id: str, owner: str | None = None) -> RunView:
        await self._owned(run_id, owner)
        async with self.runlog.hold(run_id) as run:
            if run.status == "active":
                await self._cancel(run)
            return self.view(run)

    async def _cancel(self, run: RunState) -> None:
        self.background.cancel(run.run_id)
        cancelled = await self.jobs.cancel(run)
        changes = [JobChange(e.data["job_id"], e.data.get("interaction_id", ""), "cancelled") for e in cancelled]
        await self.runlog.append(run, [*cancelled, NewEvent("run_cancelled", {})], run_status="cancelled",
                                 jobs=changes)
        await self.runlog.notify(run, "run_cancelled")

    async def start_sub_action(self, run_id: str, request: SubActionRequest, owner: str | None = None) -> JobView:
        """Start a paid generation from the pending question; a double tap of
        the same button (same request_key) gets the same job back."""
        await self._owned(run_id, owner)
        async with self.runlog.hold(run_id) as run:
            self._require_active(run)
            pending = run.pending
            if pending is None or pending["request"]["interaction_id"] != request.interaction_id:
                raise StaleInteraction("This generation step is no longer open.")
            existing, key = same_request(run, request.interaction_id, request.request_key)
            if existing is not None:
                return existing.view()  # never run again, never paid again
            si, mi = pending["step_index"], pending["module_index"]
            ctx = self.loop.context(run, si, mi, current_interaction=pending)
            job = self.loop.impl(ctx.module).create_job(request.model_copy(update={"request_key": key}), ctx)
            await self.spending.check(run.owner, job.estimate_usd)  # over budget: refused, nothing called
            reserved = [SpendChange(key=job.job_id, owner=run.owner, run_id=run.run_id, provider=job.provider,
                                    kind=KIND_OF_ACTION.get(job.action_type, "media"), status="reserved",
                                    estimate_usd=job.estimate_usd)] if job.estimate_usd > 0 else []
            await self.runlog.append(run, [job_created_event(job, ctx.step_id, ctx.module.name)],
                                     jobs=[JobChange(job.job_id, job.interaction_id, "created", job.request_key)],
                                     spend=reserved)
            self.jobs.spawn(run.run_id, job.job_id)
            return run.jobs[job.job_id].view()

    async def resume_all(self) -> list[RunView]:
        """After a restart: re-poll jobs in flight, list every unfinished run."""
        views = []
        for row in await self.services.store.list_runs(status="active", limit=100000):
            if row.workflow_id not in self.workflows:
                continue
            try:
                async with self.runlog.hold(row.run_id) as run:
                    self.background.resume(run)
                    interrupted = self.jobs.resume(run)
                    if interrupted:
                        await self.runlog.append(run, interrupted, jobs=[
                            JobChange(e.data["job_id"], run.jobs[e.data["job_id"]].interaction_id, "failed")
                            for e in interrupted])
                        for event in interrupted:
                            job = run.jobs[event.data["job_id"]]
                            await self.runlog.notify(run, "job_failed", {
                                **event.data, "prompt_key": job.prompt_key, "provider": job.provider})
                    if run.pending is None and run.last_error is None:
                        await self.loop.drive(run)  # e.g. killed between an LLM call and its event
                    views.append(self.view(run))
            except EngineError as exc:  # e.g. a run its edited workflow no longer fits
                log.warning("run %s cannot resume: %s", row.run_id, exc)
        return views

    # ------------------------------------------------------- people's data
    async def forget(self, owner: str) -> Deleted:
        """Stop the owner's runs (jobs cancelled at the provider where it can), then
        delete all their data but the accounting (engine/personal_data.py)."""
        for row in await self.services.store.list_runs(owner, "active", limit=1000):
            await self.cancel_run(row.run_id, owner)
        await self.wait_idle(timeout=30)
        return await forget_owner(self.services, self.runlog, owner)

    async def expire_media(self, days: float) -> list[str]:
        return await expire_media(self.services, self.runlog, days)

    def _require_active(self, run: RunState) -> None:
        if run.status != "active":
            raise RunNotActive("This run has already finished.")
