"""Module conditions (`when`), the `user.file` question and `media.fit`, on a small workflow."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from engine.api import Engine
from engine.definitions import WorkflowError, load_workflow
from engine.errors import InvalidResponse
from engine.modules import default_modules
from engine.protocol import FileAnswer, FileInputDisplay, InteractionResponse, InteractionType
from engine.providers.registry import offline_registry

SELECT_SCHEMA = {"type": "array", "items": {"type": "object", "_ux": {"selectable": True, "render_as": "card"},
                                             "properties": {"label": {"type": "string",
                                                                      "_ux": {"render_as": "card-title"}}}}}


def select(name: str, data: list[dict], out: str, **extra: object) -> dict:
    return {"module_id": "user.select", "name": name, "inputs": {
        "resolver_schema": {"type": "object", "properties": {"data": {"resolver": "server"}}},
        "data": data, "schema": SELECT_SCHEMA, "prompt": name},
        "outputs_to_state": {"selected_data": out}, **extra}


def write_workflow(root: Path) -> Path:
    steps = [
        {"step_id": "pick", "name": "Step {step_number}: Pick", "modules": [
            {"module_id": "user.file", "name": "get_photo", "inputs": {
                "prompt": "Send a photo of your pet", "skip_label": "No photo", "min_short_side": 512},
             "outputs_to_state": {"file": "photo"}},
            {"module_id": "media.fit", "name": "fit_photo", "when": "{{ state.photo }}", "inputs": {
                "resolver_schema": {"type": "object", "properties": {"image": {"resolver": "server"}}},
                "image": "{{ state.photo }}", "width": 90, "height": 160,
                "variants": [{"id": "crop", "label": "Centre crop", "mode": "cover"},
                             {"id": "pad", "label": "Padded", "mode": "contain"}]},
             "outputs_to_state": {"frames": "frames"}},
            select("select_pet", [{"id": "cat", "label": "Cat"}, {"id": "dog", "label": "Dog"}], "pet",
                   when="{{ not state.photo }}"),
        ]},
        {"step_id": "more", "name": "Step {step_number}: More", "modules": [
            {"module_id": "user.text_input", "name": "cat_name", "when": "{{ (state.pet or {}).id == 'cat' }}",
             "inputs": {"prompt": "Name?", "allow_empty": True}, "outputs_to_state": {"value": "cat_name"}},
            {"module_id": "io.render_template", "name": "dog_note", "when": "{{ (state.pet or {}).id == 'dog' }}",
             "inputs": {"template": "a dog"}, "outputs_to_state": {"rendered": "dog_note"}},
            select("confirm", [{"id": "ok", "label": "OK {{ estimate('leonardo', 'img2vid') }}"}], "confirmed",
                   retryable={"default_option": "continue", "options": [
                       {"id": "continue", "mode": "continue", "label": "OK"},
                       {"id": "back", "mode": "jump", "label": "Back", "target_step": "pick",
                        "target_module": "select_pet"}]}),
        ]},
    ]
    root.mkdir(parents=True, exist_ok=True)
    (root / "workflow.json").write_text(json.dumps({"workflow_id": "whenflow", "steps": steps}))
    return root


@pytest.fixture
async def engine(tmp_path: Path):
    engine = await Engine.open(db_path=tmp_path / "db.sqlite3", media_root=tmp_path / "media",
                               providers=offline_registry(), workflow_dirs=[write_workflow(tmp_path / "wf")])
    yield engine
    await engine.close()


async def answer(engine: Engine, run_id: str, **fields):
    view = await engine.get_run(run_id)
    return await engine.respond(run_id, InteractionResponse(interaction_id=view.pending.interaction_id, **fields))


def photo(path: Path, size: tuple[int, int] = (1200, 800), orientation: int | None = None) -> Path:
    buffer = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    Image.new("RGB", size, (230, 140, 60)).save(buffer, "JPEG", exif=exif.tobytes())
    path.write_bytes(buffer.getvalue())
    return path


async def skipped(engine: Engine, run_id: str) -> list[str]:
    return [e.module_name for e in await engine.services.store.events(run_id) if e.type == "module_skipped"]


async def test_skip_the_file_then_conditions_pick_the_modules(engine: Engine) -> None:
    view = await engine.start_run("alice")
    assert view.pending.interaction_type == InteractionType.FILE_INPUT
    display = view.pending.display_data
    assert isinstance(display, FileInputDisplay)
    assert display.skip_label == "No photo" and display.min_short_side == 512 and "heic" in display.accept
    view = await answer(engine, view.run_id)  # no file: skipped
    assert view.pending.module_name == "select_pet"
    assert await skipped(engine, view.run_id) == ["fit_photo"]
    view = await answer(engine, view.run_id, selected_indices=[1])  # dog
    assert view.pending.module_name == "confirm"
    assert await skipped(engine, view.run_id) == ["fit_photo", "cat_name"]
    state = await engine.state(view.run_id)
    assert state["dog_note"] == "a dog" and state["photo"] is None and "cat_name" not in state
    assert view.pending.display_data.data[0]["label"] == "OK free"  # the registry's estimate, in a template

    # a jump back forks before the latest start of its target: the dog's note is gone
    view = await answer(engine, view.run_id, jump_back_requested=True, jump_back_target="back")
    assert view.pending.module_name == "select_pet"
    view = await answer(engine, view.run_id, selected_indices=[0])  # cat
    assert view.pending.module_name == "cat_name"
    state = await engine.state(view.run_id)
    assert "dog_note" not in state
    # the fold of the log from scratch is the run the engine holds
    engine.runlog.forget(view.run_id)
    assert (await engine.get_run(view.run_id)).pending.module_name == "cat_name"


async def test_a_photo_is_checked_stored_upright_and_fitted(engine: Engine, tmp_path: Path) -> None:
    view = await engine.start_run("alice")
    sideways = photo(tmp_path / "IMG_0001.jpg", (1200, 800), orientation=6)  # portrait, taken sideways
    view = await answer(engine, view.run_id, file=FileAnswer(path=str(sideways), caption="  this is   Biscuit "))
    state = await engine.state(view.run_id)
    stored = state["photo"]
    assert (stored["width"], stored["height"]) == (800, 1200) and stored["caption"] == "this is Biscuit"
    run_dir = engine.services.run_dir("alice", view.run_id)
    assert Path(stored["local_path"]).parent == run_dir / "photo"
    with Image.open(stored["local_path"]) as img:
        assert img.size == (800, 1200) and not img.getexif()  # upright, no metadata travels on
    assert sideways.exists()  # the person's own file is never touched
    frames = {f["id"]: f for f in state["frames"]}
    for frame in frames.values():
        with Image.open(frame["local_path"]) as img:
            assert img.size == (90, 160)
        assert Path(frame["local_path"]).parent == run_dir / "photo"
    assert frames["crop"]["fit"] == "cover" and frames["pad"]["fit"] == "contain"
    assert view.pending.module_name == "confirm"  # no pet chosen: neither pet's module runs
    assert await skipped(engine, view.run_id) == ["select_pet", "cat_name", "dog_note"]


@pytest.mark.parametrize("make, reason", [
    (lambda p: p.write_bytes(b"%PDF-1.4 not a picture"), "not a picture"),
    (lambda p: photo(p, (400, 900)), "at least 512"),
    (lambda p: p.write_bytes(photo(p).read_bytes()[:2000]), "cut off"),
    (lambda p: p.write_bytes(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 100), "video"),
])
async def test_bad_files_are_refused_with_a_reason_and_change_nothing(engine: Engine, tmp_path: Path, make,
                                                                      reason: str) -> None:
    view = await engine.start_run("alice")
    before = len(await engine.services.store.events(view.run_id))
    path = tmp_path / "upload.bin"
    make(path)
    with pytest.raises(InvalidResponse, match=reason):
        await answer(engine, view.run_id, file=FileAnswer(path=str(path)))
    assert len(await engine.services.store.events(view.run_id)) == before
    assert (await engine.get_run(view.run_id)).pending.module_name == "get_photo"
    assert not (engine.services.run_dir("alice", view.run_id) / "photo").exists()


def test_when_must_be_a_template_that_compiles(tmp_path: Path) -> None:
    root = write_workflow(tmp_path / "wf")
    data = json.loads((root / "workflow.json").read_text())
    data["steps"][0]["modules"][2]["when"] = "state.photo"
    data["steps"][1]["modules"][0]["when"] = "{{ state.pet.id == }}"
    (root / "workflow.json").write_text(json.dumps(data))
    with pytest.raises(WorkflowError) as caught:
        load_workflow(root, default_modules())
    text = str(caught.value)
    assert "select_pet: when must be a template" in text and "cat_name: when: template syntax error" in text


async def test_a_broken_condition_stops_the_run_with_a_clear_error(tmp_path: Path) -> None:
    root = write_workflow(tmp_path / "wf")
    data = json.loads((root / "workflow.json").read_text())
    data["steps"][0]["modules"][1]["when"] = "{{ state.photo.nothing() }}"
    (root / "workflow.json").write_text(json.dumps(data))
    engine = await Engine.open(db_path=tmp_path / "db.sqlite3", media_root=tmp_path / "media",
                               providers=offline_registry(), workflow_dirs=[root])
    try:
        view = await engine.start_run("alice")
        view = await answer(engine, view.run_id)
        assert view.pending is None and "broken" in (view.error or "")
    finally:
        await engine.close()
