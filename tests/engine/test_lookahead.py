"""What answering a question sets off: modules whose `when` says no are passed over, as the run would."""

from __future__ import annotations

from types import SimpleNamespace

from engine.definitions import ModuleDef, StepDef, WorkflowDef
from engine.lookahead import provider_calls

# provider_calls reads only these two flags of a module type
MODULES = {
    "ask": SimpleNamespace(interactive=True, calls_provider=False),
    "llm": SimpleNamespace(interactive=False, calls_provider=True),
    "plain": SimpleNamespace(interactive=False, calls_provider=False),
}


def workflow() -> WorkflowDef:
    modules = [
        ModuleDef(module_id="ask", name="pick_picture"),
        ModuleDef(module_id="plain", name="photo_only_copy", when="{{ state.photo }}"),
        ModuleDef(module_id="ask", name="photo_only_question", when="{{ state.photo }}"),
        ModuleDef(module_id="llm", name="analyse"),
        ModuleDef(module_id="ask", name="next_question"),
    ]
    return WorkflowDef(workflow_id="w", steps=[StepDef(step_id="s", modules=modules)])


def test_a_question_skipped_by_its_condition_does_not_hide_the_paid_call_after_it() -> None:
    no_photo = provider_calls(workflow(), MODULES, 0, 1, wanted=lambda si, mi: False)
    assert [m.name for m in no_photo] == ["analyse"]


def test_a_question_whose_condition_holds_is_where_the_lookahead_stops() -> None:
    with_photo = provider_calls(workflow(), MODULES, 0, 1, wanted=lambda si, mi: True)
    assert with_photo == []


def test_the_condition_is_asked_about_the_module_at_its_position() -> None:
    asked: list[tuple[int, int]] = []

    def wanted(si: int, mi: int) -> bool:
        asked.append((si, mi))
        return False

    provider_calls(workflow(), MODULES, 0, 1, wanted=wanted)
    assert asked == [(0, 1), (0, 2)], "only modules with a `when` are asked about"
