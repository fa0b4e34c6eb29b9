"""The reference design's later workflow format, as this engine meets it.

Accepted: a `media.generate` whose sub-actions carry no `action_type` when the
module's `action_type` input names it (engine/modules/media.py), and a
sub-action whose `actions` are `self_sub_action`s (that is this engine's own
generation). Refused at load time, one message per construct: the
`media.generateV2` module, `target_sub_action`, `result_mapping`, and the
`params` of a `self_sub_action`. workflows/README.md lists the same.
"""

from __future__ import annotations

from typing import Any

from engine.definitions import ModuleDef
from engine.modules.base import Module, ModuleContext, ModuleFailure

LATER = "belongs to the reference design's later format"
GENERATE_V2 = (
    f"module_id 'media.generateV2' {LATER} (one module that writes the prompts and generates); this engine "
    "does not run it: write the prompts with an api.llm module, then generate with a media.generate module"
)
TARGET_SUB_ACTION = (
    f"an action of type 'target_sub_action' (running other modules as a child workflow) {LATER} and is not "
    "supported: offer a retry option (retryable) that targets those modules instead"
)
RESULT_MAPPING = (
    f"'result_mapping' {LATER} and is not supported: a generation's results are the module's outputs "
    "(generations, selected_content), mapped with outputs_to_state"
)
SELF_PARAMS = (
    "the params of a 'self_sub_action' are not used by this engine: give them as defaults in the panel's "
    "input_schema"
)


class RefusedModule(Module):
    """A module id of the later format: named clearly at load time, never run."""

    def __init__(self, module_id: str, message: str) -> None:
        self.module_id = module_id
        self.message = message

    def check_config(self, module: ModuleDef) -> list[str]:
        return [self.message]

    async def execute(self, inputs: dict[str, Any], ctx: ModuleContext) -> dict[str, Any]:
        raise ModuleFailure("This step of the workflow is broken; the operator has been told.",
                            retryable=False, detail=self.message)


def refused_modules() -> list[Module]:
    return [RefusedModule("media.generateV2", GENERATE_V2)]


def runs_other_modules(action: Any) -> bool:
    """A later-format sub-action that runs other modules (no generation of its own)."""
    steps = (action.model_extra or {}).get("actions")
    steps = steps if isinstance(steps, list) else [steps]
    return any(isinstance(s, dict) and s.get("type") == "target_sub_action" for s in steps)


def sub_action_problems(module: ModuleDef) -> list[str]:
    """What a module's sub-actions use of the later format that this engine refuses."""
    problems = []
    for action in module.sub_actions or []:
        extra = action.model_extra or {}
        where = f"sub_action '{action.id}'"
        steps = extra.get("actions")
        if steps is not None:
            if not isinstance(steps, list):
                steps = [steps]
            kinds = [s.get("type") if isinstance(s, dict) else s for s in steps]
            if "target_sub_action" in kinds:
                problems.append(f"{where}: {TARGET_SUB_ACTION}")
            problems += [f"{where}: unknown action type {k!r} (only 'self_sub_action' is supported)"
                         for k in kinds if k not in ("self_sub_action", "target_sub_action")]
            if any(isinstance(s, dict) and s.get("type") == "self_sub_action" and s.get("params") for s in steps):
                problems.append(f"{where}: {SELF_PARAMS}")
        if "result_mapping" in extra:
            problems.append(f"{where}: {RESULT_MAPPING}")
    return problems
