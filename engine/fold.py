"""The fold: a run's state is its event log applied, one event at a time.

`Fold.replay()` applies the jump rule (a jump drops every event from its fork
point on), then `Fold.apply()` folds the remaining events. The same `apply()`
is used live, so a resumed run is exactly the run that was interrupted.

Events name the step and module they belong to. The fold checks those names
against the workflow at the positions the events point to: a run whose
workflow was edited so that its log no longer fits is refused
(`WorkflowChanged`) instead of being folded into nonsense.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from engine.definitions import ModuleDef, WorkflowDef
from engine.errors import WorkflowChanged
from engine.state import JobRecord, RunState, get_path
from engine.store import Event

# What a module keeps of its outputs for a later retry of it (None: nothing).
AnswerText = Callable[[ModuleDef, dict[str, Any]], str | None]

_AT_MODULE = ("module_started", "module_skipped", "interaction_requested", "module_completed", "module_error")


class Fold:
    def __init__(self, workflow: WorkflowDef, answer_text: AnswerText) -> None:
        self.workflow = workflow
        self.answer_text = answer_text

    def replay(self, events: list[Event], base: RunState | None = None) -> RunState:
        effective: list[Event] = []
        for event in events:
            if event.type == "jump_requested":
                fork = int(event.data["fork_before_seq"])
                effective = [e for e in effective if e.seq < fork]
            effective.append(event)
        run = base.model_copy(deep=True) if base is not None else RunState()
        for event in effective:
            self.apply(run, event)
        return run

    # ------------------------------------------------------------ checks
    def _module(self, step_index: Any, module_index: Any, event: Event, name: str | None) -> ModuleDef:
        steps = self.workflow.steps
        if not isinstance(step_index, int) or not 0 <= step_index < len(steps):
            raise self._changed(event, f"it has no step {step_index}")
        modules = steps[step_index].modules
        if not isinstance(module_index, int) or not 0 <= module_index < len(modules):
            raise self._changed(event, f"step '{steps[step_index].step_id}' has no module {module_index}")
        module = modules[module_index]
        if name is not None and module.name != name:
            raise self._changed(event, f"'{name}' is now '{module.name}'")
        return module

    def _check_step(self, step_index: Any, event: Event) -> None:
        steps = self.workflow.steps
        if not isinstance(step_index, int) or not 0 <= step_index < len(steps):
            raise self._changed(event, f"it has no step {step_index}")
        if event.step_id is not None and steps[step_index].step_id != event.step_id:
            raise self._changed(event, f"step '{event.step_id}' is now '{steps[step_index].step_id}'")

    def _changed(self, event: Event, why: str) -> WorkflowChanged:
        return WorkflowChanged(
            f"This run was started with an earlier version of the workflow '{self.workflow.workflow_id}', "
            f"which has changed in a way the run cannot follow ({why}, event {event.seq}). "
            "Its choices are kept, but it cannot continue: please start a new one."
        )

    # -------------------------------------------------------------- fold
    def apply(self, run: RunState, event: Event) -> None:
        """Fold one event into the run. Pure bookkeeping: no I/O, no provider calls."""
        data = event.data
        run.last_seq = max(run.last_seq, event.seq)
        run.updated_at = max(run.updated_at, event.created_at)
        kind = event.type
        if kind in _AT_MODULE or kind == "step_started":
            si = data.get("step_index", run.step_index)  # logs written before positions were recorded
            self._check_step(si, event)
            if kind != "step_started":
                self._module(si, data.get("module_index", run.module_index), event, event.module_name)
        if kind == "workflow_created":
            run.run_id = event.run_id
            run.owner = data["owner"]
            run.workflow_id = data["workflow_id"]
            run.workflow_fingerprint = data.get("fingerprint", "")
            run.origin = dict(data.get("origin") or {})
            run.provider_mode = str(data.get("providers") or "live")
            run.created_at = event.created_at
            run.state = copy.deepcopy(data.get("initial_state") or {})
        elif kind == "step_started":
            run.step_index, run.module_index = data["step_index"], 0
            if data["step_index"] not in run.started_steps:
                run.started_steps.append(data["step_index"])
        elif kind == "module_started":
            run.step_index, run.module_index = data["step_index"], data["module_index"]
            run.module_starts[f"{event.step_id}/{event.module_name}"] = event.seq
            run.last_error = None
            run.working = None
            if data.get("background"):
                run.working = {"module_name": event.module_name, "step_index": data["step_index"],
                               "module_index": data["module_index"], "since": event.created_at,
                               "recovery_option": data.get("recovery_option")}
        elif kind == "module_skipped":  # its `when` was false: on to the next one, nothing written to state
            run.step_index, run.module_index = data["step_index"], data["module_index"] + 1
            run.module_starts[f"{event.step_id}/{event.module_name}"] = event.seq
            run.last_error = run.working = None
            if run.pending_retry and run.pending_retry.get("target_module") == event.module_name:
                run.pending_retry = None
        elif kind == "interaction_requested":
            run.pending = data
        elif kind == "interaction_response":
            run.pending = None
        elif kind == "module_completed":
            self._apply_outputs(run, data)
            run.working = None
        elif kind == "module_error":
            run.working = None
            run.last_error = {"message": data.get("message", ""), "retryable": data.get("retryable", True),
                              "options": data.get("options", []), "module_name": event.module_name}
        elif kind == "step_completed":
            self._check_step(data["step_index"], event)
            run.step_index, run.module_index = data["step_index"] + 1, 0
        elif kind == "retry_requested":
            self._module(data["step_index"], data["module_index"], event, data["target_module"])
            history = run.answers.get(data["target_module"])
            if history:
                history[-1]["feedback"] = data.get("feedback")
            run.pending_retry = {"target_module": data["target_module"], "feedback": data.get("feedback")}
            run.pending = None
            run.step_index, run.module_index = data["step_index"], data["module_index"]
        elif kind == "jump_requested":
            self._module(data["step_index"], data["module_index"], event, data["target_module"])
            run.pending = run.working = None
            run.pending_retry = None
            run.step_index, run.module_index = data["step_index"], data["module_index"]
            if data["step_index"] not in run.started_steps:
                run.started_steps.append(data["step_index"])
            run.started_steps = [s for s in run.started_steps if s <= data["step_index"]]
        elif kind.startswith("job_"):
            _apply_job(run, kind, data, event.created_at)
        elif kind == "llm_call":
            run.spent_usd += float(data.get("cost_usd") or 0)
        elif kind == "file_ready":
            run.files.append(data)
        elif kind == "media_deleted":  # past its retention: the record stays, the files are gone
            run.media_deleted = True
        elif kind == "workflow_completed":
            run.status = "completed"
            run.pending = run.working = None
        elif kind == "run_cancelled":
            run.status = "cancelled"
            run.pending = run.working = None
        elif kind == "run_failed":  # a step that cannot run at all (engine/runner.py _broken_run)
            run.status = "failed"
            run.pending = run.working = None

    def _apply_outputs(self, run: RunState, data: dict[str, Any]) -> None:
        si, mi = data["step_index"], data["module_index"]
        module = self.workflow.steps[si].modules[mi]
        outputs = data.get("outputs") or {}
        for output_name, state_key in module.outputs_to_state.items():
            run.state[state_key] = copy.deepcopy(get_path(outputs, output_name))
        answer = self.answer_text(module, outputs)
        if answer is not None:  # earlier answers feed a later retry of this module
            run.answers.setdefault(module.name, []).append({"answer": answer, "feedback": None})
        if run.pending_retry and run.pending_retry.get("target_module") == module.name:
            run.pending_retry = None
        run.step_index, run.module_index = si, mi + 1
        run.last_error = None


def _apply_job(run: RunState, kind: str, data: dict[str, Any], at: float) -> None:
    if kind == "job_created":
        run.jobs[data["job_id"]] = JobRecord(
            job_id=data["job_id"], interaction_id=data["interaction_id"], prompt_key=data["prompt_key"],
            provider=data["provider"], action_type=data["action_type"], request=data["request"],
            params=data.get("params", {}), request_key=data.get("request_key"),
            cost_label=data.get("cost_label", "free"), estimate_usd=float(data.get("estimate_usd") or 0),
            sent_at=at,
        )
        return
    job = run.jobs.get(data.get("job_id", ""))
    if job is None:  # a job of an interaction a jump has left behind
        return
    if kind == "job_submitting":  # about to call the provider (engine/durable/jobs.py): a re-run must not call it again
        job.submitting = True
        job.sent_at = at
    elif kind == "job_submitted":
        job.status = "submitted"
        job.provider_job_id = data["provider_job_id"]
        job.provider_data = data.get("provider_data", {})
        job.cost_usd = data.get("cost_usd")
        job.cost_credits = data.get("cost_credits")
        if data.get("cost_label"):
            job.cost_label = data["cost_label"]
        run.spent_usd += float(job.cost_usd or 0)
        run.spent_credits += float(job.cost_credits or 0)
    elif kind == "job_progress":
        job.status = "running"
        job.progress = data.get("progress")
        job.message = data.get("message", "")
    elif kind == "job_completed":
        job.status = "completed"
        job.progress = 100.0
        for item in data.get("contents", []):
            run.contents[item["content_id"]] = item
            job.content_ids.append(item["content_id"])
    elif kind == "job_failed":
        job.status = "failed"
        job.error = data.get("error")
        job.retryable_error = bool(data.get("retryable"))
    elif kind == "job_cancelled":
        job.status = "cancelled"
