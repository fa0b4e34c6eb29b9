"""Offline providers: schema-valid, sensible LLM answers and real media files with durable job semantics."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from PIL import Image, ImageChops, ImageStat

from engine.media.ffmpeg import extract_frame, ffmpeg_exe, probe
from engine.media.images import mime_type
from engine.providers.base import GenerationRequest, JobStatus, LLMMessage, LLMRequest, ProviderError
from engine.providers.offline import (
    OfflineImageProvider,
    OfflineLLM,
    OfflineMusicProvider,
    OfflineVideoProvider,
)
from engine.providers.registry import offline_registry
from tests.players import cc_offline_hints

DATA = Path(__file__).parent / "data"
SEED_SCHEMAS = DATA / "seed_schemas"
REPO = Path(__file__).resolve().parent.parent


def _load(name: str) -> dict[str, Any]:
    return json.loads((SEED_SCHEMAS / name).read_text(encoding="utf-8"))


IMAGE_ANALYSIS = _load("cc_image_analysis_schema.json")
VIDEO_PROMPTS = _load("cc_video_prompts_schema.json")

# The step 5 user prompt as the spec's jinja2 template renders it.
STEP5_PROMPT = """Generate video/motion prompts for this pet scene:

## Scene Details

**Title:** The Kitten Who Caught the Sun
**Narrative:** Morning light pours across the window seat.
**Pet Behavior Focus:** Stretching slowly into the sunbeam
**Setting:** A sunlit window seat piled with a knitted blanket
**Emotional Arc:** From sleepy curiosity to deep contentment

## Context

**Pet Type:** {pet}
**Visual Tone:** warm and drowsy
**Duration Target:** 15 seconds

## Image Analysis

**Environment:**
- Setting: A sunlit window seat piled with a knitted blanket
- Atmosphere: Warm, peaceful and drowsy
- Lighting: Soft golden morning light through sheer curtains

## IMPORTANT: Selected Motion Elements

The user has specifically chosen these elements to animate. Your prompts must
prioritize including animation of following elements:


- **sunbeam**: gentle shimmer (across the window seat)

- **sheer curtain**: soft sway (left window)


## Elements to Block in Negative Prompts

All of these elements should be kept STATIC:
sunbeam, sheer curtain, dust motes, potted fern, blanket fringe

Generate Leonardo Motion and Sora 2 video prompts with natural, subtle motion.
The pet and all unselected elements must remain static.
"""


def _request(schema: dict[str, Any] | None, *texts: str, image: str | None = None, cc: bool = True) -> LLMRequest:
    """A request as api.llm builds it for a CC step (with CC's offline hints), or for a workflow without any."""
    messages = [LLMMessage(role="system", text="You are a motion engineer for cute pet videos.")]
    if image:
        messages.append(LLMMessage(role="user", image_path=image))
    messages += [LLMMessage(role="user", text=text) for text in texts]
    return LLMRequest(messages=messages, output_schema=schema, hints=cc_offline_hints() if cc else {})


async def _answer(schema: dict[str, Any] | None, *texts: str, image: str | None = None, cc: bool = True) -> Any:
    result = await OfflineLLM().complete(_request(schema, *texts, image=image, cc=cc))
    return json.loads(result.text) if schema is not None else result.text


def _valid(schema: dict[str, Any], value: Any) -> None:
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(value)]
    assert errors == []


# ------------------------------------------------------------- schemas


def _obj(props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False, **extra}


def _arr(items: dict[str, Any], lo: int | None = None, hi: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": items}
    if lo is not None:
        schema["minItems"] = lo
    if hi is not None:
        schema["maxItems"] = hi
    return schema


S: dict[str, Any] = {"type": "string"}
INT = {"type": "integer"}

# The other CC steps' answer shapes, as the design brief describes them.
CC_SCHEMAS: dict[str, dict[str, Any]] = {
    "scenes": _obj({"scenes": _arr(_obj({
        "title": S, "hook": S, "narrative": S, "visual_moments": _arr(S, 3, 5), "pet_behavior": S,
        "emotional_arc": S, "setting": S,
        "scene_keywords": _arr(_obj({
            "keyword": S, "category": {"type": "string", "enum": ["setting", "behavior", "object", "emotion"]},
            "weight": {"type": "integer", "minimum": 10, "maximum": 100},
        }), 3, 6),
    }), 3, 3)}),
    "image_prompts": _obj({"scene_title": S, "key_moment": S, "prompts": _obj({
        "midjourney": _obj({"prompt": S, "style_notes": S}),
        "leonardo": _obj({"phoenix_1_0": _obj({"prompt": S, "style_notes": S})}),
        "openai": _obj({"prompt": S, "camera_notes": S}),
        "stable_diffusion": _obj({"tag_prompt": S, "natural_prompt": S, "negative_prompt": S, "style_notes": S}),
    })}),
    "text_overlays": _obj({"text_sets": _arr(_obj({
        "set_id": {"type": "string", "enum": ["heartfelt", "playful", "reflective"]},
        "set_description": S,
        "paragraphs": _arr(_obj({"paragraph_id": INT, "sentences": _arr(S)}), 1, 2),
    }), 3, 3)}),
    "titles_social": _obj({
        "titles": _arr({"type": "string", "minLength": 20, "maxLength": 40}, 5, 5),
        "descriptions": _arr(_obj({"text": S, "emojis": S}), 5, 5),
    }),
    "music_options": _obj({"options": _arr(_obj({
        "name": S, "description": S, "bpm": {"type": "integer", "minimum": 50, "maximum": 120}, "key": S,
        "instruments": _arr(S, 2, 4), "mood": _arr(S, 2, 3), "energy": S,
    }), 5, 5)}),
    "elevenlabs_prompts": _obj({
        "track_title": S, "elevenlabs_prompt_precise": S, "elevenlabs_prompt_evocative": S,
        "elevenlabs_prompt_voiceover": S,
    }),
}

# Shapes a future workflow might use: the writer must stay generic.
GENERIC_SCHEMAS: dict[str, dict[str, Any]] = {
    "nested_arrays_of_objects": _obj({"chapters": _arr(_obj({
        "heading": S, "shots": _arr(_obj({"index": INT, "tags": _arr(S, 1, 2), "ok": {"type": "boolean"}}), 2, 4),
    }), 2, 2)}),
    "enums_everywhere": _obj({
        "ratio": {"enum": ["16:9", "9:16", "1:1"]},
        "levels": _arr({"type": "string", "enum": ["low", "mid", "high"]}, 3, 3),
        "mixed": {"enum": [1, "two", None]},
        "fixed": {"const": "v1"},
    }),
    "numeric_ranges": _obj({
        "count": {"type": "integer", "minimum": 3, "maximum": 3},
        "negative": {"type": "integer", "maximum": -5},
        "stepped": {"type": "integer", "minimum": 1, "maximum": 100, "multipleOf": 7},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "half_steps": {"type": "number", "minimum": 0.5, "maximum": 2.5, "multipleOf": 0.5},
        "bpm": {"type": "integer", "minimum": 50, "maximum": 55},
    }),
    "strings_with_limits": _obj({
        "short": {"type": "string", "maxLength": 5},
        "long": {"type": "string", "minLength": 120, "maxLength": 140},
        "hinted": {"type": "string", "description": "A caption of 20-30 characters."},
        "slug": {"type": "string", "pattern": "^[a-z_]+$"},
        "when": {"type": "string", "format": "date-time"},
        "unique": {"type": "array", "items": {"type": "string"}, "minItems": 12, "uniqueItems": True},
    }),
    "refs_nullable_and_open_objects": {
        "$defs": {"moment": _obj({"description": S, "seconds": {"type": "number", "minimum": 0}})},
        "type": "object",
        "properties": {
            "moments": _arr({"$ref": "#/$defs/moment"}, 2, 3),
            "maybe": {"anyOf": [{"type": "null"}, {"type": "string"}]},
            "either": {"type": ["null", "integer"], "minimum": 2},
            "extras": {"type": "object", "minProperties": 2, "additionalProperties": {"type": "integer"}},
        },
        "required": ["moments", "maybe", "either", "extras"],
        "additionalProperties": False,
    },
    "recursive_tree": {
        "$defs": {"node": {"type": "object", "properties": {"name": S, "children": _arr({"$ref": "#/$defs/node"})},
                           "required": ["name", "children"]}},
        "$ref": "#/$defs/node",
    },
}


def _workflow_output_schemas() -> list[Path]:
    """Every LLM output schema in the repo's workflows (display schemas excluded)."""
    found = []
    for path in sorted((REPO / "workflows").glob("**/schemas/*.json")):
        text = path.read_text(encoding="utf-8")
        if "display" not in path.name and "_ux" not in text:
            found.append(path)
    return found


# ------------------------------------------------------------- the LLM


@pytest.mark.parametrize("pet", ["Cat", "Dog", "Cat & Dog"])
async def test_image_analysis_answer_is_valid_and_about_the_pet(pet):
    answer = await _answer(IMAGE_ANALYSIS, f"Analyze this image of a pet scene.\nPet Type: {pet}")
    _valid(IMAGE_ANALYSIS, answer)
    subjects = " ".join(answer["environment"]["key_subjects"]).lower()
    expected = {"Cat": ["kitten"], "Dog": ["puppy"], "Cat & Dog": ["kitten", "puppy"]}[pet]
    assert all(word in subjects for word in expected)
    if pet == "Dog":
        assert "purr" not in json.dumps(answer), "dogs don't purr"
    detected = [e["element"] for e in answer["motion_elements"]["detected_elements"]]
    assert set(detected) <= set(answer["motion_elements"]["all_potential_elements"])
    assert len(set(detected)) == len(detected)


async def test_video_prompts_animate_the_selected_and_block_the_rest():
    answer = await _answer(VIDEO_PROMPTS, STEP5_PROMPT.format(pet="Cat"))
    _valid(VIDEO_PROMPTS, answer)
    leonardo, sora = answer["prompts"]["leonardo"], answer["prompts"]["sora"]
    assert answer["scene_title"] == "The Kitten Who Caught the Sun"
    assert leonardo["motion_strength"] == "subtle"
    for element in ("sunbeam", "sheer curtain"):
        assert element in leonardo["positive_prompt"]
        assert element in sora["prompt"]
        assert f"moving {element}" not in leonardo["negative_prompt"], "a picked element must not be blocked"
    for element in ("dust motes", "potted fern", "blanket fringe"):
        assert element in leonardo["negative_prompt"]
        assert element not in leonardo["positive_prompt"]
    assert "morphing" in leonardo["negative_prompt"]
    assert "kitten" in leonardo["positive_prompt"]
    assert "window seat" in sora["prompt"]  # the analysed setting, not an invented one


async def test_video_prompts_with_a_veo_panel():
    schema = json.loads(json.dumps(VIDEO_PROMPTS))
    prompts = schema["properties"]["prompts"]
    prompts["properties"]["veo"] = _obj({"prompt": S, "negative_prompt": S})
    prompts["required"].append("veo")
    answer = await _answer(schema, STEP5_PROMPT.format(pet="Dog"))
    _valid(schema, answer)
    veo = answer["prompts"]["veo"]
    assert "sunbeam" in veo["prompt"] and "Ambient sound" in veo["prompt"]
    assert "puppy" in veo["prompt"] and "potted fern" in veo["negative_prompt"]


@pytest.mark.parametrize("name", sorted(CC_SCHEMAS))
async def test_other_cc_step_answers_are_valid(name):
    schema = CC_SCHEMAS[name]
    answer = await _answer(schema, "Pet Type: Dog\nAesthetic: Comfort & Sanctuary\nSentences per paragraph: 3")
    _valid(schema, answer)
    assert "kitten" not in json.dumps(answer)


async def test_cc_answers_read_like_the_product():
    scenes = (await _answer(CC_SCHEMAS["scenes"], "Pet Type: Cat\nAesthetic: Comfort & Sanctuary"))["scenes"]
    assert len({s["title"] for s in scenes}) == 3, "three different ideas"
    assert len({s["setting"] for s in scenes}) == 3
    for scene in scenes:
        assert scene["hook"].endswith((".", "?"))
        assert not re.search(r"\{[A-Za-z_]+\}", json.dumps(scene)), "no unfilled placeholder"
        categories = [k["category"] for k in scene["scene_keywords"]]
        assert set(categories) <= {"setting", "behavior", "object", "emotion"}
    sets = (await _answer(CC_SCHEMAS["text_overlays"], "Pet Type: Cat\nSentences per paragraph: 4"))["text_sets"]
    assert [s["set_id"] for s in sets] == ["heartfelt", "playful", "reflective"]
    for text_set in sets:
        lines = [line for p in text_set["paragraphs"] for line in p["sentences"]]
        assert all(len(p["sentences"]) == 4 for p in text_set["paragraphs"])
        assert len(set(lines)) == len(lines), "no caption line repeats within a set"
    social = await _answer(CC_SCHEMAS["titles_social"], "Pet Type: Dog")
    assert all(20 <= len(t) <= 40 for t in social["titles"])
    assert all(d["text"].endswith("....") and "🐶" in d["emojis"] for d in social["descriptions"])
    music = await _answer(CC_SCHEMAS["elevenlabs_prompts"], "**BPM:** 68\n**Key:** F major\nPet Type: Cat")
    assert "68 BPM" in music["elevenlabs_prompt_precise"] and "F major" in music["elevenlabs_prompt_precise"]
    assert music["elevenlabs_prompt_voiceover"].endswith("voiceover only")


@pytest.mark.parametrize("cc", [False, True], ids=["no_hints", "cc_hints"])
@pytest.mark.parametrize("name", sorted(GENERIC_SCHEMAS))
async def test_generic_schemas_are_filled_validly(name, cc):
    schema = GENERIC_SCHEMAS[name]
    answer = await _answer(schema, "Pet Type: Cat", cc=cc)
    _valid(schema, answer)
    assert len(json.dumps(answer)) < 20_000, "recursive schemas stop growing"


@pytest.mark.parametrize("cc", [True, False], ids=["cc_hints", "no_hints"])
@pytest.mark.parametrize("path", _workflow_output_schemas(), ids=lambda p: p.name)
async def test_every_workflow_output_schema_gets_a_valid_answer(path, cc):
    schema = json.loads(path.read_text(encoding="utf-8"))
    _valid(schema, await _answer(schema, "Pet Type: Cat & Dog\nAesthetic: Playful Chaos", cc=cc))


# A workflow someone else wrote, with no offline data of its own: only the package's generic data.
UNKNOWN_WORKFLOW = _obj({
    "headline": {"type": "string", "minLength": 10, "maxLength": 60},
    "summary": {"type": "string", "description": "2-3 sentences"},
    "vibe": {"type": "string", "enum": ["chaotic", "calm", "spooky"]},
    "shots": _arr(_obj({
        "label": {"type": "string", "maxLength": 30},
        "camera": {"type": "string", "enum": ["wide", "close", "overhead"]},
        "seconds": {"type": "integer", "minimum": 2, "maximum": 6},
        "props": _arr({"type": "string", "minLength": 3}, 2, 4),
    }), 2, 5),
    "captions": _arr({"type": "string", "maxLength": 40}, 4, 4),
    "hashtags": _arr({"type": "string", "pattern": "^#[A-Za-z0-9_]+$"}, 3, 3),
    "rating": {"type": "integer", "minimum": 1, "maximum": 5},
    "music_prompt": {"type": "string", "minLength": 40, "maxLength": 200},
    "mystery_field": S,
})


async def test_a_workflow_without_offline_data_gets_valid_generic_answers():
    request = "Pet Type: Dog\nA short video of my dog napping by the window."
    answer = await _answer(UNKNOWN_WORKFLOW, request, cc=False)
    _valid(UNKNOWN_WORKFLOW, answer)
    text = json.dumps(answer, ensure_ascii=False)
    assert not re.search(r"\{[A-Za-z_.]+\}", text), "no unfilled placeholder"
    assert "puppy" in text and "kitten" not in text, "about the request's pet"
    assert answer["vibe"] == "calm", "the cozy enum value"
    assert len(set(answer["captions"])) == 4, "distinct caption lines"
    assert all(s.strip() for s in (answer["headline"], answer["summary"], answer["mystery_field"]))
    assert await _answer(UNKNOWN_WORKFLOW, request, cc=False) == answer, "deterministic"
    # the CC workflow's own words stay in its folder
    assert "Cuddle" not in text and "heartfelt" not in text


def test_offline_writer_data_is_well_formed():
    from engine.providers.offline.writer_data import check_data, generic_data, merge

    assert check_data(generic_data()) == []
    assert check_data(merge(generic_data(), cc_offline_hints())) == []
    broken = merge(generic_data(), {"rules": [{"when": {"kee": ["x"]}, "text": "{nope} {theme.x|shout}"}]})
    problems = "; ".join(check_data(broken))
    assert "'kee'" in problems and "'nope'" in problems and "'shout'" in problems


async def test_broken_offline_data_fails_clearly():
    request = LLMRequest(messages=[LLMMessage(role="user", text="hi")], output_schema=S,
                         hints={"rules": [{"text": "{unknown_value}"}]})
    with pytest.raises(ProviderError) as caught:
        await OfflineLLM().complete(request)
    assert caught.value.kind == "invalid_request" and "unknown_value" in caught.value.detail


def test_the_engine_package_knows_no_workflow():
    package = REPO / "engine" / "providers" / "offline"
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(package.iterdir()) if p.suffix in (".py", ".json"))
    for needle in ("step 2", "step 4", "cuddle", "scene_concepts", "text_sets", "elevenlabs_prompt", "heartfelt",
                   "scene_title", "visual_moments", "motion_elements"):
        assert needle not in text.lower(), needle


async def test_answers_are_deterministic_and_feedback_changes_them():
    llm_a, llm_b = OfflineLLM(), OfflineLLM()
    request = _request(VIDEO_PROMPTS, STEP5_PROMPT.format(pet="Cat"))
    first = (await llm_a.complete(request)).text
    assert (await llm_b.complete(request)).text == first

    retry = _request(VIDEO_PROMPTS, STEP5_PROMPT.format(pet="Cat"))
    retry.messages += [LLMMessage(role="assistant", text=first),
                       LLMMessage(role="user", text="FEEDBACK FROM USER: Please generate different video prompts.")]
    second = (await llm_a.complete(retry)).text
    assert second != first
    _valid(VIDEO_PROMPTS, json.loads(second))
    assert "sunbeam" in json.loads(second)["prompts"]["leonardo"]["positive_prompt"]


async def test_feedback_that_names_a_wish_steers_the_scenes():
    base = "Pet Type: Dog\nAesthetic: Comfort & Sanctuary"
    first = await _answer(CC_SCHEMAS["scenes"], base)
    rainy = await _answer(CC_SCHEMAS["scenes"], base, "FEEDBACK FROM USER: make it a rainy day please")
    assert "rain" in rainy["scenes"][0]["setting"].lower()
    vague = await _answer(CC_SCHEMAS["scenes"], base, "FEEDBACK FROM USER: three completely different ideas")
    assert {s["setting"] for s in vague["scenes"]}.isdisjoint({s["setting"] for s in first["scenes"]})


async def test_plain_text_usage_and_metadata():
    llm = OfflineLLM()
    result = await llm.complete(_request(None, "Say something about my Dog"))
    assert "puppy" in result.text and not result.text.lstrip().startswith("{")
    assert result.model == "offline" and result.cost_usd == 0
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert llm.live is False


async def test_llm_delay_and_a_broken_schema():
    started = time.monotonic()
    await OfflineLLM(delay_s=0.2).complete(_request(None, "hi"))
    assert time.monotonic() - started >= 0.2
    for broken in ({"type": "object", "minProperties": "two"},
                   {"type": "object", "properties": {"a": {"$ref": "#/$defs/nowhere"}}, "required": ["a"]}):
        with pytest.raises(ProviderError) as caught:
            await OfflineLLM().complete(_request(broken, "hi"))
        assert caught.value.kind == "invalid_request"


async def test_analysis_of_an_offline_image_sees_what_was_drawn(tmp_path):
    provider = OfflineImageProvider("openai")
    job = await provider.submit(_image_request("a golden retriever puppy by a crackling fireplace", n=1), tmp_path)
    files = await provider.fetch(job.job_id, await provider.poll(job.job_id, job.provider_data), tmp_path)
    answer = await _answer(IMAGE_ANALYSIS, "Analyze this image of a pet scene.", image=files[0].local_path)
    assert "puppy" in " ".join(answer["environment"]["key_subjects"])
    assert "fire" in answer["environment"]["setting"].lower()


# ------------------------------------------------------------- media jobs


def _image_request(prompt: str = "a ginger kitten in a sunbeam", **params: Any) -> GenerationRequest:
    return GenerationRequest(action_type="txt2img", provider="openai", prompt=prompt, params=params)


async def _run(provider, request: GenerationRequest, out_dir: Path):
    job = await provider.submit(request, out_dir)
    status = await provider.poll(job.job_id, job.provider_data)
    assert status.state == "completed"
    return job, await provider.fetch(job.job_id, status, out_dir)


async def test_images_are_real_pngs_of_the_right_size_and_count(tmp_path):
    provider = OfflineImageProvider("leonardo")
    job, files = await _run(provider, _image_request(size="180x320", n="3"), tmp_path)
    assert len(files) == 3
    assert job.cost.is_free and provider.estimate_cost(_image_request()).is_free
    pictures = []
    for i, item in enumerate(files):
        assert item.media_type == "image" and item.url is None
        assert (item.width, item.height) == (180, 320)
        assert item.provider_item_id == f"{job.job_id}_{i}"
        assert Path(item.local_path).parent == tmp_path
        assert mime_type(item.local_path) == "image/png"
        with Image.open(item.local_path) as img:
            img.load()
            assert img.size == (180, 320)
            assert ImageStat.Stat(img.convert("L")).stddev[0] > 10, "a picture, not a flat fill"
            pictures.append(img.convert("RGB"))
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert ImageChops.difference(pictures[a], pictures[b]).getbbox() is not None, "batch items differ"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temp files left"


@pytest.mark.parametrize(
    ("params", "size", "count"),
    [
        ({"aspect_ratio": "2:3", "num_images": 1}, (854, 1280), 1),
        ({"size": "2:3", "images": "1"}, (854, 1280), 1),
        ({"width": "96", "height": "160", "n": 9}, (96, 160), 4),
        ({"width": 96, "height": 160}, (96, 160), 2),
    ],
)
async def test_image_size_and_count_params(tmp_path, params, size, count):
    _, files = await _run(OfflineImageProvider("openai"), _image_request(**params), tmp_path)
    assert len(files) == count
    assert all((f.width, f.height) == size for f in files)


async def test_jobs_survive_a_restart_and_fetch_is_idempotent(tmp_path):
    job = await OfflineImageProvider("openai").submit(_image_request(size="90x160", n=2), tmp_path)
    stored = json.loads(json.dumps({"job_id": job.job_id, "provider_data": job.provider_data}))  # as a DB would

    fresh = OfflineImageProvider("openai")  # a new process: no memory of the submit
    status = await fresh.poll(stored["job_id"], stored["provider_data"])
    assert status.state == "completed"
    first = await fresh.fetch(stored["job_id"], status, tmp_path)
    stamps = [Path(f.local_path).stat().st_mtime_ns for f in first]

    again = await OfflineImageProvider("openai").fetch(stored["job_id"], status, tmp_path)
    assert [f.model_dump() for f in again] == [f.model_dump() for f in first]
    assert [Path(f.local_path).stat().st_mtime_ns for f in again] == stamps, "not regenerated"


async def test_a_delayed_job_reports_progress_before_completing(tmp_path):
    provider = OfflineImageProvider("openai", delay_s=0.5)
    job = await provider.submit(_image_request(size="90x160", n=1), tmp_path)
    status = await provider.poll(job.job_id, job.provider_data)
    assert status.state == "running"
    assert status.progress is not None and 0 <= status.progress < 100
    with pytest.raises(ProviderError):
        await provider.fetch(job.job_id, status, tmp_path)
    await asyncio.sleep(0.3)
    later = await provider.poll(job.job_id, job.provider_data)
    assert later.state == "running" and later.progress > status.progress
    await asyncio.sleep(0.3)
    done = await OfflineImageProvider("openai").poll(job.job_id, job.provider_data)  # delay travels with the job
    assert done.state == "completed" and done.progress == 100
    assert len(await provider.fetch(job.job_id, done, tmp_path)) == 1


async def test_bad_jobs_fail_clearly(tmp_path):
    provider = OfflineImageProvider("openai")
    status = await provider.poll("off_x", {"submitted_at": "yesterday"})
    assert status.state == "failed" and status.error
    with pytest.raises(ProviderError) as caught:
        await provider.submit(GenerationRequest(action_type="img2vid", provider="openai"), tmp_path)
    assert caught.value.kind == "invalid_request"
    with pytest.raises(ProviderError):
        await provider.fetch("off_x", JobStatus(state="completed", provider_data={}), tmp_path)


async def _video(tmp_path: Path, provider: OfflineVideoProvider, source: str | None, **params: Any):
    request = GenerationRequest(action_type="img2vid", provider="leonardo", prompt="a kitten in a sunbeam",
                                source_image_path=source, params=params)
    _, files = await _run(provider, request, tmp_path)
    assert len(files) == 1
    return files[0], await probe(files[0].local_path)


@pytest.fixture
async def still(tmp_path) -> str:
    _, files = await _run(OfflineImageProvider("openai"), _image_request(size="180x320", n=1), tmp_path)
    return files[0].local_path


async def test_video_is_a_real_h264_clip_with_motion(tmp_path, still):
    item, info = await _video(tmp_path, OfflineVideoProvider("leonardo"), still, width=180, height=320, duration="2")
    assert item.media_type == "video" and item.duration_s == pytest.approx(2, abs=0.1)
    assert info.video_codec == "h264" and (info.width, info.height) == (180, 320)
    assert info.duration_s == pytest.approx(2.0, abs=0.1) and info.fps == pytest.approx(24)
    assert not info.has_audio, "Leonardo Motion clips are silent"
    data = Path(item.local_path).read_bytes()
    assert data.find(b"moov") < data.find(b"mdat"), "+faststart puts the index first"
    proc = await asyncio.create_subprocess_exec(ffmpeg_exe(), "-hide_banner", "-i", item.local_path,
                                                stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    assert b"yuv420p" in err
    first = await extract_frame(item.local_path, 0.0, tmp_path / "f0.png")
    middle = await extract_frame(item.local_path, 1.0, tmp_path / "f1.png")
    with Image.open(first) as a, Image.open(middle) as b:
        assert ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is not None, "it moves"


@pytest.mark.parametrize(
    ("name", "model", "audio"),
    [("leonardo", "VEO3FAST", True), ("sora", "", True), ("veo", "", True), ("leonardo", "MOTION2", False)],
)
async def test_video_carries_audio_only_for_veo_and_sora(tmp_path, still, name, model, audio):
    _, info = await _video(tmp_path, OfflineVideoProvider(name), still, size="180x320", seconds="1", model=model)
    assert info.has_audio is audio
    if audio:
        assert info.audio_codec == "aac"
    assert info.duration_s == pytest.approx(1.0, abs=0.1)


async def test_video_fits_any_source_and_works_without_one(tmp_path):
    wide = tmp_path / "wide.jpg"
    Image.new("RGB", (400, 200), (200, 120, 90)).save(wide)
    _, info = await _video(tmp_path, OfflineVideoProvider("sora"), str(wide), aspect_ratio="9:16",
                           resolution="180p", duration=1)
    assert (info.width, info.height) == (180, 320)
    _, info = await _video(tmp_path, OfflineVideoProvider("leonardo"), None, width=90, height=160, duration=40)
    assert info.duration_s == pytest.approx(20, abs=0.1), "duration is clamped to 20 s"


async def test_video_with_a_missing_source_is_refused(tmp_path):
    request = GenerationRequest(action_type="img2vid", provider="leonardo", source_image_path=str(tmp_path / "x.png"))
    with pytest.raises(ProviderError) as caught:
        await OfflineVideoProvider("leonardo").submit(request, tmp_path)
    assert caught.value.kind == "invalid_request"


async def _mean_volume(path: str) -> float:
    proc = await asyncio.create_subprocess_exec(ffmpeg_exe(), "-hide_banner", "-i", path, "-af", "volumedetect",
                                                "-f", "null", "-", stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    line = next(x for x in err.decode().splitlines() if "mean_volume" in x)
    return float(line.split("mean_volume:")[1].split("dB")[0])


@pytest.mark.parametrize(
    ("hint", "params", "seconds"),
    [(3.0, {"bpm": "90", "key": "A minor"}, 3.0), (None, {"music_length_ms": "4000"}, 4.0), (1.0, {}, 3.0)],
)
async def test_music_is_a_real_mp3_of_the_asked_length(tmp_path, hint, params, seconds):
    request = GenerationRequest(action_type="txt2audio", provider="elevenlabs", prompt="gentle lullaby",
                                params=params, duration_hint_s=hint)
    _, files = await _run(OfflineMusicProvider("elevenlabs"), request, tmp_path)
    item = files[0]
    info = await probe(item.local_path)
    assert item.media_type == "audio" and item.local_path.endswith(".mp3")
    assert info.has_audio and not info.has_video and info.audio_codec == "mp3"
    assert info.duration_s == pytest.approx(seconds, abs=0.2)
    assert item.duration_s == pytest.approx(seconds, abs=0.2)
    assert await _mean_volume(item.local_path) > -40, "audible, not silence"


def test_offline_registry_builds_every_stand_in():
    registry = offline_registry(delay_s=0.1)
    assert isinstance(registry.llm(), OfflineLLM)
    assert registry.all_offline
    for provider, action in [("openai", "txt2img"), ("leonardo", "img2vid"), ("openai", "img2vid"),
                             ("elevenlabs", "txt2audio")]:
        impl = registry.media(provider, action)
        assert impl is not None and action in impl.actions and impl.live is False
