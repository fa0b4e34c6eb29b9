"""The run loop: modules in order, outputs into state, retries and jumps.

A run moves module by module while its caller holds it (`RunLog.hold`). It
pauses at an interaction (until a response) or at a module error (until a
retry). Bookkeeping events (step_completed, step_started, module_started)
are written in one transaction with the module's own result: one commit per
module, so a crash in the middle of a module leaves no trace of it and a
resumed run simply runs that module again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from engine.definitions import ModuleDef, StepDef, WorkflowDef
from engine.errors import EngineError, InvalidResponse
from engine.ids import new_id
from engine.lookahead import provider_calls
from engine.modules.base import Module, ModuleContext, ModuleFailure
from engine.protocol import InteractionRequest, InteractionResponse, RetryOption
from engine.runlog import RunLog
from engine.services import Services
from engine.state import RunState
from engine.store import NewEvent
from engine.templating import TemplateError, Where

log = logging.getLogger(__name__)

FEEDBACK_LIMIT = 4000  # characters of retry feedback kept
BROKEN_STEP = "This step of the workflow is broken; the operator has been told."


class RunLoop:
    def __init__(self, runlog: RunLog, services: Services, modules: dict[str, Module]) -> None:
        self.runlog = runlog
        self.services = services
        self.modules = modules
        self.start_background: Callable[[str], None] = _no_background  # set by the engine

    def impl(self, module: ModuleDef) -> Module:
        impl = self.modules.get(module.module_id)
        if impl is None:  # see _broken_run
            raise EngineError(BROKEN_STEP)
        return impl

    # --------------------------------------------------------------- drive
    async def drive(self, run: RunState, rerun_failed: bool = False, recovery_option: str | None = None) -> None:
        """Run modules until an interaction, an error or the end (run held)."""
        workflow = self.runlog.workflow_of(run)
        while run.status == "active" and run.pending is None:
            if run.working:  # a long module is under way off the tap (engine/background.py)
                self.start_background(run.run_id)
                return
            if run.last_error is not None and not rerun_failed:
                return
            rerun_failed = False
            si, mi = run.step_index, run.module_index
            prefix: list[NewEvent] = []
            if si < len(workflow.steps) and mi >= len(workflow.steps[si].modules):
                prefix.append(NewEvent("step_completed", {"step_index": si}, workflow.steps[si].step_id))
                si, mi = si + 1, 0
            if si >= len(workflow.steps):
                await self.runlog.append(run, [*prefix, NewEvent("workflow_completed", {})], run_status="completed",
                                         snapshot=True)
                await self.runlog.notify(run, "run_completed")
                return
            step = workflow.steps[si]
            if si not in run.started_steps:
                prefix.append(NewEvent("step_started", {"step_index": si, "name": step.display_name(si + 1)},
                                       step.step_id))
            started: dict[str, Any] = {"step_index": si, "module_index": mi}
            if recovery_option:
                started["recovery_option"] = recovery_option
            module = step.modules[mi]
            if module.when is not None:
                try:
                    wanted = self.wanted(run, si, mi)
                except TemplateError as exc:
                    prefix.append(NewEvent("module_started", started, step.step_id, module.name))
                    await self._module_error(run, prefix, self.context(run, si, mi), BROKEN_STEP, False, str(exc))
                    return
                if not wanted:  # its `when` says no: recorded, so a jump back can fork before it
                    prefix.append(NewEvent("module_skipped", {"step_index": si, "module_index": mi},
                                           step.step_id, module.name))
                    await self.runlog.append(run, prefix, snapshot=any(e.type == "step_completed" for e in prefix))
                    recovery_option = None
                    continue
            prefix.append(NewEvent("module_started", started, step.step_id, module.name))
            await self._run_module(run, si, mi, prefix, recovery_option)
            recovery_option = None

    def wanted(self, run: RunState, si: int, mi: int) -> bool:
        """Whether the module's `when` holds for the run's state now (TemplateError when it is broken)."""
        ctx = self.context(run, si, mi)
        where = Where(ctx.step_id, ctx.module.name, "when")
        return ctx.templates.render_condition(ctx.module.when or "", ctx.template_context(), where)

    def foreseen(self, run: RunState) -> Callable[[int, int], bool]:
        """`wanted` for looking ahead: a broken condition counts its module as running
        (the run would stop there, with the error)."""
        def wanted(si: int, mi: int) -> bool:
            try:
                return self.wanted(run, si, mi)
            except TemplateError:
                return True
        return wanted

    async def _run_module(self, run: RunState, si: int, mi: int, prefix: list[NewEvent],
                          recovery_option: str | None) -> None:
        workflow = self.runlog.workflow_of(run)
        step = workflow.steps[si]
        module = step.modules[mi]
        ctx = self.context(run, si, mi)
        ctx.recovery_option = recovery_option
        snapshot = any(e.type == "step_completed" for e in prefix)

        async def progress(percent: float, message: str) -> None:
            await self.runlog.notify(run, "module_progress",
                                     {"module": module.name, "progress": percent, "message": message})

        ctx.progress = progress
        impl = self.modules.get(module.module_id)
        if impl is None:
            await self._broken_run(run, prefix, step, module, si, mi)
            return
        try:
            if impl.background:  # written as under way; the work itself happens off this call
                prefix[-1].data["background"] = True
                await self.runlog.append(run, prefix, snapshot=snapshot)
                self.start_background(run.run_id)
                return
            inputs = self.resolve_inputs(ctx)
            if impl.interactive:
                await self._ask(run, ctx, impl, inputs, prefix, snapshot)
                return
            outputs = await impl.execute(inputs, ctx)
        except ModuleFailure as exc:
            await self._module_error(run, prefix, ctx, exc.message, exc.retryable, exc.detail, exc.options)
            return
        except TemplateError as exc:
            await self._module_error(run, prefix, ctx, BROKEN_STEP, False, str(exc))
            return
        await self.runlog.append(run, [*prefix, *ctx.emitted, completed(step, module, si, mi, outputs)],
                                 spend=ctx.spend, snapshot=snapshot)

    async def _ask(self, run: RunState, ctx: ModuleContext, impl: Module, inputs: dict[str, Any],
                   prefix: list[NewEvent], snapshot: bool) -> None:
        step, module = ctx.step, ctx.module
        spec = impl.build_request(inputs, ctx)
        request = InteractionRequest(
            interaction_id=new_id(impl.id_prefix),
            interaction_type=spec.interaction_type,
            run_id=run.run_id,
            step_id=step.step_id,
            step_name=step.display_name(ctx.step_number),
            step_number=ctx.step_number,
            module_name=module.name,
            title=spec.title,
            display_data=spec.display_data,
            context={"module_id": module.module_id},
            # read with the state before the answer: a front end may say "working on it" at once
            answer_sets_off_calls=bool(provider_calls(self.runlog.workflow_of(run), self.modules, ctx.step_index,
                                                      ctx.module_index + 1, self.foreseen(run))),
        )
        stored_inputs = {k: v for k, v in inputs.items() if k not in ("data", "schema", "prompts")}
        await self.runlog.append(run, [*prefix, NewEvent(
            "interaction_requested",
            {"request": request.model_dump(mode="json", by_alias=True), "resolved_inputs": stored_inputs,
             "step_index": ctx.step_index, "module_index": ctx.module_index},
            step.step_id, module.name)], snapshot=snapshot)

    async def _module_error(self, run: RunState, prefix: list[NewEvent], ctx: ModuleContext,
                            message: str, retryable: bool, detail: str,
                            options: list[dict[str, str]] | None = None) -> None:
        """The error, with what the module did pay for before it failed (its calls and their accounting)."""
        step, module = ctx.step, ctx.module
        log.warning("module %s failed in run %s: %s", module.name, run.run_id, detail or message)
        data = {"message": message, "retryable": retryable, "options": options or []}
        where = {"step_index": prefix[-1].data["step_index"], "module_index": prefix[-1].data["module_index"]}
        error = NewEvent("module_error", {**data, **where}, step.step_id, module.name)
        await self.runlog.append(run, [*prefix, *ctx.emitted, error], spend=ctx.spend)
        await self.runlog.notify(run, "module_error", {**data, "module": module.name})

    async def _broken_run(self, run: RunState, before: list[NewEvent], step: StepDef, module: ModuleDef,
                          si: int, mi: int) -> None:
        """A module this engine has no implementation for. Load checks name every
        module, so this is a workflow or registry swapped under the run: no retry
        can mend it, so the run ends as failed (with the error in its log) instead
        of waiting forever on a step that cannot run."""
        log.error("run %s: step %s module %s has unknown module_id %r; the run fails",
                  run.run_id, step.step_id, module.name, module.module_id)
        data = {"message": BROKEN_STEP, "retryable": False, "options": [], "step_index": si, "module_index": mi}
        await self.runlog.append(run, [*before, NewEvent("module_error", data, step.step_id, module.name),
                                       NewEvent("run_failed", {"reason": f"unknown module_id {module.module_id!r}"},
                                                step.step_id, module.name)],
                                 run_status="failed", snapshot=True)
        await self.runlog.notify(run, "module_error", {"message": BROKEN_STEP, "retryable": False, "options": [],
                                                       "module": module.name})
        await self.runlog.notify(run, "run_failed", {"message": BROKEN_STEP})

    # ------------------------------------------------------------ answers
    async def answer(self, run: RunState, response: InteractionResponse) -> None:
        """Apply a response to the pending interaction (run held, already checked to match)."""
        pending = run.pending or {}
        workflow = self.runlog.workflow_of(run)
        si, mi = pending["step_index"], pending["module_index"]
        step = workflow.steps[si]
        module = step.modules[mi]
        answered = NewEvent("interaction_response", response.model_dump(mode="json", exclude_defaults=True),
                            step.step_id, module.name)
        if response.retry_requested:
            option = retry_option(module, response.retry_option_id)
            feedback = (response.retry_feedback or "").strip()[:FEEDBACK_LIMIT]
            if not feedback and option.feedback:
                feedback = option.feedback.default_message
            target_mi = workflow.locate(option.target_module or module.name)[1]
            await self.runlog.append(run, [answered, NewEvent(
                "retry_requested",
                {"target_module": option.target_module, "feedback": feedback, "step_index": si,
                 "module_index": target_mi},
                step.step_id, module.name)])
        elif response.jump_back_requested:
            await self.runlog.append(run, [answered, self._jump_event(run, module, response.jump_back_target)])
        elif module.module_id not in self.modules:
            await self._broken_run(run, [answered], step, module, si, mi)
            return
        else:
            ctx = self.context(run, si, mi, current_interaction=pending)
            try:
                outputs = await self.impl(module).handle_response(pending.get("resolved_inputs") or {}, response, ctx)
            except ModuleFailure as exc:
                raise InvalidResponse(exc.message) from None
            await self.runlog.append(run, [answered, *ctx.emitted, completed(step, module, si, mi, outputs)],
                                     spend=ctx.spend)
        await self.drive(run)

    def _jump_event(self, run: RunState, module: ModuleDef, target: str | None) -> NewEvent:
        workflow = self.runlog.workflow_of(run)
        options = [o for o in (module.retryable.options if module.retryable else []) if o.mode == "jump"]
        option = next((o for o in options if target in (o.id, o.target_module)), None)
        if option is None or not option.target_module:
            raise InvalidResponse("there is no such place to go back to")
        step_id = option.target_step or workflow.steps[run.step_index].step_id
        si = workflow.step_index(step_id)
        mi = workflow.locate(option.target_module)[1]
        # fork just before the target's latest run in this lineage
        fork = run.module_starts.get(f"{step_id}/{option.target_module}", run.last_seq + 1)
        return NewEvent("jump_requested",
                        {"target_step": step_id, "target_module": option.target_module, "option_id": option.id,
                         "step_index": si, "module_index": mi, "fork_before_seq": fork},
                        workflow.steps[run.step_index].step_id, module.name)

    # ------------------------------------------------------------ context
    def context(self, run: RunState, si: int, mi: int,
                current_interaction: dict[str, Any] | None = None) -> ModuleContext:
        workflow: WorkflowDef = self.runlog.workflow_of(run)
        step = workflow.steps[si]
        module = step.modules[mi]
        ctx = ModuleContext(self.services, workflow, run, step, si, module, mi, current_interaction)
        retry = run.pending_retry
        if retry and retry.get("target_module") == module.name:
            ctx.earlier_answers = [dict(entry) for entry in run.answers.get(module.name, [])]
        return ctx

    def resolve_inputs(self, ctx: ModuleContext) -> dict[str, Any]:
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


def _no_background(run_id: str) -> None:
    raise RuntimeError("no background worker is wired to this run loop")


def completed(step: StepDef, module: ModuleDef, si: int, mi: int, outputs: dict[str, Any]) -> NewEvent:
    return NewEvent("module_completed", {"step_index": si, "module_index": mi, "outputs": outputs},
                    step.step_id, module.name)


def retry_option(module: ModuleDef, option_id: str | None) -> RetryOption:
    options = [o for o in (module.retryable.options if module.retryable else []) if o.mode == "retry"]
    if option_id:
        options = [o for o in options if o.id == option_id] or options
    if not options:
        raise InvalidResponse("this step cannot be regenerated")
    return options[0]
