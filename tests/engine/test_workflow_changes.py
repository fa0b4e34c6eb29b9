"""A run keeps the fingerprint of the workflow it started with, and its events
name the modules they belong to: an edited workflow either still fits the log
(the run goes on) or is refused clearly, never folded into something else."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.api import Engine
from engine.errors import WorkflowChanged
from engine.protocol import InteractionResponse
from tests.databases import store_for
from tests.conftest import MINI, CountingImages, ScriptedLLM, scripted_registry


async def open_engine(data_dir: Path, workflow: Path) -> Engine:
    return await Engine.open(store=await store_for(data_dir), media_root=data_dir / "media",
                             providers=scripted_registry(ScriptedLLM(), CountingImages()), workflow_dirs=[workflow])


async def started_run(tmp_path: Path) -> tuple[Path, str, str]:
    """A copy of the mini workflow and a run on it that has picked its pet."""
    folder = tmp_path / "mini"
    shutil.copytree(MINI, folder)
    engine = await open_engine(tmp_path / "data", folder)
    try:
        view = await engine.start_run("alice", "mini")
        fingerprint = (await engine.load(view.run_id)).workflow_fingerprint
        await engine.respond(view.run_id, InteractionResponse(interaction_id=view.pending.interaction_id,
                                                              selected_indices=[1]))
    finally:
        await engine.close()
    return folder, view.run_id, fingerprint


def edit_step(folder: Path, change) -> None:  # noqa: ANN001 - a function of the step's JSON
    path = folder / "steps" / "1_pick" / "step.json"
    step = json.loads(path.read_text())
    change(step)
    path.write_text(json.dumps(step))


async def test_a_run_records_the_fingerprint_of_its_workflow(tmp_path: Path) -> None:
    folder, run_id, fingerprint = await started_run(tmp_path)
    assert len(fingerprint) == 16
    engine = await open_engine(tmp_path / "data", folder)
    try:
        assert engine.workflows["mini"].fingerprint == fingerprint
        run = await engine.load(run_id)
        assert run.workflow_fingerprint == fingerprint
    finally:
        await engine.close()


async def test_an_edit_that_still_fits_the_log_lets_the_run_go_on(tmp_path: Path) -> None:
    folder, run_id, fingerprint = await started_run(tmp_path)
    edit_step(folder, lambda step: step["modules"][1]["inputs"].update(prompt="Anything at all?"))
    engine = await open_engine(tmp_path / "data", folder)
    try:
        assert engine.workflows["mini"].fingerprint != fingerprint
        view = await engine.get_run(run_id)
        assert view.pending is not None and view.pending.module_name == "ask_direction"
        assert (await engine.state(run_id))["pet"]["label"] == "Dog"
        await engine.respond(run_id, InteractionResponse(interaction_id=view.pending.interaction_id, value="hi"))
    finally:
        await engine.close()


async def test_an_edit_the_log_no_longer_fits_is_refused_clearly(tmp_path: Path) -> None:
    folder, run_id, _ = await started_run(tmp_path)
    edit_step(folder, lambda step: step["modules"][1].update(name="ask_anything"))  # renamed under the run
    engine = await open_engine(tmp_path / "data", folder)
    try:
        with pytest.raises(WorkflowChanged) as refused:
            await engine.get_run(run_id)
        message = str(refused.value)
        assert "earlier version of the workflow 'mini'" in message and "'ask_direction' is now 'ask_anything'" in message
        assert await engine.resume_all() == [], "refused at start-up too, without stopping the others"
        fresh = await engine.start_run("alice", "mini")  # and new runs work on the new version
        assert fresh.pending is not None and fresh.pending.module_name == "select_pet"
    finally:
        await engine.close()


async def test_a_removed_module_is_refused_too(tmp_path: Path) -> None:
    folder, run_id, _ = await started_run(tmp_path)
    edit_step(folder, lambda step: step["modules"].pop(1))
    engine = await open_engine(tmp_path / "data", folder)
    try:
        with pytest.raises(WorkflowChanged, match="step 'pick' has no module 1"):
            await engine.get_run(run_id)
    finally:
        await engine.close()
