"""`transform.query`: a MongoDB-style aggregation pipeline over state (no database).

Inputs `data` (a list of documents; one object counts as a list of one; JSON
text is parsed) and `pipeline` (the stages, engine/modules/aggregate.py);
output `result`, the list the pipeline leaves (cc-workflow.md §1.5). A
pipeline written into the workflow is checked at load time; one that fails at
run time is the workflow's fault, so it stops the step without a retry.
"""

from __future__ import annotations

import json
from typing import Any

from engine.definitions import ModuleDef
from engine.modules.aggregate import QueryError, aggregate, check_pipeline
from engine.modules.base import Module, ModuleContext, ModuleFailure, require_inputs

BROKEN_QUERY = "This step's data query is broken; the operator has been told."


def pipeline_problems(module: ModuleDef, key: str = "pipeline") -> list[str]:
    """Load-time problems of a pipeline input (a template is checked when it runs)."""
    pipeline = module.inputs.get(key)
    if key not in module.inputs or (isinstance(pipeline, str) and "{{" in pipeline):
        return []
    return [f"input '{key}': {problem}" for problem in check_pipeline(pipeline)]


def run_pipeline(data: Any, pipeline: Any) -> list[Any]:
    """`aggregate`, with a failure the person is shown (and the operator the detail)."""
    try:
        return aggregate(data, pipeline)
    except QueryError as exc:
        raise ModuleFailure(BROKEN_QUERY, retryable=False, detail=str(exc)) from None


class QueryModule(Module):
    module_id = "transform.query"

    def check_config(self, module: ModuleDef) -> list[str]:
        return require_inputs(module, "data", "pipeline") + pipeline_problems(module)

    async def execute(self, inputs: dict[str, Any], ctx: ModuleContext) -> dict[str, Any]:
        data = inputs.get("data")
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError:
                raise ModuleFailure(BROKEN_QUERY, retryable=False,
                                    detail=f"input 'data' is text, not JSON: {data[:80]!r}") from None
        return {"result": run_pipeline(data, inputs.get("pipeline"))}
