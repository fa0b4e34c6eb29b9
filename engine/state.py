"""A run's derived state (what the fold of its event log produces, engine/fold.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from engine.protocol import JobView

JOB_STATES = ("created", "submitted", "running", "completed", "failed", "cancelled")


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
    submitting: bool = False  # `job_submitting` written: the provider may have been called
    sent_at: float = 0.0  # when it may first have reached the provider (job_created, then job_submitting)
    provider_job_id: str | None = None
    provider_data: dict[str, Any] = Field(default_factory=dict)
    progress: float | None = None
    message: str = ""
    error: str | None = None
    retryable_error: bool = False
    cost_usd: float | None = None
    cost_credits: float | None = None
    cost_label: str = "free"
    estimate_usd: float = 0.0
    content_ids: list[str] = Field(default_factory=list)

    def view(self) -> JobView:
        return JobView(
            job_id=self.job_id, interaction_id=self.interaction_id, prompt_key=self.prompt_key,
            provider=self.provider, action_type=self.action_type,
            status=self.status if self.status in JOB_STATES else "running",  # type: ignore[arg-type]
            progress=self.progress, message=self.message, error=self.error, retryable_error=self.retryable_error,
            cost=self.cost_label, params=self.params, content_ids=list(self.content_ids), request_key=self.request_key,
        )


class RunState(BaseModel):
    run_id: str = ""
    owner: str = ""
    workflow_id: str = ""
    workflow_fingerprint: str = ""
    origin: dict[str, Any] = Field(default_factory=dict)  # the front end's address for this run, opaque
    provider_mode: str = "live"  # "offline": started with no budget, every provider offline
    status: str = "active"
    state: dict[str, Any] = Field(default_factory=dict)
    step_index: int = 0
    module_index: int = 0
    started_steps: list[int] = Field(default_factory=list)
    pending: dict[str, Any] | None = None  # the open interaction_requested data
    working: dict[str, Any] | None = None  # a long module under way off the tap (engine/background.py)
    # module name -> earlier answers ({"answer", "feedback"}) that a retry shows the module again
    answers: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    pending_retry: dict[str, Any] | None = None
    jobs: dict[str, JobRecord] = Field(default_factory=dict)
    contents: dict[str, dict[str, Any]] = Field(default_factory=dict)
    last_error: dict[str, Any] | None = None
    spent_usd: float = 0.0
    spent_credits: float = 0.0
    files: list[dict[str, Any]] = Field(default_factory=list)
    media_deleted: bool = False  # its media went after the retention period
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
