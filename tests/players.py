"""Plays a run through the engine with first choices: one driver for every
workflow-level test instead of a copy per file; and the offline writer as the
fake OpenAI server's answer."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from engine.definitions import load_workflow
from engine.protocol import (
    FileAnswer,
    FileInputDisplay,
    InteractionRequest,
    InteractionResponse,
    MediaDisplay,
    SelectDisplay,
    SubActionRequest,
)
from engine.providers.base import LLMMessage, LLMRequest
from engine.providers.offline import OfflineLLM
from engine.api import Engine
from engine.selection import selectable_items, wire_paths

CC = Path(__file__).resolve().parents[1] / "workflows" / "cc"


@cache
def cc_offline_hints() -> dict[str, Any]:
    """The CC workflow's offline writer data, as api.llm hands it over (config.offline_writer)."""
    hints: dict[str, Any] = load_workflow(CC).config["offline_writer"]
    return hints


async def play_first_choices(
    engine: Engine,
    run_id: str,
    *,
    stop_at: str | None = None,
    picks: dict[str, list[int]] | None = None,
    all_panels: bool = False,
    on_request: Callable[[InteractionRequest], Any] | None = None,
    max_steps: int = 100,
    files: dict[str, FileAnswer] | None = None,
) -> None:
    """Answer until the run ends or `stop_at` is pending.

    Selects take option 0 (or `picks[module_name]`), text inputs are skipped,
    file questions get `files[module_name]` (else are skipped), media steps
    generate on the first usable panel (or every panel) and pick the newest
    file of the first panel.
    """
    for _ in range(max_steps):
        view = await engine.get_run(run_id)
        if view.working:  # the final render runs off the answer that started it
            await engine.wait_idle(run_id)
            continue
        if view.status.value != "active":
            return
        req = view.pending
        assert req is not None, view.error
        if req.module_name == stop_at:
            return
        if on_request is not None:
            on_request(req)
        disp = req.display_data
        if isinstance(disp, SelectDisplay):
            items = selectable_items(disp.data, disp.display_schema)
            chosen = (picks or {}).get(req.module_name, [0])
            paths = [items[i][0] for i in chosen] if disp.mode == "select" else []
            response = InteractionResponse(interaction_id=req.interaction_id,
                                           selected_indices=wire_paths(paths, disp.multi_select))
        elif isinstance(disp, MediaDisplay):
            usable = [p for p in disp.panels if p.availability != "unavailable"]
            for panel in usable if all_panels else usable[:1]:
                await engine.start_sub_action(run_id, SubActionRequest(interaction_id=req.interaction_id,
                                                                       prompt_key=panel.prompt_key))
            await engine.jobs.wait_idle(run_id)
            current = (await engine.get_run(run_id)).pending.display_data
            failed = [j for j in current.jobs if j.status == "failed"]
            assert not failed, failed
            batches = current.generations[usable[0].prompt_key]
            response = InteractionResponse(interaction_id=req.interaction_id,
                                           selected_content_id=batches[-1].content_ids[0])
        elif isinstance(disp, FileInputDisplay):
            response = InteractionResponse(interaction_id=req.interaction_id, file=(files or {}).get(req.module_name))
        else:
            response = InteractionResponse(interaction_id=req.interaction_id, value="")
        await engine.respond(run_id, response)
    raise AssertionError("the run did not finish")


async def offline_answer(body: dict[str, Any]) -> str:
    """The offline writer's answer to a Responses API request body (the fake
    OpenAI server plays the CC workflow's writer, so it gets CC's hints)."""
    messages = []
    for item in body.get("input") or []:
        for part in item.get("content") or []:
            if part.get("type") in ("input_text", "output_text"):
                role = {"developer": "system"}.get(item["role"], item["role"])
                messages.append(LLMMessage(role=role, text=part["text"]))
    schema = body["text"]["format"]["schema"]
    request = LLMRequest(messages=messages, output_schema=schema, hints=cc_offline_hints())
    result = await OfflineLLM().complete(request)
    return result.text
