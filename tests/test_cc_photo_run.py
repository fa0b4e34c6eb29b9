"""The CC workflow with the person's own pet, through the engine on offline providers:
"Animate my photo" (the fitted photo is the key frame) and "Make scenes with my pet" (the
photo is the img2img reference), what the prompts learn from the photo, and when the
"Cat or Dog?" question is still asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from engine.api import Engine
from engine.protocol import FileAnswer, InteractionRequest
from tests.players import play_first_choices
from tests.test_cc_workflow_run import RecordingLLM, setup  # noqa: F401 - the engine fixture

GINGER = (222, 130, 55)


def ginger_photo(path: Path, size: tuple[int, int] = (1200, 900)) -> Path:
    Image.new("RGB", size, GINGER).save(path, "JPEG", quality=92)
    return path


def user_text(llm: RecordingLLM, module: str) -> str:
    return "\n".join(m.text or "" for m in llm.requests[module][-1].messages if m.role == "user")


async def play(engine: Engine, photo: Path | None, caption: str, way: int) -> tuple[str, list[str]]:
    """A run with this photo (or none) and way, to the end; returns (run id, questions asked)."""
    view = await engine.start_run("alice")
    asked: list[str] = []

    def seen(req: InteractionRequest) -> None:
        asked.append(req.module_name)

    files = {"get_pet_photo": FileAnswer(path=str(photo), caption=caption)} if photo else {}
    await play_first_choices(engine, view.run_id, picks={"choose_photo_way": [way]}, files=files, on_request=seen)
    assert (await engine.get_run(view.run_id)).status.value == "completed"
    return view.run_id, asked


async def test_animate_my_photo(setup, tmp_path: Path) -> None:
    engine, llm = setup
    photo = ginger_photo(tmp_path / "IMG_2041.jpg")
    run_id, asked = await play(engine, photo, "this is Biscuit, my ginger cat", way=0)
    state = await engine.state(run_id)
    # the photo told the workflow the pet: no blind "Cat or Dog?"
    assert "select_pet_type" not in asked and state["pet_type_selection"]["label"] == "Cat"
    assert asked[:2] == ["get_pet_photo", "choose_photo_way"]
    assert "generate_and_select_images" not in asked and "generate_scenes_with_pet" not in asked
    assert "select_photo_frame" in asked
    assert "generate_image_prompts" not in llm.requests  # no pictures are made: nothing paid for them
    # the key frame is the fitted photo (crop, the first option), in the run's own folder
    frame = state["selected_image_data"]
    assert frame["id"] == "crop" and (frame["width"], frame["height"]) == (864, 1536)
    run_dir = engine.services.run_dir("alice", run_id)
    assert Path(frame["local_path"]).parent == run_dir / "photo"
    run = await engine.load(run_id)
    (video_job,) = [j for j in run.jobs.values() if j.action_type == "img2vid"]
    assert video_job.request["source_image_path"] == frame["local_path"]
    assert [j.action_type for j in run.jobs.values()].count("txt2img") == 0
    # what the analysis saw reaches the scenes, the caption, the titles and the music
    assert state["pet_photo_analysis"]["look"] == "a ginger kitten" and state["pet_photo_analysis"]["name"] == "Biscuit"
    for module in ("generate_scenes", "generate_text_overlays", "generate_titles_social", "generate_music_options"):
        text = user_text(llm, module)
        assert "**Pet in the photo:** a ginger kitten" in text and "Biscuit" in text, module
    assert "animates this very photo" in user_text(llm, "generate_scenes")
    captions = " ".join(s for t in state["text_overlays"]["text_sets"] for p in t["paragraphs"] for s in p["sentences"])
    assert "corgi" not in captions.lower() and "puppy" not in captions.lower()
    assert "your own photo" in state["workflow_summary_text"]


async def test_make_scenes_with_my_pet(setup, tmp_path: Path) -> None:
    engine, llm = setup
    photo = ginger_photo(tmp_path / "pet.jpg")
    run_id, asked = await play(engine, photo, "my ginger cat", way=1)
    state = await engine.state(run_id)
    assert "generate_scenes_with_pet" in asked and "select_photo_frame" not in asked
    assert "generate_and_select_images" not in asked
    assert "reference picture" in user_text(llm, "generate_image_prompts")
    run = await engine.load(run_id)
    (scene_job,) = [j for j in run.jobs.values() if j.action_type == "img2img"]
    stored = state["pet_photo"]["local_path"]
    assert scene_job.request["source_image_path"] == stored  # the person's photo, as stored
    assert Path(stored).parent == engine.services.run_dir("alice", run_id) / "photo"
    # the picked picture (it shows the pet) is the key frame the video starts from
    assert state["selected_image_data"]["content_id"] in scene_job.content_ids
    (video_job,) = [j for j in run.jobs.values() if j.action_type == "img2vid"]
    assert video_job.request["source_image_path"] == state["selected_image_data"]["local_path"]


async def test_a_photo_that_says_nothing_still_asks_cat_or_dog(setup, tmp_path: Path) -> None:
    engine, _ = setup
    _, asked = await play(engine, ginger_photo(tmp_path / "pet.jpg"), "", way=0)
    assert "select_pet_type" in asked  # the offline analysis could not tell: it asks, it does not guess


async def test_no_photo_is_the_workflow_as_before(setup) -> None:
    engine, _ = setup
    run_id, asked = await play(engine, None, "", way=0)
    state = await engine.state(run_id)
    assert asked[:2] == ["get_pet_photo", "select_pet_type"]
    assert "choose_photo_way" not in asked and "generate_and_select_images" in asked
    assert state["pet_photo"] is None and "pet_photo_notes" not in state


async def test_the_two_ways_show_their_costs_from_the_registry(setup, tmp_path: Path) -> None:
    engine, _ = setup
    photo = ginger_photo(tmp_path / "p.jpg")
    view = await engine.start_run("alice")
    view = await engine.respond(view.run_id, _file(view, photo, "this is Biscuit, my cat"))
    assert view.pending.module_name == "choose_photo_way"
    labels = [item["label"] for item in view.pending.display_data.data]
    assert labels == ["🎬 Animate my photo · free", "🖼 Scenes with my pet · free + clip"]  # demo mode
    assert "Leonardo Motion 2.0 free" in view.pending.display_data.data[0]["description"]
    # with live providers (never called: an estimate is the provider's own arithmetic)
    from engine.providers.leonardo import LeonardoImages, LeonardoVideo
    from engine.providers.openai_images import OpenAIImages

    live = {("openai", "img2img"): OpenAIImages("sk-test", base_url="http://127.0.0.1:9"),
            ("leonardo", "img2img"): LeonardoImages("leo-test", base_url="http://127.0.0.1:9"),
            ("leonardo", "img2vid"): LeonardoVideo("leo-test", base_url="http://127.0.0.1:9")}
    engine.services.providers.media_providers.update(live)
    del engine.services.providers.media_providers[("openai", "img2vid")]  # no Sora gateway
    try:
        view = await engine.start_run("bob")
        view = await engine.respond(view.run_id, _file(view, photo, "this is Biscuit, my cat"))
        animate, scenes = view.pending.display_data.data
        assert animate["label"] == "🎬 Animate my photo · ~200 credits"
        assert "Veo 3.1 ~$3.20 (8 s)" in animate["description"] and "Sora" not in animate["description"]
        assert scenes["label"] == "🖼 Scenes with my pet · ~$0.09 + clip"
        assert "~$0.09 with OpenAI" in scenes["description"] and "~16 credits with Leonardo" in scenes["description"]
    finally:
        for impl in live.values():
            await impl.aclose()


def _file(view: Any, path: Path, caption: str) -> Any:
    from engine.protocol import InteractionResponse

    return InteractionResponse(interaction_id=view.pending.interaction_id,
                               file=FileAnswer(path=str(path), caption=caption))
