"""What front ends see of a run: its view (status, step, the pending question
as it stands now, the last error) and its status display."""

from __future__ import annotations

from engine.definitions import WorkflowDef
from engine.modules.base import Module
from engine.protocol import InteractionRequest, RunResult, RunStatus, RunView
from engine.providers.base import Cost
from engine.spending import Spending
from engine.state import RunState
from engine.templating import TemplateEngine, TemplateError, Where


def pending_request(run: RunState, workflow: WorkflowDef, modules: dict[str, Module]) -> InteractionRequest | None:
    if run.pending is None:
        return None
    request = InteractionRequest.model_validate(run.pending["request"])
    module = workflow.steps[run.pending["step_index"]].modules[run.pending["module_index"]]
    impl = modules.get(module.module_id)
    return impl.live_request(request, run) if impl is not None else request


def run_view(run: RunState, workflow: WorkflowDef, modules: dict[str, Module],
             templates: TemplateEngine | None = None, spending: Spending | None = None) -> RunView:
    step_id = step_name = None
    if run.step_index < len(workflow.steps):
        step = workflow.steps[run.step_index]
        step_id, step_name = step.step_id, step.display_name(run.step_index + 1)
    error = run.last_error or {}
    return RunView(
        run_id=run.run_id,
        owner=run.owner,
        workflow_id=run.workflow_id,
        status=RunStatus(run.status),
        created_at=run.created_at,
        updated_at=run.updated_at,
        current_step_id=step_id,
        current_step_name=step_name,
        pending=pending_request(run, workflow, modules),
        working=(run.working or {}).get("module_name"),
        error=error.get("message"),
        error_options=list(error.get("options", [])),
        spent=_spent(run, spending),
        spent_usd=spending.usd(Cost(usd=run.spent_usd, credits=run.spent_credits)) if spending else run.spent_usd,
        origin=dict(run.origin),
        result=run_result(run, workflow, templates) if run.status == "completed" and templates else None,
    )


def _spent(run: RunState, spending: Spending | None) -> str:
    cost = Cost(usd=run.spent_usd or None, credits=run.spent_credits or None)
    return spending.label(cost) if spending is not None else cost.label()


def run_result(run: RunState, workflow: WorkflowDef, templates: TemplateEngine) -> RunResult:
    """The workflow's `result_display` rendered over the final state; without
    one, the last video and the files the run wrote."""
    context = {"state": run.state, "module": run.state, "config": workflow.config}
    values: dict[str, str] = {}
    for key, template in (workflow.result_display or {}).items():
        try:
            values[key] = templates.render_text(str(template), context, Where(module_name="result_display",
                                                                              input_key=key)).strip()
        except TemplateError:
            values[key] = ""
    videos = [f["path"] for f in run.files if f.get("format") == "video" and f.get("path")]
    try:
        duration = float(values.get("duration_s") or 0) or None
    except ValueError:
        duration = None
    return RunResult(
        title=values.get("title", ""),
        text=values.get("text", ""),
        video=None if run.media_deleted else values.get("video") or (videos[-1] if videos else None),
        media_deleted=run.media_deleted,
        duration_s=duration,
        summary=values.get("summary", ""),
        files=[] if run.media_deleted else [dict(f) for f in run.files],
    )


def status_fields(run: RunState, workflow: WorkflowDef, templates: TemplateEngine,
                  with_step: bool = True) -> list[list[tuple[str, str]]]:
    """The workflow's `status_display`, rendered: rows of (label, value).
    Without `with_step` the current step's name renders empty (and its row
    goes): for a status that shows what was chosen, not where the run is."""
    display = workflow.status_display or {}
    fields = {f["id"]: f for f in display.get("fields", []) if isinstance(f, dict) and "id" in f}
    step_name = ""
    if not with_step:
        pass
    elif run.step_index < len(workflow.steps):
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
                value = templates.render_text(str(field.get("value", "")), context,
                                              Where(module_name="status_display", input_key=field_id))
            except TemplateError:
                value = ""
            if value.strip():
                row.append((str(field.get("label", field_id)), value.strip()))
        if row:
            rows.append(row)
    return rows
