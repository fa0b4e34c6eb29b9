"""The reference design's data modules as its folders write them, run by the
engine: transform.query over state, io.weighted_keywords with `weighted_keywords`
(save) and `pipeline` (load)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.definitions import WorkflowError, load_workflow
from engine.modules import default_modules
from tests.conftest import scripted_registry
from tests.databases import store_for

SCENES = {"scenes": [
    {"title": "Snow day", "scene_keywords": [{"keyword": "Snow", "category": "setting", "weight": 80},
                                             {"keyword": "window", "category": "object", "weight": 40}]},
    {"title": "Garden nap", "scene_keywords": [{"keyword": "sun", "category": "setting", "weight": 60}]},
]}
SERVER = {"type": "object", "properties": {"data": {"resolver": "server"}, "weighted_keywords": {"resolver": "server"}}}


def write_workflow(folder: Path, modules: list[dict[str, Any]], initial_state: dict[str, Any] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "workflow_v3.json").write_text(json.dumps({
        "workflow_id": "ref", "initial_state": initial_state or {},
        "steps": [{"step_id": "data", "name": "Data", "modules": modules}],
    }), encoding="utf-8")
    return folder


def flatten(name: str, source: str, data: Any) -> dict[str, Any]:
    return {"module_id": "transform.query", "name": name,
            "inputs": {"resolver_schema": SERVER, "data": data, "pipeline": [
                {"$unwind": "$scene_keywords"}, {"$replaceRoot": {"newRoot": "$scene_keywords"}},
                {"$addFields": {"source": source}}]},
            "outputs_to_state": {"result": f"{name}_result"}}


async def run_to_end(data_dir: Path, folder: Path, owner: str = "alice") -> dict[str, Any]:
    engine = await Engine.open(store=await store_for(data_dir), media_root=data_dir / "media",
                               providers=scripted_registry(), workflow_dirs=[folder])
    try:
        view = await engine.start_run(owner, "ref")
        assert view.status == "completed", view.error
        return await engine.state(view.run_id)
    finally:
        await engine.close()


async def test_query_then_save_then_load_with_a_pipeline(data_dir: Path, tmp_path: Path) -> None:
    folder = write_workflow(tmp_path / "ref", [
        flatten("flatten", "generated", "{{ state.scenes.scenes }}"),
        {"module_id": "io.weighted_keywords", "name": "save_generated",
         "inputs": {"resolver_schema": SERVER, "mode": "save", "weighted_keywords": "{{ state.flatten_result }}"},
         "outputs_to_state": {"saved_count": "saved"}},
        flatten("pick", "selected", [{"scene_keywords": "{{ state.scenes.scenes[1].scene_keywords }}"}]),
        {"module_id": "io.weighted_keywords", "name": "save_selected",
         "inputs": {"resolver_schema": SERVER, "mode": "save", "weighted_keywords": "{{ state.pick_result }}",
                    "accumulate_weight": False},
         "outputs_to_state": {"saved_count": "updated"}},
        {"module_id": "io.weighted_keywords", "name": "load_selected",
         "inputs": {"mode": "load", "pipeline": [{"$match": {"source": "selected"}}, {"$sort": {"weight": -1}},
                                                 {"$limit": 50}]},
         "outputs_to_state": {"weighted_keywords": "banned", "count": "banned_count"}},
        {"module_id": "io.weighted_keywords", "name": "load_generated",
         "inputs": {"mode": "load", "pipeline": [{"$match": {"source": "generated"}}, {"$sort": {"weight": 1}},
                                                 {"$project": {"_id": 0, "keyword": 1, "weight": 1}}]},
         "outputs_to_state": {"weighted_keywords": "worn", "count": "worn_count"}},
    ], {"scenes": SCENES})
    state = await run_to_end(data_dir, folder)
    assert state["flatten_result"][0] == {"keyword": "Snow", "category": "setting", "weight": 80, "source": "generated"}
    assert state["saved"] == 3 and state["updated"] == 1
    # each record kept its own source: the picked scene's keyword is now "selected" and stays banned
    assert [(k["keyword"], k["weight"], k["source"]) for k in state["banned"]] == [("sun", 60.0, "selected")]
    assert state["banned"][0]["last_used"].endswith("+00:00")
    assert state["worn"] == [{"keyword": "window", "weight": 40.0}, {"keyword": "snow", "weight": 80.0}]
    assert state["banned_count"] == 1 and state["worn_count"] == 2


async def test_keywords_of_one_person_stay_theirs(data_dir: Path, tmp_path: Path) -> None:
    folder = write_workflow(tmp_path / "ref", [
        flatten("flatten", "generated", "{{ state.scenes.scenes }}"),
        {"module_id": "io.weighted_keywords", "name": "save", "inputs": {
            "resolver_schema": SERVER, "mode": "save", "weighted_keywords": "{{ state.flatten_result }}"}},
        {"module_id": "io.weighted_keywords", "name": "load", "inputs": {"mode": "load", "pipeline": []},
         "outputs_to_state": {"count": "count"}},
    ], {"scenes": SCENES})
    assert (await run_to_end(data_dir, folder, "alice"))["count"] == 3
    assert (await run_to_end(data_dir, folder, "alice"))["count"] == 3  # the same keywords again: weights grew
    assert (await run_to_end(data_dir / "b", folder, "bob"))["count"] == 3


def test_bad_pipelines_and_inputs_are_named_at_load_time(tmp_path: Path) -> None:
    folder = write_workflow(tmp_path / "bad", [
        {"module_id": "transform.query", "name": "q1", "inputs": {"data": [], "pipeline": [{"$lookup": {}}]}},
        {"module_id": "transform.query", "name": "q2", "inputs": {"pipeline": []}},
        {"module_id": "io.weighted_keywords", "name": "k1", "inputs": {"mode": "load", "pipeline": [{"$out": "x"}]}},
        {"module_id": "io.weighted_keywords", "name": "k2", "inputs": {"mode": "save"}},
    ])
    with pytest.raises(WorkflowError) as caught:
        load_workflow(folder, default_modules())
    problems = [p.split(" module ", 1)[1] for p in caught.value.problems]
    assert problems == [
        "q1: input 'pipeline': stage 1: '$lookup' is not supported (supported: $match, $project, $unwind, "
        "$replaceRoot, $replaceWith, $addFields, $set, $sort, $limit, $skip, $group, $count)",
        "q2: missing input 'data'",
        "k1: input 'pipeline': stage 1: '$out' is not supported (supported: $match, $project, $unwind, "
        "$replaceRoot, $replaceWith, $addFields, $set, $sort, $limit, $skip, $group, $count)",
        "k2: missing input 'weighted_keywords' (or 'keywords'): the keywords to save",
    ]


async def test_a_query_that_fails_at_run_time_stops_the_step_without_a_retry(data_dir: Path, tmp_path: Path) -> None:
    folder = write_workflow(tmp_path / "ref", [{"module_id": "transform.query", "name": "q", "inputs": {
        "data": [{"a": 1}], "pipeline": [{"$replaceRoot": {"newRoot": "$b"}}]}}])
    engine = await Engine.open(store=await store_for(data_dir), media_root=data_dir / "media",
                               providers=scripted_registry(), workflow_dirs=[folder])
    try:
        view = await engine.start_run("alice", "ref")
        assert view.status == "active" and view.error == "This step's data query is broken; the operator has been told."
        assert (await engine.load(view.run_id)).last_error["retryable"] is False
    finally:
        await engine.close()
