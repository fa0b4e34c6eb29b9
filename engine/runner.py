"""The engine: runs workflows, one typed protocol for every front end.

A run moves module by module. Every change is an appended event (store.py)
folded into the in-memory RunState (state.py) under the run's lock, so what
is in memory is always what a restart would rebuild from the log. A run
pauses at an interaction (it waits for `respond`) or at a module error (it
waits for `retry_failed`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from engine.definitions import WorkflowDef, load_workflow
from engine.ids import new_id
from engine.jobs import JobRunner
from engine.modules import default_modules
from engine.modules.base import InvalidResponse, Module, ModuleContext, ModuleFailure
from engine.modules.media import generations_for
from engine.protocol import (
    EngineEvent,
    InteractionRequest,
    InteractionResponse,
    JobView,
    MediaDisplay,
    RetryOption,
    RunStatus,
    RunView,
    SubActionRequest,
)
from engine.providers.base import Cost, LLMMessage
from engine.providers.registry import ProviderRegistry, offline_registry
from engine.services import Services
from engine.state import RunState, apply, replay
from engine.store import JobChange, NewEvent, Store
from engine.templating import TemplateEngine, TemplateError, Where

log = logging.getLogger(__name__)

DEFAULT_WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows"
FEEDBACK_PREFIX = "FEEDBACK FROM USER: "
SNAPSHOT_EVERY = 60  # events


def discover_workflows(base: Path) -> list[Path]:
    """Every folder under `base` that holds a workflow.json."""
    if not base.is_dir():
        raise EngineError(f"no workflows folder at {base} (set CCBOT_WORKFLOWS_DIR)")
    return sorted(p for p in base.iterdir() if (p / "workflow.json").is_file())


class EngineError(Exception):
    """A request the engine refuses; the message is safe to show."""


class RunNotFound(EngineError):
    pass


class NotOwner(EngineError):
    pass


class StaleInteraction(EngineError):
    """An answer to anything but the pending interaction: never applied."""


class RunNotActive(EngineError):
    pass


Listener = Callable[[EngineEvent], Awaitable[None]]


class Engine:
    def __init__(
        self,
        services: Services,
        workflows: dict[str, WorkflowDef],
        modules: dict[str, Module] | None = None,
    ) -> None:
        self.services = services
        self.workflows = workflows
        self.modules = modules or default_modules()
        self.jobs = JobRunner(self)
        self._runs: dict[str, RunState] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._listeners: list[Listener] = []

    # ------------------------------------------------------------ set-up
    @classmethod
    async def open(
        cls,
        *,
        db_path: str | Path,
        media_root: str | Path,
        providers: ProviderRegistry | None = None,
        workflow_dirs: list[Path] | None = None,
        poll_scale: float = 1.0,
    ) -> Engine:
        modules = default_modules()
        workflows: dict[str, WorkflowDef] = {}
        for folder in workflow_dirs or discover_workflows(DEFAULT_WORKFLOWS):
            workflow = load_workflow(folder, modules)
            workflows[workflow.workflow_id] = workflow
        store = await Store.open(db_path)
        services = Services(
            store=store,
            providers=providers or offline_registry(),
            templates=TemplateEngine(),
            media_root=Path(media_root).resolve(),
            poll_scale=poll_scale,
        )
        return cls(services, workflows, modules)

    async def close(self) -> None:
        await self.jobs.shutdown()
        await self.services.store.close()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def notify(self, run: RunState, type_: str, data: dict[str, Any] | None = None) -> None:
        event = EngineEvent(run_id=run.run_id, owner=run.owner, type=type_, data=data or {})
        for listener in list(self._listeners):
            try:
                await listener(event)
            except Exception:  # a front end's bug must not stop the engine
                log.exception("engine listener failed on %s", type_)

    @property
    def default_workflow_id(self) -> str:
        return "cuddle_crew" if "cuddle_crew" in self.workflows else next(iter(self.workflows))

    # ------------------------------------------------------------ loading
    def lock(self, run_id: str) -> asyncio.Lock:
        return self._locks.setdefault(run_id, asyncio.Lock())

    async def load(self, run_id: str, owner: str | None = None) -> RunState:
        run = self._runs.get(run_id)
        if run is None:
            row = await self.services.store.get_run(run_id)
            if row is None:
                raise RunNotFound("That run does not exist.")
            workflow = self.workflows.get(row.workflow_id)
            if workflow is None:
                raise EngineError(f"The workflow '{row.workflow_id}' is not installed.")
            run = await self._rebuild(run_id, workflow)
            self._runs[run_id] = run
        if owner is not None and run.owner != owner:
            raise NotOwner("That run belongs to someone else.")
        return run

    async def _rebuild(self, run_id: str, workflow: WorkflowDef) -> RunState:
        store = self.services.store
        snap = await store.snapshot(run_id)
        if snap is not None:
            seq, data = snap
            later = await store.events(run_id, after_seq=seq)
            forks_before_snapshot = any(
                e.type == "jump_requested" and int(e.data["fork_before_seq"]) <= seq for e in later
            )
            if not forks_before_snapshot:
                run = RunState.model_validate(data)
                for event in later:
                    apply(workflow, run, event)
                return run
        return replay(workflow, await store.events(run_id))

    def workflow_of(self, run: RunState) -> WorkflowDef:
        return self.workflows[run.workflow_id]

    async def append(
        self,
        run: RunState,
        events: list[NewEvent],
        *,
        run_status: str | None = None,
        jobs: list[JobChange] | None = None,
        snapshot: bool = False,
    ) -> None:
        """Write events, then fold them in. Callers hold the run's lock."""
        workflow = self.workflow_of(run)
        store = self.services.store
        written = await store.append(run.run_id, events, run_status=run_status, jobs=jobs)
        if any(e.type == "jump_requested" for e in written):
            fresh = replay(workflow, await store.events(run.run_id))
            for name in RunState.model_fields:
                setattr(run, name, getattr(fresh, name))
        else:
            for event in written:
                apply(workflow, run, event)
        # a cache for fast loading (the log stays the truth): at the end, and
        # at step boundaries once enough events have piled up since the last one
        if snapshot and (run.status != "active" or run.last_seq - run.snapshot_seq >= SNAPSHOT_EVERY):
            run.snapshot_seq = run.last_seq
            await store.write_snapshot(run.run_id, run.last_seq, run.model_dump(mode="json"))

    # --------------------------------------------------------------- runs
    async def start_run(self, owner: str, workflow_id: str | None = None) -> RunView:
        workflow_id = workflow_id or self.default_workflow_id
        workflow = self.workflows.get(workflow_id)
        if workflow is None:
            raise EngineError(f"Unknown workflow '{workflow_id}'.")
        run_id = new_id("run")
        await self.services.store.create_run(run_id, owner, workflow_id)
        run = RunState(run_id=run_id, owner=owner, workflow_id=workflow_id)
        self._runs[run_id] = run
        async with self.lock(run_id):
            await self.append(
                run,
                [
                    NewEvent(
                        "workflow_created",
                        {"owner": owner, "workflow_id": workflow_id, "initial_state": workflow.initial_state},
                    )
                ],
            )
            await self._drive(run)
        return self.view(run)

    async def get_run(self, run_id: str, owner: str | None = None) -> RunView:
        return self.view(await self.load(run_id, owner))

    async def list_runs(self, owner: str, status: str | None = None, limit: int = 20) -> list[RunView]:
        rows = await self.services.store.list_runs(owner, status, limit)
        views = []
        for row in rows:
            try:
                views.append(self.view(await self.load(row.run_id)))
            except EngineError:
                continue
        return views

    async def active_run(self, owner: str) -> RunView | None:
        rows = await self.services.store.list_runs(owner, "active", 1)
        return self.view(await self.load(rows[0].run_id)) if rows else None

    async def state(self, run_id: str, owner: str | None = None) -> dict[str, Any]:
        return dict((await self.load(run_id, owner)).state)

    async def respond(self, run_id: str, response: InteractionResponse, owner: str | None = None) -> RunView:
        run = await self.load(run_id, owner)
        async with self.lock(run_id):
            self._require_active(run)
            pending = run.pending
            if pending is None or pending["request"]["interaction_id"] != response.interaction_id:
                raise StaleInteraction("This choice is no longer open.")
            if response.cancelled:
                await self._cancel(run)
                return self.view(run)
            workflow = self.workflow_of(run)
            si, mi = pending["step_index"], pending["module_index"]
            step, module = workflow.steps[si], workflow.steps[si].modules[mi]
            answered = NewEvent("interaction_response", response.model_dump(mode="json", exclude_defaults=True),
                                step.step_id, module.name)
            if response.retry_requested:
                option = self._retry_option(module, response.retry_option_id)
                feedback = (response.retry_feedback or "").strip()[:4000]
                if not feedback and option.feedback:
                    feedback = option.feedback.default_message
                target_mi = workflow.locate(option.target_module or module.name)[1]
                await self.append(run, [answered, NewEvent(
                    "retry_requested",
                    {"target_module": option.target_module, "feedback": feedback,
                     "step_index": si, "module_index": target_mi},
                    step.step_id, module.name)])
            elif response.jump_back_requested:
                await self.append(run, [answered, self._jump_event(run, module, response.jump_back_target)])
            else:
                ctx = self._context(run, si, mi, current_interaction=pending)
                impl = self.modules[module.module_id]
                try:
                    outputs = await impl.handle_response(pending.get("resolved_inputs") or {}, response, ctx)
                except InvalidResponse:
                    raise
                except ModuleFailure as exc:
                    raise InvalidResponse(exc.message) from None
                await self.append(run, [answered, *ctx.emitted, self._completed(step.step_id, module.name, si, mi, outputs)])
            await self._drive(run)
        return self.view(run)

    async def retry_failed(self, run_id: str, owner: str | None = None, option_id: str | None = None) -> RunView:
        """Run the module that failed again (after a provider error), optionally
        with one of the recovery options its error offered."""
        run = await self.load(run_id, owner)
        async with self.lock(run_id):
            self._require_active(run)
            if run.pending is None:
                offered = {o.get("id") for o in (run.last_error or {}).get("options", [])}
                if option_id is not None and option_id not in offered:
                    raise InvalidResponse("that choice is not offered here")
                await self._drive(run, rerun_failed=True, recovery_option=option_id)
        return self.view(run)

    async def cancel_run(self, run_id: str, owner: str | None = None) -> RunView:
        run = await self.load(run_id, owner)
        async with self.lock(run_id):
            if run.status == "active":
                await self._cancel(run)
        return self.view(run)

    async def _cancel(self, run: RunState) -> None:
        cancelled = await self.jobs.cancel_run_jobs(run)
        await self.append(run, [*cancelled, NewEvent("run_cancelled", {})], run_status="cancelled",
                          jobs=[_job_change(e) for e in cancelled])
        await self.notify(run, "run_cancelled")

    async def start_sub_action(self, run_id: str, request: SubActionRequest, owner: str | None = None) -> JobView:
        run = await self.load(run_id, owner)
        async with self.lock(run_id):
            self._require_active(run)
            if run.pending is None or run.pending["request"]["interaction_id"] != request.interaction_id:
                raise StaleInteraction("This generation step is no longer open.")
            job = await self.jobs.create(run, request)
        if job.status == "created":  # a new job; a double tap gets the existing one back, never run again
            self.jobs.spawn(run.run_id, job.job_id)
        return self.jobs.view(job)

    async def resume_all(self) -> list[RunView]:
        """After a restart: re-poll jobs in flight, list every unfinished run."""
        views = []
        for row in await self.services.store.list_runs(status="active", limit=100000):
            if row.workflow_id not in self.workflows:
                continue
            run = await self.load(row.run_id)
            async with self.lock(run.run_id):
                await self.jobs.resume(run)
                if run.pending is None and run.last_error is None:
                    await self._drive(run)  # e.g. killed between an LLM call and its event
            views.append(self.view(run))
        return views

    # --------------------------------------------------------------- drive
    async def _drive(self, run: RunState, rerun_failed: bool = False, recovery_option: str | None = None) -> None:
        """Run modules until an interaction, an error or the end.

        Bookkeeping events (step_completed, step_started, module_started) are
        written in one transaction with the module's own result: one commit
        per module. A crash in the middle of a module leaves no trace of it,
        and a resumed run simply runs that module again.
        """
        workflow = self.workflow_of(run)
        while run.status == "active" and run.pending is None:
            if run.last_error is not None and not rerun_failed:
                return
            rerun_failed = False
            si, mi = run.step_index, run.module_index
            prefix: list[NewEvent] = []
            if si < len(workflow.steps) and mi >= len(workflow.steps[si].modules):
                prefix.append(NewEvent("step_completed", {"step_index": si}, workflow.steps[si].step_id))
                si, mi = si + 1, 0
            if si >= len(workflow.steps):
                await self.append(run, [*prefix, NewEvent("workflow_completed", {})], run_status="completed",
                                  snapshot=True)
                await self.notify(run, "run_completed")
                return
            step = workflow.steps[si]
            if si not in run.started_steps:
                prefix.append(NewEvent("step_started", {"step_index": si, "name": step.display_name(si + 1)},
                                       step.step_id))
            started: dict[str, Any] = {"step_index": si, "module_index": mi}
            if recovery_option:
                started["recovery_option"] = recovery_option
            prefix.append(NewEvent("module_started", started, step.step_id, step.modules[mi].name))
            await self._run_module(run, si, mi, prefix, recovery_option)
            recovery_option = None

    async def _run_module(self, run: RunState, si: int, mi: int, prefix: list[NewEvent],
                          recovery_option: str | None = None) -> None:
        workflow = self.workflow_of(run)
        step = workflow.steps[si]
        module = step.modules[mi]
        impl = self.modules[module.module_id]
        ctx = self._context(run, si, mi)
        ctx.recovery_option = recovery_option
        snapshot = any(e.type == "step_completed" for e in prefix)

        async def progress(percent: float, message: str) -> None:
            await self.notify(run, "module_progress", {"module": module.name, "progress": percent, "message": message})

        ctx.progress = progress
        try:
            inputs = self._resolve_inputs(ctx)
            if impl.interactive:
                spec = impl.build_request(inputs, ctx)
                request = InteractionRequest(
                    interaction_id=new_id(impl.id_prefix),
                    interaction_type=spec.interaction_type,
                    run_id=run.run_id,
                    step_id=step.step_id,
                    step_name=step.display_name(si + 1),
                    step_number=si + 1,
                    module_name=module.name,
                    title=spec.title,
                    display_data=spec.display_data,
                    context={"module_id": module.module_id},
                )
                stored_inputs = {k: v for k, v in inputs.items() if k not in ("data", "schema", "prompts")}
                await self.append(run, [*prefix, NewEvent(
                    "interaction_requested",
                    {"request": request.model_dump(mode="json", by_alias=True), "resolved_inputs": stored_inputs,
                     "step_index": si, "module_index": mi},
                    step.step_id, module.name)], snapshot=snapshot)
                await self.notify(run, "interaction_requested", {"interaction_id": request.interaction_id})
                return
            outputs = await impl.execute(inputs, ctx)
        except ModuleFailure as exc:
            await self._module_error(run, prefix, step.step_id, module.name, exc.message, exc.retryable, exc.detail,
                                     exc.options)
            return
        except TemplateError as exc:
            await self._module_error(run, prefix, step.step_id, module.name,
                                     "This step of the workflow is broken; the operator has been told.", False, str(exc))
            return
        await self.append(run, [*prefix, *ctx.emitted, self._completed(step.step_id, module.name, si, mi, outputs)],
                          snapshot=snapshot)

    async def _module_error(self, run: RunState, prefix: list[NewEvent], step_id: str, module_name: str,
                            message: str, retryable: bool, detail: str,
                            options: list[dict[str, str]] | None = None) -> None:
        log.warning("module %s failed in run %s: %s", module_name, run.run_id, detail or message)
        data = {"message": message, "retryable": retryable, "options": options or []}
        await self.append(run, [*prefix, NewEvent("module_error", data, step_id, module_name)])
        await self.notify(run, "module_error", {**data, "module": module_name})

    def _completed(self, step_id: str, module_name: str, si: int, mi: int, outputs: dict[str, Any]) -> NewEvent:
        return NewEvent("module_completed", {"step_index": si, "module_index": mi, "outputs": outputs},
                        step_id, module_name)

    def _context(self, run: RunState, si: int, mi: int, current_interaction: dict[str, Any] | None = None) -> ModuleContext:
        workflow = self.workflow_of(run)
        step = workflow.steps[si]
        module = step.modules[mi]
        ctx = ModuleContext(self.services, workflow, run, step, si, module, mi, current_interaction)
        retry = run.pending_retry
        if module.module_id == "api.llm" and retry and retry.get("target_module") == module.name:
            for entry in run.llm_history.get(module.name, []):
                ctx.feedback_messages.append(LLMMessage(role="assistant", text=str(entry["response"])))
                if entry.get("feedback"):
                    ctx.feedback_messages.append(LLMMessage(role="user", text=FEEDBACK_PREFIX + entry["feedback"]))
        return ctx

    def _resolve_inputs(self, ctx: ModuleContext) -> dict[str, Any]:
        module = ctx.module
        server = module.server_inputs
        context = ctx.template_context()
        resolved: dict[str, Any] = {}
        for key, value in module.inputs.items():
            if key == "resolver_schema":
                continue
            if key in server:
                resolved[key] = ctx.templates.render_value(value, context, Where(ctx.step_id, module.name, key))
            else:
                resolved[key] = value
        return resolved

    # ------------------------------------------------------- retry / jump
    def _retry_option(self, module: Any, option_id: str | None) -> RetryOption:
        options = [o for o in (module.retryable.options if module.retryable else []) if o.mode == "retry"]
        if option_id:
            options = [o for o in options if o.id == option_id] or options
        if not options:
            raise InvalidResponse("this step cannot be regenerated")
        return options[0]

    def _jump_event(self, run: RunState, module: Any, target: str | None) -> NewEvent:
        workflow = self.workflow_of(run)
        options = [o for o in (module.retryable.options if module.retryable else []) if o.mode == "jump"]
        option = next((o for o in options if target in (o.id, o.target_module)), None)
        if option is None or not option.target_module:
            raise InvalidResponse("there is no such place to go back to")
        step_id = option.target_step or workflow.steps[run.step_index].step_id
        si = workflow.step_index(step_id)
        mi = workflow.locate(option.target_module)[1]
        fork = self._latest_start_seq(run, step_id, option.target_module)
        return NewEvent("jump_requested",
                        {"target_step": step_id, "target_module": option.target_module, "option_id": option.id,
                         "step_index": si, "module_index": mi, "fork_before_seq": fork},
                        workflow.steps[run.step_index].step_id, module.name)

    def _latest_start_seq(self, run: RunState, step_id: str, module_name: str) -> int:
        """Fork point: just before the target's latest run in this lineage."""
        return run.module_starts.get(f"{step_id}/{module_name}", run.last_seq + 1)

    # --------------------------------------------------------------- views
    def view(self, run: RunState) -> RunView:
        workflow = self.workflow_of(run)
        step_id = step_name = None
        if run.step_index < len(workflow.steps):
            step = workflow.steps[run.step_index]
            step_id, step_name = step.step_id, step.display_name(run.step_index + 1)
        return RunView(
            run_id=run.run_id,
            owner=run.owner,
            workflow_id=run.workflow_id,
            status=RunStatus(run.status),
            created_at=run.created_at,
            updated_at=run.updated_at,
            current_step_id=step_id,
            current_step_name=step_name,
            pending=self.pending_request(run),
            error=(run.last_error or {}).get("message"),
            error_options=list((run.last_error or {}).get("options", [])),
            spent=Cost(usd=run.spent_usd or None, credits=run.spent_credits or None).label(),
        )

    def pending_request(self, run: RunState) -> InteractionRequest | None:
        if run.pending is None:
            return None
        request = InteractionRequest.model_validate(run.pending["request"])
        if isinstance(request.display_data, MediaDisplay):
            request.display_data.generations = generations_for(run, request.interaction_id)
            request.display_data.jobs = [
                self.jobs.view(job) for job in run.jobs.values() if job.interaction_id == request.interaction_id
            ]
        return request

    def status_fields(self, run_id: str) -> list[list[tuple[str, str]]]:
        """The workflow's `status_display`, rendered: rows of (label, value)."""
        run = self._runs[run_id]
        workflow = self.workflow_of(run)
        display = workflow.status_display or {}
        fields = {f["id"]: f for f in display.get("fields", []) if isinstance(f, dict) and "id" in f}
        step_name = ""
        if run.step_index < len(workflow.steps):
            step_name = workflow.steps[run.step_index].display_name(run.step_index + 1)
        elif run.status == "completed":
            step_name = "Finished"
        context = {"state": run.state, "module": run.state, "config": workflow.config, "current_step_name": step_name}
        rows = []
        for layout_row in display.get("layout") or [[f] for f in fields]:
            row = []
            for field_id in layout_row:
                field = fields.get(field_id)
                if not field:
                    continue
                try:
                    value = self.services.templates.render_text(str(field.get("value", "")), context,
                                                                Where(module_name="status_display", input_key=field_id))
                except TemplateError:
                    value = ""
                if value.strip() and value.strip() != "s":
                    row.append((str(field.get("label", field_id)), value.strip()))
            if row:
                rows.append(row)
        return rows

    def _require_active(self, run: RunState) -> None:
        if run.status != "active":
            raise RunNotActive("This run has already finished.")


def _job_change(event: NewEvent) -> JobChange:
    return JobChange(job_id=event.data["job_id"], interaction_id=event.data.get("interaction_id", ""),
                     status="cancelled")
