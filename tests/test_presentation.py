"""The neutral presentation (engine.presentation) both front ends show: rows,
labels, values, options and pages, media form state, contents and progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.presentation import (
    Row,
    choice_bounds,
    content_facts,
    display_templates,
    format_value,
    generated_contents,
    index_badges,
    is_hidden,
    item_rows,
    item_title,
    job_progress,
    media_context,
    next_param_choice,
    option_number,
    paginate,
    panel_params,
    panel_settings,
    panel_view,
    param_values,
    params_signature,
    preview_media,
    section_label,
    selectable_items,
    selection_indices,
    short_hash,
    shorten,
    status_rows,
)
from engine.protocol import ContentItem, Generation, InteractionType, JobView, MediaDisplay, ParamField, SelectDisplay
from engine.templating import TemplateEngine
from tests.display_samples import MOTION_DATA, MOTION_SCHEMA, SCENES_DATA, SCENES_SCHEMA, VIDEO_PROMPTS, VIDEO_SCHEMA
from tests.display_samples import every_display_schema, load_sample, media_nodes, media_request, panels_for, request

# ------------------------------------------------------------------ rows and values


def test_selectable_items_follow_the_schema() -> None:
    paths = [p for p, _, _ in selectable_items(MOTION_DATA, MOTION_SCHEMA)]
    assert paths == [["detected", 0], ["detected", 1], ["detected", 2], ["detected", 3]]
    assert [p for p, _, _ in selectable_items(SCENES_DATA, SCENES_SCHEMA)] == [["scenes", 0], ["scenes", 1], ["scenes", 2]]
    cards = [{"id": "cat", "label": "Cat"}, {"id": "dog", "label": "Dog"}]
    assert [p for p, _, _ in selectable_items(cards, {"type": "array", "items": {"_ux.selectable": True}})] == [[0], [1]]
    # nothing marked selectable: the first array found
    assert [p for p, _, _ in selectable_items({"meta": "x", "ideas": ["a", "b"]}, {})] == [["ideas", 0], ["ideas", 1]]


def test_item_title_and_rows_use_ux_hints() -> None:
    (_, item, schema) = selectable_items(MOTION_DATA, MOTION_SCHEMA)[0]
    assert item_title(item, schema) == "Steam from the teacup"
    rows = item_rows(item, schema)
    assert rows == [Row("Motion Type", "rising wisps", "field"), Row("Location", "table, left", "field")]
    # the title is the label, not repeated

    (_, scene, scene_schema) = selectable_items(SCENES_DATA, SCENES_SCHEMA)[0]
    assert item_title(scene, scene_schema) == "Window Seat Snow Day 1"
    rows = item_rows(scene, scene_schema)
    assert Row("Hook", "A kitten discovers snow through glass.", "subtitle") in rows  # card-subtitle
    assert Row("Moments", "paw on glass, tail flick, slow blink", "field") in rows  # list joined
    assert Row("Setting", "Place: cosy window seat, Time: winter morning", "field") in rows  # nested summarised
    assert [r.label for r in rows] == ["Hook", "Story", "Moments", "Pet focus", "Arc", "Setting"]  # schema order
    assert not any("snow" in r.text for r in rows[-1:]) and not any("weight" in r.text for r in rows)  # hidden

    long_title = {"title": "A" * 100}
    assert len(item_title(long_title, {"properties": {"title": {"_ux.render_as": "card-title"}}})) <= 40
    assert item_title("plain string item", {}) == "plain string item"
    fmt = {"properties": {"tags": {"_ux.display_format": "{{ value | join(' / ') }}", "_ux.display_label": "Tags"}}}
    assert Row("Tags", "a / b", "field") in item_rows({"name": "x", "tags": ["a", "b"]}, fmt)


def test_item_rows_highlight_passthrough_and_include_title() -> None:
    (_, item, schema) = selectable_items(MOTION_DATA, MOTION_SCHEMA)[0]
    # with the title included it is one more labelled row, highlighted as its schema says
    assert item_rows(item, schema, include_title=True)[0] == Row("Element", "Steam from the teacup", "highlight")
    nested = {
        "properties": {
            "name": {"_ux.render_as": "card-title"},
            "details": {"_ux.display": "passthrough", "properties": {"mood": {"_ux.display_label": "Mood"}}},
        }
    }
    rows = item_rows({"name": "Mochi", "details": {"mood": "cozy"}}, nested)
    assert rows == [Row("Mood", "cozy", "field")]  # passthrough flattened, no "Details" row
    assert item_rows("just text", {}, include_title=True) == [Row("", "just text", "text")]
    assert item_rows("just text", {}) == [] and item_rows(item, schema, field_limit=0) == []
    unknown = {"a_key": "one", "_private": "x", "n": 3}  # no schema: every visible key, humanised
    assert item_rows(unknown, {}, include_title=True) == [Row("A key", "one"), Row("N", "3")]


def test_hidden_fields_and_labels() -> None:
    assert is_hidden("_text", {}) and is_hidden("x", {"_ux.display": False})
    assert all(is_hidden("x", {"_ux": {"display": v}}) for v in ("false", "hidden", "None"))
    assert not is_hidden("x", {"_ux.display": "visible"}) and not is_hidden("x", {})
    titled = {"properties": {"pet_type": {"title": "Pet"}, "mood_id": {}}}
    assert item_rows({"pet_type": "cat", "mood_id": "cozy"}, titled, include_title=True) == [
        Row("Pet", "cat"),
        Row("Mood id", "cozy"),
    ]


def test_format_value_and_display_format() -> None:
    assert format_value(True) == "yes" and format_value(None) == "" and format_value(2.5) == "2.5"
    assert format_value([{"title": "A"}, {"title": "B"}], {"items": {}}) == "A; B"  # objects by their titles
    assert format_value(12.345, {"_ux.display_format": "{value:.1f} s"}) == "12.3 s"
    assert format_value("x", {"_ux.display_format": "{{ value | nosuchfilter }}"}) == "x"  # bad hint: plain value
    assert format_value("x", {"_ux.display_format": "no placeholder"}) == "x"
    assert format_value("a b c d e f", {}, limit=7) == "a b c…"
    assert display_templates() is display_templates()  # one sandboxed engine, made once

    class Counting(TemplateEngine):
        calls = 0

        def render_text(self, *args: Any, **kwargs: Any) -> str:
            Counting.calls += 1
            return super().render_text(*args, **kwargs)

    mine = Counting()
    fmt = {"properties": {"tags": {"_ux.display_format": "{{ value | length }} tags"}}}
    assert item_rows({"tags": ["a", "b"]}, fmt, include_title=True, templates=mine) == [Row("Tags", "2 tags")]
    assert item_title({"tags": ["a"]}, fmt, templates=mine) == "Tags: 1 tags" and Counting.calls == 2


def test_shorten() -> None:
    assert shorten("  a\n\n b  ", 10) == "a b"
    assert shorten("word " * 20, 20).endswith("…") and len(shorten("word " * 20, 20)) <= 20
    assert shorten("x" * 50, 10) == "x" * 9 + "…" and shorten("x", 0) == "" and shorten(None, 5) == ""


def test_status_rows() -> None:
    lines = status_rows([[("Pet", "Cat"), ("Mood", "Cozy <3")], [("Scene", "Snow " * 100)], [], [("X", "")]], "Step 2")
    assert lines[0] == [Row("", "Step 2", "title")]
    assert lines[1] == [Row("Pet", "Cat", "highlight"), Row("Mood", "Cozy <3", "highlight")]  # never escaped
    assert len(lines) == 3 and len(lines[2][0].text) <= 120


# ------------------------------------------------------------------------ choices


def test_selection_indices_and_bounds() -> None:
    disp = SelectDisplay(data=MOTION_DATA, schema=MOTION_SCHEMA, multi_select=True, min_selections=1, max_selections=3)
    req = request(disp, InteractionType.SELECT)
    assert selection_indices(req, {0, 2, 2, 99}) == [["detected", 0], ["detected", 2]]
    single = request(SelectDisplay(data=SCENES_DATA, schema=SCENES_SCHEMA), InteractionType.SELECT)
    assert selection_indices(single, {1}) == ["scenes", 1]  # single select: unwrapped path
    assert [choice_bounds(*b) for b in ((1, 3), (2, 2), (0, 3), (1, None), (0, None))] == [
        "1–3",
        "exactly 2",
        "up to 3",
        "at least 1",
        "any number",
    ]


def test_section_label_and_index_badges() -> None:
    motion = selectable_items(MOTION_DATA, MOTION_SCHEMA)
    scenes = selectable_items(SCENES_DATA, SCENES_SCHEMA)
    assert section_label(MOTION_SCHEMA, motion) == "Detected Motion Elements"
    assert section_label(SCENES_SCHEMA, scenes) == "Scene ideas" and section_label({}, []) == ""
    assert index_badges(motion) and not index_badges(scenes)
    assert option_number(0, True) == "#1" and option_number(4, False) == "5."


def test_paging_maths() -> None:
    first = paginate(150, 0, 60)
    assert (first.number, first.count, first.start, first.stop) == (0, 3, 0, 60)
    assert first.has_next and not first.has_previous
    last = paginate(150, 2, 60)
    assert (last.start, last.stop, last.has_next, last.has_previous) == (120, 150, False, True)
    assert paginate(150, 99, 60).number == 2 and paginate(150, -1, 60).number == 0  # clamped
    empty = paginate(0, 3, 60)
    assert (empty.number, empty.count, empty.start, empty.stop) == (0, 1, 0, 0)


def test_preview_media_kinds_are_neutral() -> None:
    schema = {
        "properties": {
            "video": {"_ux": {"render_as": "video", "display_label": "Your video"}, "properties": {}},
            "cover": {"_ux": {"render_as": "image", "media_field": "path"}},
            "song": {"_ux.render_as": "audio"},
            "missing": {"_ux.render_as": "video"},
        }
    }
    data = {"video": {"local_path": "/v.mp4"}, "cover": {"path": "/c.png"}, "song": "/s.mp3", "missing": None}
    assert [(p.kind, p.path, p.label) for p in preview_media(data, schema)] == [
        ("video", "/v.mp4", "Your video"),
        ("image", "/c.png", ""),
        ("audio", "/s.mp3", ""),
    ]


# --------------------------------------------------------------------------- media


def test_param_choices_cycle() -> None:
    disp = media_request().display_data
    assert isinstance(disp, MediaDisplay)
    veo = disp.panels[1]
    duration = next(i for i, f in enumerate(veo.fields) if f.source_name == "duration")
    overrides = next_param_choice(veo, duration, {})
    assert overrides == {"duration": "4"}  # 8 -> wraps to 4
    assert next_param_choice(veo, duration, overrides) == {"duration": "6"}
    assert next_param_choice(veo, duration, overrides, value_index=2) == {"duration": "8"}
    assert next_param_choice(veo, duration, overrides, value_index=9) == overrides  # out of range: unchanged
    assert next_param_choice(veo, 99, overrides) == overrides
    assert param_values(disp.panels[0].fields[2]) == list(range(1, 11))
    wide = ParamField(name="w", source_name="w", title="Weird", type="integer", minimum=0, maximum=3000, value=250)
    assert len(param_values(wide)) <= 7 and 250 in param_values(wide) and param_values(wide)[-1] == 3000


def test_params_signature_and_settings() -> None:
    disp = media_request().display_data
    assert isinstance(disp, MediaDisplay)
    veo = disp.panels[1]
    assert panel_params(veo, {"duration": "4"})["duration"] == "4" and panel_params(veo)["duration"] == "8"
    before, after = params_signature(panel_params(veo)), params_signature(panel_params(veo, {"duration": "4"}))
    assert before != after and len(before) == 4 and before == params_signature(dict(reversed(panel_params(veo).items())))
    settings = panel_settings(veo, {"duration": "4"})
    assert [(s.title, s.value) for s in settings] == [("Duration", "4 seconds"), ("Resolution", "720p")]
    assert [veo.fields[s.index].source_name for s in settings] == ["duration", "resolution"]  # no textarea
    assert short_hash("gc_x") == short_hash("gc_x") and len(short_hash("gc_x")) == 6 and short_hash("a") != short_hash("b")


def test_panel_view() -> None:
    disp = media_request(jobs=[JobView(job_id="j", interaction_id="med_0190abc", prompt_key="veo", provider="leonardo",
                                       action_type="img2vid", status="running")]).display_data  # fmt: skip
    assert isinstance(disp, MediaDisplay)
    leonardo = panel_view(disp, disp.panels[0], {}, 700)
    assert leonardo.usable and leonardo.availability == "" and leonardo.price == "~200 credits" and not leonardo.jobs
    assert leonardo.prompt == Row("Prompt", VIDEO_PROMPTS["leonardo"]["positive_prompt"])
    assert leonardo.rows == [Row("Motion", "subtle"), Row("Notes", "Only the steam and curtain move.", "highlight")]
    assert [(s.title, s.value) for s in leonardo.settings] == [("Motion Strength", "5")]
    assert panel_view(disp, disp.panels[1], {"duration": "4"}, 700).settings[0].value == "4 seconds"
    veo = panel_view(disp, disp.panels[1], {}, 700)
    assert veo.availability == "offline (test files)" and [j.job_id for j in veo.jobs] == ["j"]
    sora = panel_view(disp, disp.panels[2], {}, 700)
    assert not sora.usable and sora.availability == "unavailable" and sora.price == ""
    assert sora.note == "Sora 2 was shut down on 2026-09-24."
    tight = panel_view(disp, disp.panels[0], {}, 0)
    assert tight.prompt is None and tight.rows == []


def test_media_context_leaves_out_the_panels() -> None:
    schema = {
        "properties": {
            "scene_title": {"_ux": {"display_label": "Scene", "render_as": "section-title"}},
            "key_moment": {"_ux": {"display_label": "Key moment", "render_as": "section-summary"}},
            "mood": {"_ux": {"display_label": "Mood", "highlight": True}},
            "notes": {"_ux.display": False},
            "prompts": {"properties": {"openai": VIDEO_SCHEMA["properties"]["sora"]}},
        }
    }
    data = {"scene_title": "Snow day", "key_moment": "A paw on glass", "mood": "cozy", "notes": "x", "prompts": {}}
    disp = MediaDisplay(data=data, schema=schema)
    assert media_context(disp, 300) == [
        Row("Scene", "Snow day", "title"),
        Row("Key moment", "A paw on glass", "subtitle"),
        Row("Mood", "cozy", "highlight"),
    ]


def test_generated_contents_are_numbered_once(tmp_path: Path) -> None:
    def content(n: int) -> ContentItem:
        return ContentItem(content_id=f"gc_{n}", media_type="video", local_path=str(tmp_path / f"{n}.mp4"),
                           metadata_id=f"job_{n}", prompt_key="leonardo", provider="eleven_labs", width=720,
                           height=1280, duration_s=5.0)  # fmt: skip

    generations = {
        "leonardo": [Generation(metadata_id="job_1", contents=[content(1), content(2)]),
                     Generation(metadata_id="job_1b", contents=[content(2)])],  # the same file twice: shown once
        "veo": [Generation(metadata_id="job_3", content_ids=["gc_legacy", "gc_nourl"], urls=["https://cdn/3.mp4"])],
    }  # fmt: skip
    shown = generated_contents(MediaDisplay(data={}, schema={}, generations=generations))
    assert [(c.number, c.content_id, c.prompt_key) for c in shown] == [
        (1, "gc_1", "leonardo"),
        (2, "gc_2", "leonardo"),
        (3, "gc_legacy", "veo"),
        (4, "gc_nourl", "veo"),
    ]
    assert [c.url for c in shown[2:]] == ["https://cdn/3.mp4", None] and shown[2].item is None
    assert all(c.key == short_hash(c.content_id) for c in shown) and len({c.key for c in shown}) == 4
    assert content_facts(shown[0]) == ["#1", "Eleven Labs", "5 s", "720×1280"]
    assert content_facts(shown[0], "Leonardo") == ["#1", "Leonardo", "5 s", "720×1280"]


def test_job_progress_lines() -> None:
    job = JobView(job_id="j", interaction_id="i", prompt_key="leonardo", provider="leonardo", action_type="img2vid",
                  status="running", progress=0.4)  # fmt: skip
    assert job_progress(job) == "⏳ Leonardo: rendering… 40%"
    assert job_progress(job.model_copy(update={"progress": 75})) == "⏳ Leonardo: rendering… 75%"
    assert job_progress(job.model_copy(update={"status": "submitted", "progress": None})) == "⏳ Leonardo: queued…"
    done = job.model_copy(update={"status": "completed", "content_ids": ["a"]})
    assert job_progress(done) == "✅ Leonardo: done (1 file)"
    assert job_progress(done, "Veo 3.1") == "✅ Veo 3.1: done (1 file)"
    failed = job.model_copy(update={"status": "failed", "error": "insufficient <credits>.", "retryable_error": True})
    assert job_progress(failed) == "⚠️ Leonardo: failed: insufficient <credits>. You can try again."  # plain text
    assert job_progress(job.model_copy(update={"provider": "openai", "status": "cancelled"})) == "✖️ OpenAI: cancelled"


# ------------------------------------------------- every display schema in the repo


@pytest.mark.parametrize("path", every_display_schema())
def test_every_workflow_display_schema_presents(path: Path) -> None:
    schema, data = load_sample(path)
    if media_nodes(schema):
        disp = MediaDisplay(data=data, schema=schema, panels=panels_for(schema, data, {}))
        views = [panel_view(disp, p, {}, 700) for p in disp.panels]
        assert views and all(v.usable for v in views)
        rows = media_context(disp, 300) + [r for v in views for r in v.rows]
    else:
        items = selectable_items(data, schema)
        rows = [r for _, item, sub in items for r in item_rows(item, sub)] or item_rows(data, schema, include_title=True)
        assert all(item_title(item, sub) for _, item, sub in items)
    assert all(r.text for r in rows)  # never an empty row
