"""The installed workflows: which folders, loaded and checked once at start-up."""

from __future__ import annotations

from pathlib import Path

from engine.definitions import WorkflowDef, entry_file, load_workflow
from engine.errors import EngineError
from engine.modules.base import Module

DEFAULT_WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows"
NO_WORKFLOW = "no workflow.json (or workflow_v<N>.json)"


def discover_workflows(base: Path) -> list[Path]:
    """Every folder under `base` that holds a workflow file, or `base` itself
    when it is one. A folder with none is an error, never an empty list."""
    if not base.is_dir():
        raise EngineError(f"no workflows folder at {base} (set CCBOT_WORKFLOWS_DIR)")
    if entry_file(base) is not None:
        return [base]
    found = sorted(p for p in base.iterdir() if p.is_dir() and entry_file(p) is not None)
    if not found:
        raise EngineError(f"no workflow to run in {base}: neither it nor a folder in it holds {NO_WORKFLOW}")
    return found


def load_catalogue(folders: list[Path] | None, modules: dict[str, Module]) -> dict[str, WorkflowDef]:
    """Workflows by id. `None` means the built-in folder; an empty list is an error,
    never a silent fall-back to the built-in workflows."""
    if folders is None:
        folders = discover_workflows(DEFAULT_WORKFLOWS)
    if not folders:
        raise EngineError(f"no workflow to run: the folder given holds {NO_WORKFLOW}")
    workflows: dict[str, WorkflowDef] = {}
    for folder in folders:
        workflow = load_workflow(folder, modules)
        if workflow.workflow_id in workflows:
            raise EngineError(f"two workflows share the id '{workflow.workflow_id}' ({folder})")
        workflows[workflow.workflow_id] = workflow
    return workflows
