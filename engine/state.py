"""A run's derived state: the fold of its event log along the current lineage.

`replay()` applies the jump rule (a jump drops every event from the fork on),
then `apply()` folds the remaining events one by one. The same `apply()` is
used live, so a resumed run is exactly the run that was interrupted.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, Field

from engine.definitions import WorkflowDef
from engine.store import Event


class JobRecord(BaseModel):
    job_id: str
    interaction_id: str
    prompt_key: str
    provider: str
    action_type: str
    status: str = "created"  # created, submitted, running, completed, failed, cancelled
    request: dict[str, Any] = Field(default_factory=dict)  # GenerationRequest
    params: dict[str, Any] = Field(default_factory=dict)
    request_key: str | None = None
    provider_job_id: str | None = None
    provider_data: dict[str, Any] = Field(default_factory=dict)
    progress: float | None = None
    message: str = ""
    error: str | None = None
    retryable_error: bool = False
    cost_usd: float | None = None
    cost_credits: float | None = None
    cost_label: str = "free"
    content_ids: list[str] = Field(default_factory=list)


class RunState(BaseModel):
    run_id: str = ""
    owner: str = ""
    workflow_id: str = ""
    status: str = "active"
    state: dict[str, Any] = Field(default_factory=dict)
    step_index: int = 0
    module_index: int = 0
    started_steps: list[int] = Field(default_factory=list)
    pending: dict[str, Any] | None = None  # the open interaction_requested data
    llm_history: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    pending_retry: dict[str, Any] | None = None
    jobs: dict[str, JobRecord] = Field(default_factory=dict)
    contents: dict[str, dict[str, Any]] = Field(default_factory=dict)
    last_error: dict[str, Any] | None = None
    spent_usd: float = 0.0
    spent_credits: float = 0.0
    files: list[dict[str, Any]] = Field(default_factory=list)
    module_starts: dict[str, int] = Field(default_factory=dict)  # "step/module" -> seq of latest start
    created_at: float = 0.0
    updated_at: float = 0.0
    last_seq: int = 0
    snapshot_seq: int = 0  # seq of the latest snapshot written (bookkeeping, not folded)


def get_path(data: Any, dotted: str) -> Any:
    """`a.b.0.c` into nested dicts/lists; None when any part is missing."""
    current = data
    for part in dotted.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else None
        else:
            return None
        if current is None:
            return None
    return current


def replay(workflow: WorkflowDef, events: list[Event], base: RunState | None = None) -> RunState:
    effective: list[Event] = []
    for event in events:
        if event.type == "jump_requested":
            fork = int(event.data["fork_before_seq"])
            effective = [e for e in effective if e.seq < fork]
        effective.append(event)
    run = base.model_copy(deep=True) if base is not None else RunState()
    for event in effective:
        apply(workflow, run, event)
    return run


def apply(workflow: WorkflowDef, run: RunState, event: Event) -> None:
    """Fold one event into the run. Pure bookkeeping: no I/O, no provider calls."""
    data = event.data
    run.last_seq = max(run.last_seq, event.seq)
    run.updated_at = max(run.updated_at, event.created_at)
    kind = event.type
    if kind == "workflow_created":
        run.run_id = event.run_id
        run.owner = data["owner"]
        run.workflow_id = data["workflow_id"]
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
    elif kind == "interaction_requested":
        run.pending = data
    elif kind == "interaction_response":
        run.pending = None
    elif kind == "module_completed":
        _apply_outputs(workflow, run, data)
    elif kind == "module_error":
        run.last_error = {
            "message": data.get("message", ""),
            "retryable": data.get("retryable", True),
            "options": data.get("options", []),
            "module_name": event.module_name,
        }
    elif kind == "step_completed":
        run.step_index, run.module_index = data["step_index"] + 1, 0
    elif kind == "retry_requested":
        history = run.llm_history.get(data["target_module"])
        if history:
            history[-1]["feedback"] = data.get("feedback")
        run.pending_retry = {"target_module": data["target_module"], "feedback": data.get("feedback")}
        run.pending = None
        run.step_index, run.module_index = data["step_index"], data["module_index"]
    elif kind == "jump_requested":
        run.pending = None
        run.pending_retry = None
        run.step_index, run.module_index = data["step_index"], data["module_index"]
        if data["step_index"] not in run.started_steps:
            run.started_steps.append(data["step_index"])
        run.started_steps = [s for s in run.started_steps if s <= data["step_index"]]
    elif kind.startswith("job_"):
        _apply_job(run, kind, data)
    elif kind == "llm_call":
        run.spent_usd += float(data.get("cost_usd") or 0)
    elif kind == "file_ready":
        run.files.append(data)
    elif kind == "workflow_completed":
        run.status = "completed"
        run.pending = None
    elif kind == "run_cancelled":
        run.status = "cancelled"
        run.pending = None


def _apply_outputs(workflow: WorkflowDef, run: RunState, data: dict[str, Any]) -> None:
    si, mi = data["step_index"], data["module_index"]
    module = workflow.steps[si].modules[mi]
    outputs = data.get("outputs") or {}
    for output_name, state_key in module.outputs_to_state.items():
        run.state[state_key] = copy.deepcopy(get_path(outputs, output_name))
    if module.module_id == "api.llm":  # earlier answers feed a later retry's feedback history
        run.llm_history.setdefault(module.name, []).append(
            {"response": outputs.get("response_text", ""), "feedback": None}
        )
    if run.pending_retry and run.pending_retry.get("target_module") == module.name:
        run.pending_retry = None
    run.step_index, run.module_index = si, mi + 1
    run.last_error = None


def _apply_job(run: RunState, kind: str, data: dict[str, Any]) -> None:
    if kind == "job_created":
        run.jobs[data["job_id"]] = JobRecord(
            job_id=data["job_id"],
            interaction_id=data["interaction_id"],
            prompt_key=data["prompt_key"],
            provider=data["provider"],
            action_type=data["action_type"],
            request=data["request"],
            params=data.get("params", {}),
            request_key=data.get("request_key"),
            cost_label=data.get("cost_label", "free"),
        )
        return
    job = run.jobs.get(data.get("job_id", ""))
    if job is None:  # a job of an interaction a jump has left behind
        return
    if kind == "job_submitted":
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
