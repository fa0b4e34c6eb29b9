"""tests/data/reference_cc: a workflow folder written for the tests in the shape
of the reference design's CC folder (workflow_v3.json, transform.query,
io.weighted_keywords with weighted_keywords / pipeline, object enums with
controls, a panel named by display_label inside a tab, now().strftime,
media.generate's source_image, an api.fetch to a host that does not answer).
It loads and runs unmodified: through `ccbot validate` and `ccbot demo --auto`
as a person runs them, and through the engine with every construct checked."""

from __future__ import annotations

import json
import re
import shutil
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engine.api import Engine
from engine.protocol import InteractionResponse, RunView, SubActionRequest
from engine.providers.registry import offline_registry
from engine.services import FetchPolicy
from tests.ccbot_process import ccbot
from tests.databases import store_for
from tests.fakes.json_server import MODELS, FakeJSONServer

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "reference_cc"
LOCAL = FetchPolicy(frozenset({"127.0.0.1"}), timeout_s=2.0)


def test_ccbot_validate_accepts_the_folder_as_it_is(tmp_path: Path) -> None:
    done = ccbot(tmp_path, "validate", str(REFERENCE))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK — workflow 'reference_cc', 5 steps, 15 modules" in done.stdout


def test_ccbot_demo_runs_it_to_the_end_on_offline_providers(tmp_path: Path) -> None:
    done = ccbot(tmp_path, "demo", "--auto", "--workflow", str(REFERENCE), CCBOT_FETCH_ALLOWED_HOSTS="127.0.0.1")
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "Traceback" not in done.stderr
    assert re.search(r"Run run_\w+: completed", out)
    assert "[g2] Leonardo Phoenix (unavailable: its choices for Model could not be loaded)" in out
    assert "[g1] OpenAI (offline, free)" in out and "[g3] Leonardo (offline, free)" in out
    summary = Path(re.search(r"text: (\S+pet_clip_summary\.txt)", out).group(1))
    text = summary.read_text(encoding="utf-8")
    assert f"Made on {datetime.now(timezone.utc):%Y-%m-%d} at " in text and "Clip: /" in text


async def answer(engine: Engine, view: RunView, **fields: Any) -> RunView:
    assert view.pending is not None, view.error
    return await engine.respond(view.run_id, InteractionResponse(interaction_id=view.pending.interaction_id,
                                                                  **fields))


async def generate_and_pick(engine: Engine, view: RunView, prompt_key: str, **params: Any) -> tuple[RunView, Any]:
    job = await engine.start_sub_action(view.run_id, SubActionRequest(
        interaction_id=view.pending.interaction_id, prompt_key=prompt_key, params=params))
    await engine.wait_idle(view.run_id)
    view = await engine.get_run(view.run_id)
    content = view.pending.display_data.generations[prompt_key][0].content_ids[0]
    record = (await engine.load(view.run_id)).jobs[job.job_id]
    return await answer(engine, view, selected_content_id=content), record


async def play(engine: Engine, owner: str = "alice") -> tuple[RunView, dict[str, Any]]:
    """One run, checking each construct where it shows."""
    view = await engine.start_run(owner, "reference_cc")
    view = await answer(engine, view, selected_indices=[0])
    view = await answer(engine, view, value="")
    state = await engine.state(view.run_id)
    assert state["flattened_keywords"] and {k["source"] for k in state["flattened_keywords"]} == {"generated"}
    view = await answer(engine, view, selected_indices=["scenes", 1])
    state = await engine.state(view.run_id)
    picked = state["selected_scene"]["scene_keywords"]
    assert [k["keyword"] for k in state["selected_keywords"]] == [k["keyword"] for k in picked]
    assert {k["source"] for k in state["selected_keywords"]} == {"selected"}
    # step 3: the panels, named by tab_label, their own display_label, or their tab's
    panels = view.pending.display_data.panels
    assert [p.label for p in panels] == ["OpenAI", "Leonardo Phoenix", "Leonardo"]
    openai = panels[0]
    model, size = openai.fields[1], openai.fields[2]
    assert model.enum == ["gpt-image-2", "gpt-image-1-mini"] and model.enum_labels["gpt-image-1-mini"] == \
        "GPT Image 1 mini"
    assert size.enum_labels == {"864x1536": "9:16 portrait", "1024x1536": "2:3 portrait"}
    assert openai.price == "free" and all(p.price != "?" for p in panels)
    # a stale size (not offered by the smaller model) is corrected, not refused
    view, job = await generate_and_pick(engine, view, "prompts.openai", model="gpt-image-1-mini", size="864x1536")
    assert job.params["model"] == "gpt-image-1-mini" and job.params["size"] == "1024x1536"
    image = (await engine.state(view.run_id))["selected_image_data"]
    # step 4: the source image is the one the step names
    view, job = await generate_and_pick(engine, view, "leonardo", model="MOTION2FAST")
    assert job.request["source_image_path"] == image["local_path"]
    assert job.params["resolution"] == "RESOLUTION_480"  # Motion 2.0 Fast offers only 480p
    assert view.status == "completed", view.error
    return view, await engine.state(view.run_id)


async def open_engine(data_dir: Path, folder: Path = REFERENCE) -> Engine:
    return await Engine.open(store=await store_for(data_dir), media_root=data_dir / "media",
                             providers=offline_registry(), workflow_dirs=[folder], poll_scale=0.01,
                             fetch_policy=LOCAL)


async def test_every_construct_works_and_keywords_carry_over_to_the_next_run(data_dir: Path) -> None:
    engine = await open_engine(data_dir)
    try:
        _, first = await play(engine)
        assert first["keyword_exclusions_selected"] == [] and first["leonardo_models"] is None
        assert f"Made on {datetime.now(timezone.utc):%Y-%m-%d}" in first["workflow_summary_text"]
        assert Path(first["summary_file_path"]).is_file()
        _, second = await play(engine)
        banned = {k["keyword"] for k in second["keyword_exclusions_selected"]}
        assert banned == {k["keyword"].lower() for k in first["selected_keywords"]}
        assert all(k["source"] == "selected" for k in second["keyword_exclusions_selected"])
    finally:
        await engine.close()


async def test_with_the_model_catalogue_answering_its_panel_is_usable(data_dir: Path, tmp_path: Path) -> None:
    server = FakeJSONServer()
    await server.start()
    folder = tmp_path / "reference_cc"
    shutil.copytree(REFERENCE, folder)
    entry = folder / "workflow_v3.json"
    raw = json.loads(entry.read_text(encoding="utf-8"))
    raw["config"]["model_catalogue"] = server.root_url
    entry.write_text(json.dumps(raw), encoding="utf-8")
    engine = await open_engine(data_dir, folder)
    try:
        view = await engine.start_run("alice", "reference_cc")
        for fields in ({"selected_indices": [1]}, {"value": "a tabby called Miso"}, {"selected_indices": ["scenes", 0]}):
            view = await answer(engine, view, **fields)
        phoenix = view.pending.display_data.panels[1]
        assert phoenix.availability == "offline"
        assert phoenix.fields[1].enum == [m["model_name"] for m in MODELS]
        assert phoenix.fields[1].enum_labels == {m["model_name"]: m["title"] for m in MODELS}
        assert server.requests[-1].path == "/leonardo/models"
    finally:
        await engine.close()
        await server.stop()


def test_nothing_in_the_folder_points_off_this_machine() -> None:
    text = " ".join(p.read_text(encoding="utf-8") for p in REFERENCE.rglob("*") if p.is_file())
    assert re.findall(r"https?://[^\s\"/]+", text) == ["http://127.0.0.1:9"]
    with socket.socket() as sock:  # the catalogue's port answers nobody here, so its panel is unavailable
        sock.settimeout(1)
        assert sock.connect_ex(("127.0.0.1", 9)) != 0
