"""Protocol -> Telegram message specs (bot.render), from the spec's real display schemas."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from bot import callbacks
from bot.render.html import tg_len
from bot.render import (
    OutMessage,
    fit_caption,
    generated_contents,
    item_html,
    next_param_choice,
    panel_params,
    params_signature,
    preview_media,
    render_contents,
    render_job_progress,
    render_media,
    render_request,
    render_select,
    render_status,
    render_text_input,
    selectable_items,
    selection_indices,
    split_text,
)
from bot.render.html import row_html
from engine.presentation import Row, job_progress
from engine.protocol import (
    ContentItem,
    Generation,
    InteractionType,
    JobView,
    MediaDisplay,
    SelectDisplay,
    TextInputDisplay,
)
from tests.display_samples import (
    MOTION_DATA,
    MOTION_SCHEMA,
    RETRY_SCENES,
    RETRY_VIDEO,
    SCENES_DATA,
    SCENES_SCHEMA,
    VIDEO_PROMPTS,
    VIDEO_SCHEMA,
    every_display_schema,
    load_sample,
    media_nodes,
    media_request,
    panels_for,
    request,
)
from tests.fakes.telegram_server import parse_html

SECRET = "render-test-secret"


def _check_limits(messages: list[OutMessage]) -> None:
    """Every message would be accepted by Telegram (and by the fake server)."""
    assert messages
    for m in messages:
        limit = 1024 if m.kind in ("photo", "video", "document") else 4096
        plain, _ = parse_html(m.text)  # valid Telegram HTML
        assert len(m.text) <= limit and len(plain) <= limit
        assert plain.strip()
        assert sum(len(r) for r in m.buttons) <= 100
        for row in m.buttons:
            assert 1 <= len(row) <= 8
            for b in row:
                assert b.text.strip()
                assert len(b.callback_data.encode("utf-8")) <= 64
                assert callbacks.decode(b.callback_data, SECRET) is not None
        if m.placeholder is not None:
            assert 1 <= len(m.placeholder) <= 64
        for caption in m.captions:
            assert len(caption) <= 1024


def _buttons(messages: list[OutMessage]) -> list[tuple[str, callbacks.CallbackData]]:
    out = []
    for m in messages:
        for b in m.all_buttons():
            decoded = callbacks.decode(b.callback_data, SECRET)
            assert decoded is not None
            out.append((b.text, decoded))
    return out


# ------------------------------------------------------------------ selection


def test_item_html_marks_up_the_rows() -> None:
    (_, item, schema) = selectable_items(MOTION_DATA, MOTION_SCHEMA)[0]
    details = item_html(item, schema)
    assert "<i>Motion Type:</i> rising wisps" in details and "<i>Location:</i> table, left" in details
    assert "Steam from the teacup" not in details  # the title is the label, not repeated
    assert item_html(item, schema, include_title=True).startswith("<i>Element:</i> <b>Steam from the teacup</b>\n")

    (_, scene, scene_schema) = selectable_items(SCENES_DATA, SCENES_SCHEMA)[0]
    details = item_html(scene, scene_schema)
    assert "<i>A kitten discovers snow through glass.</i>" in details  # card-subtitle
    assert "<i>Moments:</i> paw on glass, tail flick, slow blink" in details  # list joined
    assert "<i>Setting:</i> Place: cosy window seat, Time: winter morning" in details  # nested summarised
    assert "snow" not in details.split("Setting")[1] and "weight" not in details  # display false hidden

    fmt = {"properties": {"tags": {"_ux.display_format": "{{ value | join(' / ') }}", "_ux.display_label": "Tags"}}}
    assert "<i>Tags:</i> a / b" in item_html({"name": "x", "tags": ["a", "b"]}, fmt)
    assert item_html("<plain> & item", {}, include_title=True) == "&lt;plain&gt; &amp; item"


def test_row_html() -> None:
    assert row_html(Row("Scene", "Snow <day>", "title")) == "<b>Snow &lt;day&gt;</b>"
    assert row_html(Row("Hook", "A & B", "subtitle")) == "<i>A &amp; B</i>"
    assert row_html(Row("Mood", "cozy", "highlight")) == "<i>Mood:</i> <b>cozy</b>"
    assert row_html(Row("<L>", "v")) == "<i>&lt;L&gt;:</i> v" and row_html(Row("", "<t>", "text")) == "&lt;t&gt;"


def test_preview_media_sends_by_telegram_kind() -> None:
    schema = {"properties": {"v": {"_ux.render_as": "video"}, "i": {"_ux.render_as": "image"},
                             "a": {"_ux.render_as": "audio"}, "m": {"_ux.render_as": "media", "_ux.display_label": "<x>"}}}
    previews = preview_media({"v": "/v", "i": "/i", "a": "/a", "m": "/m"}, schema)
    assert [(p.kind, p.path) for p in previews] == [("video", "/v"), ("photo", "/i"), ("audio", "/a"), ("document", "/m")]
    assert previews[-1].label == "<x>"  # escaped by whoever captions it


def test_multi_select_toggles_hint_and_done() -> None:
    disp = SelectDisplay(data=MOTION_DATA, schema=MOTION_SCHEMA, multi_select=True, min_selections=1, max_selections=3)
    req = request(disp, InteractionType.SELECT, "Select motion elements to animate in your video")
    messages = render_select(req, {0, 2}, SECRET)
    _check_limits(messages)
    text = messages[-1].text
    assert "Detected Motion Elements" in text and "Choose 1–3" in text and "Selected: 2" in text
    assert "✅ <b>#1 Steam from the teacup</b>" in text and "▫️ <b>#2 Curtain</b>" in text
    buttons = _buttons(messages)
    toggles = [(t, d) for t, d in buttons if d.action == "toggle"]
    assert [t for t, _ in toggles] == ["✅ 1. Steam from the teacup", "▫️ 2. Curtain", "✅ 3. Candle flame", "▫️ 4. Falling snow"]
    assert [d.arg for _, d in toggles] == ["0", "1", "2", "3"] and all(d.matches(req.interaction_id) for _, d in toggles)
    assert ("Done (2 selected)", "confirm") in [(t, d.action) for t, d in buttons]
    assert selection_indices(req, {0, 2}) == [["detected", 0], ["detected", 2]]

    unbounded = render_select(request(disp.model_copy(update={"max_selections": None}), InteractionType.SELECT), set(), SECRET)
    assert "Choose at least 1" in unbounded[-1].text and "Done (0 selected)" in [b.text for b in unbounded[-1].all_buttons()]


def test_single_select_with_retry_option() -> None:
    disp = SelectDisplay(data=SCENES_DATA, schema=SCENES_SCHEMA, retryable=RETRY_SCENES)
    req = request(disp, InteractionType.SELECT, "Choose a scene", step_id="scene_generation")
    messages = render_select(req, None, SECRET)
    _check_limits(messages)
    buttons = _buttons(messages)
    picks = [(t, d.arg) for t, d in buttons if d.action == "pick"]
    assert picks == [("1. Window Seat Snow Day 1", "0"), ("2. Window Seat Snow Day 2", "1"), ("3. Window Seat Snow Day 3", "2")]
    options = [(t, d.arg) for t, d in buttons if d.action == "opt"]
    assert len(options) == 1 and "Give me three different ideas" in options[0][0] and options[0][1] == "1"
    assert not any("Use this scene" in t for t, _ in buttons)  # continuing = tapping an option
    assert selection_indices(req, {1}) == ["scenes", 1]  # single select: unwrapped path
    assert len(messages) == 1 and tg_len(messages[0].text) <= 1000, "the question reads in one glance"
    assert "Scene ideas" in messages[0].text and "Story:" not in messages[0].text
    assert "A kitten discovers snow" in messages[0].text, "each option's one-line summary"
    (info,) = [d for _, d in buttons if d.action == "info"]
    assert info.arg == "1", "the details one tap away"
    detailed = render_select(req, None, SECRET, details=True)
    _check_limits(detailed)
    assert len(detailed) == 1 and "Story:" in detailed[0].text
    assert [d.arg for _, d in _buttons(detailed) if d.action == "info"] == ["0"]  # back to the short list
    assert [t for t, d in _buttons(detailed) if d.action == "pick"] == [t for t, _ in picks]


def test_review_mode_shows_content_and_options_only() -> None:
    disp = SelectDisplay(data=SCENES_DATA, schema=SCENES_SCHEMA, mode="review", retryable=RETRY_SCENES, min_selections=0)
    messages = render_select(request(disp, InteractionType.REVIEW, "Review"), None, SECRET)
    _check_limits(messages)
    actions = [d.action for _, d in _buttons(messages)]
    assert actions == ["info", "opt", "opt"], "the details one tap away, then the options"
    assert "Use this scene" in messages[-1].buttons[1][0].text
    # a review of a plain object, nothing selectable, no retryable: content + Continue
    summary = {"title": "My video", "caption": "Snow day!", "secret_notes": "x"}
    schema = {"properties": {"title": {}, "caption": {"_ux.display_label": "Caption"}, "secret_notes": {"_ux.display": False}}}
    messages = render_select(request(SelectDisplay(data=summary, schema=schema, mode="review"), InteractionType.REVIEW), None, SECRET)
    assert "Snow day!" in messages[-1].text and "secret_notes" not in messages[-1].text and "x\n" not in messages[-1].text
    assert [(b.text, callbacks.decode(b.callback_data, SECRET).action) for b in messages[-1].all_buttons()] == [("✔️ Continue", "confirm")]  # type: ignore[union-attr]


def test_rendering_ignores_step_ids_and_state_keys() -> None:
    disp = SelectDisplay(data=SCENES_DATA, schema=SCENES_SCHEMA, retryable=RETRY_SCENES)
    one = render_select(request(disp, InteractionType.SELECT), None, SECRET)
    other = render_select(request(disp, InteractionType.SELECT, step_id="zzz", module_name="yyy"), None, SECRET)
    assert one == other


def test_thirty_huge_options_never_break_limits() -> None:
    huge = {
        "scenes": [
            {
                "title": f"Idea {n} " + "very long title " * 20,
                "hook": "h" * 3000,
                "narrative": ("A sentence about the cat. " * 400)[:10_000],
                "visual_moments": ["moment " * 50] * 10,
                "pet_behavior": "<script>alert('x')</script> & more " * 80,
            }
            for n in range(30)
        ]
    }
    for multi in (False, True):
        disp = SelectDisplay(data=huge, schema=SCENES_SCHEMA, multi_select=multi, max_selections=5 if multi else None,
                             retryable=RETRY_SCENES)  # fmt: skip
        messages = render_select(request(disp, InteractionType.SELECT, "<b>Pick</b> " * 500), set(range(0, 30, 3)), SECRET)
        _check_limits(messages)
        assert len(messages) <= 3
        assert "<script>" not in "".join(m.text for m in messages)
        action = "toggle" if multi else "pick"
        assert sorted(int(d.arg) for _, d in _buttons(messages) if d.action == action) == list(range(30))
        assert all(m.buttons == [] for m in messages[:-1])  # the keyboard sits under the last message


def test_very_long_lists_are_paged() -> None:
    items = [{"name": f"Option {n}"} for n in range(150)]
    disp = SelectDisplay(data=items, schema={"type": "array", "items": {"_ux.selectable": True}})
    req = request(disp, InteractionType.SELECT)
    first = render_select(req, None, SECRET)
    _check_limits(first)
    picks = [int(d.arg) for _, d in _buttons(first) if d.action == "pick"]
    assert picks == list(range(60))
    nxt = [d for _, d in _buttons(first) if d.action == "page"]
    assert [d.arg for d in nxt] == ["1"]
    last = render_select(req, None, SECRET, page=2)
    assert [int(d.arg) for _, d in _buttons(last) if d.action == "pick"] == list(range(120, 150))


def test_html_is_escaped_everywhere() -> None:
    evil = {"detected": [{"element": "<script>alert(1)</script>", "motion_type": "a & b < c", "location": "<b>bold?</b>"}]}
    disp = SelectDisplay(data=evil, schema=MOTION_SCHEMA, multi_select=True)
    req = request(disp, InteractionType.SELECT, "<i>title</i>", step_name="Step <5>")
    messages = render_select(req, None, SECRET)
    _check_limits(messages)
    text = messages[0].text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "a &amp; b &lt; c" in text
    assert "&lt;i&gt;title&lt;/i&gt;" in text and "Step &lt;5&gt;" in text
    plain, _ = parse_html(text)
    assert "<script>alert(1)</script>" in plain  # shown literally to the person


# ------------------------------------------------------------------ text input


def test_text_input_force_reply_placeholder_and_skip() -> None:
    disp = TextInputDisplay(prompt="Anything special? (pet name, mood)", allow_empty=True, placeholder="x" * 200)
    messages = render_text_input(request(disp, InteractionType.TEXT_INPUT, "Any direction?"), SECRET)
    _check_limits(messages)
    assert len(messages) == 1, "one message: the prompt and its Skip button"
    assert "Anything special?" in messages[0].text and "Any direction?" in messages[0].text
    assert [(t, d.action) for t, d in _buttons(messages)] == [("Skip", "skip")]

    with_default = TextInputDisplay(prompt="Name?", default_value="Mochi <3", allow_empty=True)
    messages = render_text_input(request(with_default, InteractionType.TEXT_INPUT, "Name?"), SECRET)
    _check_limits(messages)
    assert [(t, d.action) for t, d in _buttons(messages)] == [("Use default", "text-default")]
    assert len(messages) == 1 and "Mochi &lt;3" in messages[0].text

    required = TextInputDisplay(prompt="Name?", allow_empty=False, placeholder="x" * 200)
    messages = render_text_input(request(required, InteractionType.TEXT_INPUT, "Name?"), SECRET)
    assert len(messages) == 1 and messages[0].buttons == [] and messages[0].force_reply
    assert len(messages[0].placeholder or "") <= 64


# ------------------------------------------------------------------------ media


def test_media_panels_buttons_and_availability() -> None:
    req = media_request()
    messages = render_media(req, SECRET, None)
    _check_limits(messages)
    text = messages[0].text
    assert len(messages) == 1 and tg_len(text) <= 1000, "the overview reads in one glance"
    assert "🎬 Leonardo" in text and "~200 credits" in text and "🎬 Veo 3.1" in text and "offline" in text
    assert "Sora 2</b> · unavailable" in text and "Sora 2 was shut down" in text

    buttons = _buttons(messages)
    gens = [(t, d.arg.split(".")[0]) for t, d in buttons if d.action == "gen"]
    assert gens == [("▶ Generate with Leonardo (~200 credits)", "0"), ("▶ Generate with Veo 3.1 (~$0.40)", "1")]
    assert [d.arg for t, d in buttons if d.action == "settings"] == ["0", "1"], "one ⚙️ per usable provider"
    assert [t for t, d in buttons if d.action == "param"] == [], "no parameter buttons under the overview"
    # ⚙️ opens one provider's prompt and settings in place
    leonardo = render_media(req, SECRET, None, settings="leonardo")
    _check_limits(leonardo)
    opened = leonardo[0].text
    assert "<i>Notes:</i> <b>Only the steam and curtain move.</b>" in opened and "<i>Motion:</i> subtle" in opened
    assert "<i>Prompt:</i> Static tabby cat" in opened and "Veo 3.1" not in opened
    assert "pet moving, deformation" not in opened  # display false / second textarea stay hidden
    inside = _buttons(leonardo)
    assert [t for t, d in inside if d.action == "param"] == ["Motion Strength: 5"]
    assert [d.arg.split(".")[0] for _, d in inside if d.action == "gen"] == ["0"]
    assert [(t, d.arg) for t, d in inside if d.action == "settings"] == [("◀ Back", "")]
    veo = render_media(req, SECRET, None, settings="veo")
    assert "<i>Sound:</i> soft rain" in veo[0].text
    params = [t for t, d in _buttons(veo) if d.action == "param"]
    assert params == ["Duration: 8 seconds", "Resolution: 720p"]
    assert render_media(req, SECRET, None, settings="sora")[0].text == text, "an unavailable one has no settings"
    options = [t for t, d in buttons if d.action == "opt"]
    assert any("Regenerate video prompts" in t for t in options)
    assert any("Change motion elements" in t for t in options) and any("Go back to image selection" in t for t in options)
    assert not any("Accept and continue" in t for t in options)  # picking a clip continues


def test_media_param_choices_cycle_and_change_the_signature() -> None:
    req = media_request()
    disp = req.display_data
    assert isinstance(disp, MediaDisplay)
    veo = disp.panels[1]
    duration = next(i for i, f in enumerate(veo.fields) if f.source_name == "duration")
    overrides = next_param_choice(veo, duration, {})  # the cycling itself: tests/test_presentation.py

    before = {d.arg for _, d in _buttons(render_media(req, SECRET, {})) if d.action == "gen"}
    after_msgs = render_media(req, SECRET, {"veo": overrides}, settings="veo")
    after = {d.arg for _, d in _buttons(after_msgs) if d.action == "gen"}
    assert before != after and f"1.{params_signature(panel_params(veo, overrides))}.0" in after
    assert "Duration: 4 seconds" in [t for t, _ in _buttons(after_msgs)]
    assert "Duration 4 seconds" in after_msgs[0].text


def test_media_generations_jobs_and_picks(tmp_path: Path) -> None:
    def content(n: int, key: str) -> ContentItem:
        return ContentItem(content_id=f"gc_{n:032x}", media_type="video", local_path=str(tmp_path / f"{n}.mp4"),
                           metadata_id=f"job_{n}", prompt_key=key, provider="leonardo", width=720, height=1280,
                           duration_s=5.0)  # fmt: skip

    generations = {
        "leonardo": [Generation(metadata_id="job_1", contents=[content(1, "leonardo"), content(2, "leonardo")])],
        "veo": [Generation(metadata_id="job_3", content_ids=["gc_legacy"], urls=["https://cdn.example/3.mp4"])],
    }
    jobs = [
        JobView(job_id="job_4", interaction_id="med_0190abc", prompt_key="veo", provider="leonardo", action_type="img2vid",
                status="running", progress=0.4),
    ]  # fmt: skip
    req = media_request(generations=generations, jobs=jobs)
    messages = render_media(req, SECRET)
    _check_limits(messages)
    assert "⏳ Veo 3.1: rendering… 40%" in messages[0].text and "3 results so far" in messages[0].text
    picks = [(t, d.arg) for t, d in _buttons(messages) if d.action == "choose"]
    assert [t for t, _ in picks] == ["✅ Pick #1", "✅ Pick #2", "✅ Pick #3"]
    disp = req.display_data
    assert isinstance(disp, MediaDisplay)
    named = {c.key: c.content_id for c in generated_contents(disp)}  # how the bot resolves a "choose" tap
    assert [named[arg] for _, arg in picks] == [f"gc_{1:032x}", f"gc_{2:032x}", "gc_legacy"]
    assert "nope" not in named
    assert [c.number for c in generated_contents(disp)] == [1, 2, 3]

    files = render_contents(req, SECRET)
    _check_limits(files)
    assert [m.kind for m in files] == ["video", "video"]  # the legacy batch has no local file
    assert files[0].text == "#1 · Leonardo · 5 s · 720×1280" and files[0].media_paths == [str(tmp_path / "1.mp4")]
    assert callbacks.decode(files[1].buttons[0][0].callback_data, SECRET).arg == picks[1][1]  # type: ignore[union-attr]


def test_media_huge_prompts_and_many_generations_fit() -> None:
    prompts = copy.deepcopy(VIDEO_PROMPTS)
    prompts["leonardo"]["positive_prompt"] = "<b>x</b> " * 3000
    prompts["leonardo"]["motion_notes"] = "n" * 10_000
    prompts["veo"]["audio_notes"] = "é😺" * 5000
    panels = panels_for(VIDEO_SCHEMA, prompts, {})
    many = {"leonardo": [Generation(metadata_id=f"j{n}", content_ids=[f"gc_{n}_{k}" for k in range(4)]) for n in range(40)]}
    disp = MediaDisplay(data=prompts, schema=VIDEO_SCHEMA, panels=panels, generations=many, retryable=RETRY_VIDEO)
    messages = render_media(request(disp, InteractionType.MEDIA_GENERATION), SECRET)
    _check_limits(messages)
    picks = [t for t, d in _buttons(messages) if d.action == "choose"]
    assert picks and picks[-1] == "✅ Pick #160"  # the newest stay when the keyboard is full


def test_job_progress_lines() -> None:
    job = JobView(job_id="j", interaction_id="i", prompt_key="leonardo", provider="leonardo", action_type="img2vid",
                  status="running", progress=0.4)  # fmt: skip
    assert render_job_progress(job) == "⏳ Leonardo: rendering… 40%"
    failed = job.model_copy(update={"status": "failed", "error": "insufficient <credits>", "retryable_error": True})
    assert render_job_progress(failed) == "⚠️ Leonardo: failed: insufficient &lt;credits&gt;. You can try again."
    named = job.model_copy(update={"status": "submitted", "message": "a & b"})
    assert render_job_progress(named, "<Veo>") == "⏳ &lt;Veo&gt;: a &amp; b…"
    for status in ("created", "submitted", "running", "completed", "failed", "cancelled"):
        line = job.model_copy(update={"status": status, "error": "x < y"})
        assert parse_html(render_job_progress(line))[0] == job_progress(line)  # the neutral line, escaped


def test_render_request_dispatches() -> None:
    media = render_request(media_request(), SECRET)
    assert any(d.action == "gen" for _, d in _buttons(media))
    text = render_request(request(TextInputDisplay(prompt="?", allow_empty=False), InteractionType.TEXT_INPUT), SECRET)
    assert text[0].force_reply
    skip = render_request(request(TextInputDisplay(prompt="?"), InteractionType.TEXT_INPUT), SECRET)
    assert [d.action for _, d in _buttons(skip)] == ["skip"]


# ----------------------------------------------------------------- status/text


def test_render_status() -> None:
    status = render_status([[("Pet", "Cat"), ("Mood", "Cozy <3")], [("Scene", "Snow " * 100)], []], "Step 2: Scenes")
    assert status.startswith("📌 <b>Step 2: Scenes</b>\nPet: <b>Cat</b> · Mood: <b>Cozy &lt;3</b>\nScene: <b>")
    parse_html(status)
    assert len(status) < 400


def test_split_text_keeps_html_valid() -> None:
    paragraphs = "\n\n".join(f"<b>Para {n}</b>\n" + "word " * 300 for n in range(20))
    chunks = split_text(paragraphs, 4096)
    assert len(chunks) > 1 and all(len(c) <= 4096 for c in chunks)
    assert all(c.startswith("<b>Para") for c in chunks)  # cut on paragraph boundaries
    one_line = "<i>" + "é😺 &amp; " * 3000 + "</i>"
    chunks = split_text(one_line, 1000)
    for c in chunks:
        plain, _ = parse_html(c)  # tags closed and reopened; entities never cut
        assert len(c.encode("utf-16-le")) // 2 <= 1000
    assert "".join(parse_html(c)[0] for c in chunks).replace(" ", "") == parse_html(one_line)[0].replace(" ", "")
    assert split_text("") == [] and split_text("short") == ["short"]


def test_fit_caption() -> None:
    assert fit_caption("short") == ("short", "")
    caption, rest = fit_caption("line <b>bold</b>\n" * 200)
    assert len(caption) <= 1024 and rest and parse_html(caption) and parse_html(rest)


# ------------------------------------------------- every display schema in the repo




@pytest.mark.parametrize("path", every_display_schema())
def test_every_workflow_display_schema_renders(path: Path) -> None:
    schema, data = load_sample(path)
    if media_nodes(schema):
        panels = panels_for(schema, data, {})
        req = request(MediaDisplay(data=data, schema=schema, panels=panels), InteractionType.MEDIA_GENERATION)
        messages = render_media(req, SECRET)
        assert sum(d.action == "gen" for _, d in _buttons(messages)) == len(panels)
    elif selectable_items(data, schema):
        req = request(SelectDisplay(data=data, schema=schema, multi_select=True), InteractionType.SELECT)
        messages = render_select(req, {0}, SECRET)
        assert any(d.action == "toggle" for _, d in _buttons(messages))
    else:  # nothing to pick: a review (e.g. the finished video), shown with its media first
        req = request(SelectDisplay(data=data, schema=schema, mode="review"), InteractionType.REVIEW)
        messages = render_select(req, set(), SECRET)
        assert messages and any(d.action == "confirm" for _, d in _buttons(messages))
        if "final_video" in path.name:
            assert [p.kind for p in preview_media(data, schema)] == ["video"]
    _check_limits(messages)
