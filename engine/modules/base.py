"""What every module sees and implements.

A module is either non-interactive (`execute` returns outputs) or interactive
(`build_request` returns what to ask; `handle_response` turns a validated
answer into outputs). Outputs land in state through `outputs_to_state`.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.definitions import ModuleDef, StepDef, WorkflowDef
from engine.errors import InvalidResponse
from engine.protocol import DisplayData, InteractionRequest, InteractionResponse, InteractionType, SubActionRequest
from engine.state import JobRecord, RunState
from engine.store import NewEvent, SpendChange
from engine.templating import TemplateEngine

if TYPE_CHECKING:
    from engine.providers.registry import ProviderRegistry

if TYPE_CHECKING:
    from engine.services import Services

__all__ = ["InvalidResponse", "Module", "ModuleContext", "ModuleFailure", "RequestSpec", "require_inputs"]


class ModuleFailure(Exception):
    """A module could not finish. `message` is shown to the person.

    `options` are recovery choices a person may take instead of a plain retry,
    e.g. [{"id": "without_music", "label": "Finish without music"}]; the chosen
    id reaches the module's next run as `ctx.recovery_option`.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        detail: str = "",
        options: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.detail = detail
        self.options = options or []


@dataclass
class ModuleContext:
    services: Services
    workflow: WorkflowDef
    run: RunState
    step: StepDef
    step_index: int
    module: ModuleDef
    module_index: int
    # the module's own interaction_requested data, on the response path only
    current_interaction: dict[str, Any] | None = None
    # when this run is a retry of this module: its earlier answers in this
    # lineage, each with the feedback given after it ({"answer", "feedback"})
    earlier_answers: list[dict[str, Any]] = field(default_factory=list)
    # extra events the module wants in the log (e.g. llm_call usage and cost)
    emitted: list[NewEvent] = field(default_factory=list)
    # the accounting of its paid calls, written with its result (engine/spending.py)
    spend: list[SpendChange] = field(default_factory=list)
    # the recovery option a person chose after this module's last failure
    recovery_option: str | None = None
    # long modules report (percent, message); front ends show it
    progress: Callable[[float, str], Awaitable[None]] | None = None

    @property
    def state(self) -> dict[str, Any]:
        return self.run.state

    @property
    def module_outputs(self) -> dict[str, Any]:
        """The spec's name for the flat state (cc-workflow.md §1.11 #2)."""
        return self.run.state

    @property
    def step_number(self) -> int:
        return self.step_index + 1

    @property
    def step_id(self) -> str:
        return self.step.step_id

    @property
    def retryable(self) -> Any:
        return self.module.retryable

    @property
    def sub_actions(self) -> Any:
        return self.module.sub_actions

    @property
    def providers(self) -> ProviderRegistry:
        """This run's providers (all offline for a run started with no budget)."""
        return self.services.providers_for(self.run)

    @property
    def templates(self) -> TemplateEngine:
        return self.services.templates

    @property
    def run_dir(self) -> Path:
        return self.services.run_dir(self.run.owner, self.run.run_id)

    def template_context(self) -> dict[str, Any]:
        return {
            "state": self.run.state,
            "module": self.run.state,
            "step": self.step.template_view(),
            "config": self.workflow.config,
            "current_step_name": self.step.display_name(self.step_number),
        }


@dataclass
class RequestSpec:
    """What an interactive module asks; the runner adds ids and step data."""

    interaction_type: InteractionType
    title: str
    display_data: DisplayData


class Module(ABC):
    """A module type. Besides running, it may hook into three engine paths:
    `answer_text` (what a retry shows it of an earlier answer), `live_request`
    (the pending question with what changed since it was asked) and
    `create_job` (a paid generation started from its question)."""

    module_id: str = ""
    interactive: bool = False
    background: bool = False  # long (e.g. a render): runs off the person's tap, queued (engine/background.py)
    calls_provider: bool = False  # runs a paid provider call (an LLM): free text asks before it sets one off
    id_prefix: str = "int"

    def check_config(self, module: ModuleDef) -> list[str]:
        """Load-time problems with this module's configuration."""
        return []

    def answer_text(self, outputs: dict[str, Any]) -> str | None:
        """What a later retry of this module is shown of these outputs (None: nothing)."""
        return None

    def live_request(self, request: InteractionRequest, run: RunState) -> InteractionRequest:
        """The pending request as front ends should see it now."""
        return request

    def create_job(self, request: SubActionRequest, ctx: ModuleContext) -> JobRecord:
        """A new generation job for the pending question (not yet written)."""
        raise InvalidResponse("this step has no actions")

    async def execute(self, inputs: dict[str, Any], ctx: ModuleContext) -> dict[str, Any]:
        raise NotImplementedError(f"{self.module_id} is interactive")

    def build_request(self, inputs: dict[str, Any], ctx: ModuleContext) -> RequestSpec:
        raise NotImplementedError(f"{self.module_id} is not interactive")

    async def handle_response(
        self, inputs: dict[str, Any], response: InteractionResponse, ctx: ModuleContext
    ) -> dict[str, Any]:
        raise NotImplementedError(f"{self.module_id} is not interactive")


def require_inputs(module: ModuleDef, *names: str) -> list[str]:
    return [f"missing input '{name}'" for name in names if name not in module.inputs]
