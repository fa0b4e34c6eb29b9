"""What answering the pending question would set off, before it is answered:
the modules that call a provider (an LLM) between the answer and the next
question, and an honest price for them. Generic: it reads the workflow's
module order and each module type's `calls_provider` flag, never a name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.definitions import ModuleDef, WorkflowDef
from engine.modules.base import Module
from engine.protocol import Understanding
from engine.state import RunState

PAID_UNKNOWN = "a paid AI call"


# Whether the module at (step index, module index) would run: its `when`, read against the state now.
Wanted = Callable[[int, int], bool]


def provider_calls(workflow: WorkflowDef, modules: dict[str, Module], si: int, mi: int,
                   wanted: Wanted | None = None) -> list[ModuleDef]:
    """The modules that call a provider from position (si, mi) on, up to the next question.
    A module whose `when` says no is passed over, as the run would."""
    found: list[ModuleDef] = []
    for i, step in enumerate(workflow.steps[si:], start=si):
        for j, module in enumerate(step.modules[mi:], start=mi):
            impl = modules.get(module.module_id)
            if impl is None:
                return found
            if module.when is not None and wanted is not None and not wanted(i, j):
                continue
            if impl.interactive:
                return found
            if getattr(impl, "calls_provider", False):
                found.append(module)
        mi = 0
    return found


def set_off_by(u: Understanding, run: RunState, workflow: WorkflowDef, modules: dict[str, Module],
               wanted: Wanted | None = None) -> list[ModuleDef]:
    """The provider-calling modules `u` would run if it were applied."""
    pending = run.pending or {}
    si, mi = int(pending.get("step_index", run.step_index)), int(pending.get("module_index", run.module_index))
    response = u.response
    if response is None or u.kind in ("cancel", "unclear", "tick"):
        return []
    if response.retry_requested or response.jump_back_requested:
        module = workflow.steps[si].modules[mi]
        options = module.retryable.options if module.retryable else []
        asked_for = response.retry_option_id if response.retry_requested else response.jump_back_target
        option = next((o for o in options if asked_for in (o.id, o.target_module)), None)
        target = (option.target_module if option else None) or module.name
        try:
            ti, tj = workflow.locate(target)
        except KeyError:
            return []
        return provider_calls(workflow, modules, ti, tj, wanted)
    return provider_calls(workflow, modules, si, mi + 1, wanted)


def last_costs(events: list[Any], names: set[str]) -> dict[str, float]:
    """The cost last recorded for each of these modules' LLM calls in this run."""
    costs: dict[str, float] = {}
    for event in events:
        if event.type == "llm_call" and event.module_name in names and event.data.get("purpose") is None:
            costs[event.module_name] = float(event.data.get("cost_usd") or 0)
    return costs


def priced(u: Understanding, calls: list[ModuleDef], live: bool, recorded: dict[str, float]) -> Understanding:
    """`u` with what it sets off: LLM calls always ask first; money only when the model is live."""
    if not calls:
        return u
    update: dict[str, Any] = {"confirm": True}
    if live:
        update["costs_money"] = True
        known = [recorded[m.name] for m in calls if m.name in recorded]
        if len(known) == len(calls) and sum(known) > 0:
            update["price"] = f"~${max(0.01, sum(known)):.2f}"
        elif u.price in ("", "free"):
            update["price"] = PAID_UNKNOWN
    return u.model_copy(update=update)
