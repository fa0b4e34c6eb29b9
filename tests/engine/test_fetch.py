"""api.fetch against a local JSON server: only listed hosts, a time and a size
limit, and a fetch that cannot be done makes the panel it feeds unavailable
instead of failing the step. Nothing here leaves 127.0.0.1."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.definitions import WorkflowError, load_workflow
from engine.modules import default_modules
from engine.modules.fetch import FetchRefused, fetch_json
from engine.providers.registry import offline_registry
from engine.services import FetchPolicy
from engine.settings import Settings
from tests.databases import store_for
from tests.fakes.json_server import MODELS, FakeJSONServer

LOCAL = FetchPolicy(frozenset({"127.0.0.1"}), timeout_s=2.0, max_bytes=1_000_000)


@pytest.fixture
async def server() -> AsyncIterator[FakeJSONServer]:
    fake = FakeJSONServer()
    await fake.start()
    yield fake
    await fake.stop()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def refused(url: str, policy: FetchPolicy = LOCAL) -> str:
    with pytest.raises(FetchRefused) as caught:
        await fetch_json(url, policy)
    return str(caught.value)


async def test_an_allowed_host_answers_json(server: FakeJSONServer) -> None:
    assert await fetch_json(f"{server.root_url}/models", LOCAL, params={"kind": "image"}) == MODELS
    assert server.requests[-1].query == {"kind": "image"}
    port = server.root_url.rsplit(":", 1)[1]
    by_port = FetchPolicy(frozenset({f"127.0.0.1:{port}"}))
    assert await fetch_json(f"{server.root_url}/models", by_port) == MODELS


async def test_a_host_not_on_the_list_is_never_asked(server: FakeJSONServer) -> None:
    port = server.root_url.rsplit(":", 1)[1]
    assert await refused(f"http://localhost:{port}/models") == \
        "localhost is not in CCBOT_FETCH_ALLOWED_HOSTS, so it is not asked"
    assert await refused(f"{server.root_url}/models", FetchPolicy()) == \
        "127.0.0.1 is not in CCBOT_FETCH_ALLOWED_HOSTS, so it is not asked"  # the default: no host at all
    assert await refused(f"{server.root_url}/moved") == "127.0.0.1 answered 302"  # redirects are not followed
    assert server.requests[-1].path == "/moved" and len(server.requests) == 1
    assert await refused("file:///etc/passwd") == "'file:///etc/passwd' is not an http(s) address"


async def test_unreachable_slow_large_and_wrong_answers_are_refused(server: FakeJSONServer) -> None:
    assert (await refused(f"http://127.0.0.1:{closed_port()}/models")).startswith("127.0.0.1 is not reachable (")
    server.slow_s = 3.0
    started = time.monotonic()
    assert await refused(f"{server.root_url}/slow", FetchPolicy(frozenset({"127.0.0.1"}), timeout_s=0.3)) == \
        "127.0.0.1 did not answer within 0.3 s"
    assert time.monotonic() - started < 2.0
    too_big = "127.0.0.1's answer is larger than 1000000 bytes"
    assert await refused(f"{server.root_url}/big") == too_big  # streamed, stopped at the limit
    assert await refused(f"{server.root_url}/declared_big") == too_big  # refused on its Content-Length
    assert await refused(f"{server.root_url}/text") == "127.0.0.1's answer is not JSON"
    assert await refused(f"{server.root_url}/broken") == "127.0.0.1 answered 500"


def test_the_settings_list_the_hosts() -> None:
    settings = Settings(_env_file=None, ccbot_fetch_allowed_hosts=" SD.local:7860, 127.0.0.1 ;")  # type: ignore[call-arg]
    assert settings.fetch_allowed_hosts == frozenset({"sd.local:7860", "127.0.0.1"})
    assert Settings(_env_file=None).fetch_allowed_hosts == frozenset()  # type: ignore[call-arg]


def fetch_then_pick(folder: Path, url: str) -> Path:
    """A step in the reference's shape: fetch a model list, then a media step
    whose Leonardo panel picks a model (and its resolution) from that list."""
    panels = {
        "leonardo": {"type": "object", "_ux": {
            "render_as": "tab.media", "provider": "leonardo", "display_label": "Self-hosted models",
            "input_schema": {"type": "object", "properties": {
                "model": {"type": "string", "title": "Model", "enum": "{{ state.models }}",
                          "value_key": "model_name", "label_key": "title",
                          "_ux": {"input_type": "select", "controls": {"size": "resolutions"}}},
                "size": {"type": "string", "title": "Size", "_ux": {"input_type": "select"}}}}}},
        "openai": {"type": "object", "_ux": {"render_as": "tab.media", "provider": "openai", "tab_label": "OpenAI"}},
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "workflow_v3.json").write_text(json.dumps({"workflow_id": "fetching", "steps": [{
        "step_id": "images", "modules": [
            {"module_id": "api.fetch", "name": "fetch_models", "inputs": {"url": url},
             "outputs_to_state": {"response": "models", "error": "models_error"}},
            {"module_id": "media.generate", "name": "pick_image",
             "inputs": {"resolver_schema": {"type": "object", "properties": {"schema": {"resolver": "server"}}},
                        "prompts": {"leonardo": {"prompt": "a cat"}, "openai": {"prompt": "a cat"}},
                        "schema": {"type": "object", "properties": panels}},
             "sub_actions": [{"id": "generate", "label": "Generate", "action_type": "txt2img"}]},
        ]}]}), encoding="utf-8")
    return folder


async def pending_panels(data_dir: Path, folder: Path, policy: FetchPolicy) -> tuple[Any, dict[str, Any]]:
    engine = await Engine.open(store=await store_for(data_dir), media_root=data_dir / "media",
                               providers=offline_registry(), workflow_dirs=[folder], fetch_policy=policy)
    try:
        view = await engine.start_run("alice", "fetching")
        return view, await engine.state(view.run_id)
    finally:
        await engine.close()


async def test_fetched_choices_fill_the_panel(server: FakeJSONServer, data_dir: Path, tmp_path: Path) -> None:
    view, state = await pending_panels(data_dir, fetch_then_pick(tmp_path / "wf", f"{server.root_url}/models"), LOCAL)
    leonardo, openai = view.pending.display_data.panels
    assert leonardo.availability == "offline" and leonardo.label == "Self-hosted models"
    model, size = leonardo.fields
    assert model.enum == ["dreamy_v2", "crisp_xl"] and model.enum_labels["crisp_xl"] == "Crisp XL"
    assert size.enum == ["512x896", "768x1344", "1080x1920"] and size.value == "512x896"
    assert leonardo.allowed(size, {"model": "crisp_xl"}) == ["768x1344", "1080x1920"]
    assert state["models_error"] is None


async def test_an_unreachable_host_leaves_its_panel_unavailable_and_the_step_going(
        data_dir: Path, tmp_path: Path) -> None:
    folder = fetch_then_pick(tmp_path / "wf", f"http://127.0.0.1:{closed_port()}/models")
    view, state = await pending_panels(data_dir, folder, LOCAL)
    assert view.status == "active" and view.error is None  # the step did not fail: it asks its question
    leonardo, openai = view.pending.display_data.panels
    assert leonardo.availability == "unavailable"
    assert leonardo.note == "its choices for Model could not be loaded"
    assert openai.availability == "offline"  # the other provider still generates
    assert state["models"] is None and state["models_error"].startswith("127.0.0.1 is not reachable")


def test_a_fetch_that_is_not_a_get_is_a_load_problem(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "workflow.json").write_text(json.dumps({"workflow_id": "x", "steps": [{"step_id": "s", "modules": [
        {"module_id": "api.fetch", "name": "post", "inputs": {"url": "http://a.example/x", "method": "POST"}},
        {"module_id": "api.fetch", "name": "ftp", "inputs": {"url": "ftp://a.example/x"}},
        {"module_id": "api.fetch", "name": "none", "inputs": {}}]}]}), encoding="utf-8")
    with pytest.raises(WorkflowError) as caught:
        load_workflow(folder, default_modules())
    assert [p.split(" module ", 1)[1] for p in caught.value.problems] == [
        "post: method 'POST': api.fetch only reads (GET)",
        "ftp: input 'url' 'ftp://a.example/x' is not an http(s) address",
        "none: missing input 'url'",
    ]
