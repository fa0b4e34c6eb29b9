"""The installed workflows: which folders, loaded and checked once at start-up."""

from __future__ import annotations

from pathlib import Path

from engine.definitions import WorkflowDef, load_workflow
from engine.errors import EngineError
from engine.modules.base import Module

DEFAULT_WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows"


def discover_workflows(base: Path) -> list[Path]:
    """Every folder under `base` that holds a workflow.json."""
    if not base.is_dir():
        raise EngineError(f"no workflows folder at {base} (set CCBOT_WORKFLOWS_DIR)")
    return sorted(p for p in base.iterdir() if (p / "workflow.json").is_file())


def load_catalogue(folders: list[Path] | None, modules: dict[str, Module]) -> dict[str, WorkflowDef]:
    """Workflows by id. `None` means the built-in folder; an empty list is an error,
    never a silent fall-back to the built-in workflows."""
    if folders is None:
        folders = discover_workflows(DEFAULT_WORKFLOWS)
    if not folders:
        raise EngineError("no workflow to run: the folder given holds no workflow.json")
    workflows: dict[str, WorkflowDef] = {}
    for folder in folders:
        workflow = load_workflow(folder, modules)
        if workflow.workflow_id in workflows:
            raise EngineError(f"two workflows share the id '{workflow.workflow_id}' ({folder})")
        workflows[workflow.workflow_id] = workflow
    return workflows
