"""The finished video (engine.compose + the media.compose module) on small real inputs.

Inputs are made by ffmpeg: a 2 s 720x1280 test clip (with and without its own
sound) and a 3 s sine MP3. Outputs are checked with the same ffmpeg
(engine.media.ffmpeg.probe: there is no ffprobe in the wheel) and frames with
Pillow.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat

from engine.compose import (
    ComposeError,
    ComposeResult,
    ComposeSpec,
    caption_timing,
    compose_video,
    drawable_text,
    plan_captions,
)
from engine.compose.captions import SAFE_BOTTOM, SAFE_TOP
from engine.compose.spec import DEFAULT_SIZE_LIMIT
from engine.media.ffmpeg import extract_frame, ffmpeg_exe, probe
from engine.modules.base import ModuleFailure
from engine.modules.compose import ComposeModule

W, H = 720, 1280
TEXT_SET = {
    "set_id": "heartfelt",
    "set_description": "A sleepy afternoon",
    "paragraphs": [
        {"paragraph_id": 1, "sentences": ["Some days are made for naps 😺", "And for someone warm beside you."]},
    ],
}


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    folder = tmp_path_factory.mktemp("compose-inputs")
    silent, sound, music = folder / "clip.mp4", folder / "clip_sound.mp4", folder / "music.mp3"
    encode = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart"]
    _ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={W}x{H}:r=24:d=2", *encode, str(silent))
    _ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={W}x{H}:r=24:d=2", "-f", "lavfi", "-i", "sine=f=220:d=2",
            *encode, "-c:a", "aac", "-shortest", str(sound))
    _ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=3", "-c:a", "libmp3lame", "-b:a", "64k", str(music))
    return SimpleNamespace(folder=folder, clip=silent, clip_sound=sound, music=music)


@pytest.fixture(scope="module")
def rendered(media: SimpleNamespace) -> SimpleNamespace:
    """One looped render (2 s clip -> 5 s) with caption and music, and the same without the caption."""
    base = dict(clip_path=media.clip, music_path=media.music, duration_s=5.0)
    with_text = ComposeSpec(**base, overlay=[["Some days are made for naps.", "And for someone warm beside you."]])

    async def both() -> tuple[ComposeResult, ComposeResult]:
        one = await compose_video(with_text, media.folder / "with_text.mp4")
        two = await compose_video(ComposeSpec(**base), media.folder / "without_text.mp4")
        return one, two

    text, plain = asyncio.run(both())
    return SimpleNamespace(spec=with_text, text=text, plain=plain)


def _top_level_boxes(path: Path) -> list[bytes]:
    boxes, data = [], path.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset:offset + 4], "big")
        boxes.append(data[offset + 4:offset + 8])
        if size < 8:
            break
        offset += size
    return boxes


def _mean_diff(a: Image.Image, b: Image.Image, box: tuple[int, int, int, int]) -> float:
    diff = ImageChops.difference(a.crop(box).convert("L"), b.crop(box).convert("L"))
    return ImageStat.Stat(diff).mean[0]


def _ctx(run_dir: Path, recovery: str | None = None) -> SimpleNamespace:
    reports: list[tuple[float, str]] = []

    async def progress(percent: float, message: str) -> None:
        reports.append((percent, message))

    return SimpleNamespace(run_dir=run_dir, recovery_option=recovery, progress=progress, reports=reports,
                           emitted=[], step_id="workflow_summary", module=SimpleNamespace(name="compose_final_video"))


def _inputs(media: SimpleNamespace, **overrides: Any) -> dict[str, Any]:
    inputs = {"video": {"content_id": "gc_1", "media_type": "video", "local_path": str(media.clip)},
              "music": {"content_id": "gc_2", "media_type": "audio", "local_path": str(media.music)},
              "overlay": TEXT_SET, "duration_s": 2, "title": "Nap time"}
    return inputs | overrides


# ------------------------------------------------------------------ the render

async def test_looped_render_has_the_target_length_streams_size_and_faststart(rendered) -> None:
    result = rendered.text
    info = await probe(result.path)
    assert abs(info.duration_s - 5.0) <= 0.1
    assert info.has_video and info.has_audio
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height) == (W, H)
    assert info.size_bytes == result.size_bytes < DEFAULT_SIZE_LIMIT
    assert result.looped and result.has_music and result.has_text and not result.reencoded
    boxes = _top_level_boxes(result.path)
    assert boxes.index(b"moov") < boxes.index(b"mdat")  # +faststart: plays while it downloads
    assert not list(result.path.parent.glob(".*.part.mp4"))


async def test_caption_is_burned_into_its_region_and_nowhere_else(rendered, tmp_path: Path) -> None:
    cues = rendered.text.cues
    assert [c.start_s for c in cues] == [0.0, cues[0].end_s] and cues[-1].end_s == 5.0
    for index, cue in enumerate(cues):
        t = round((cue.start_s + cue.end_s) / 2, 2)
        with_text = Image.open(await extract_frame(rendered.text.path, t, tmp_path / f"text{index}.png"))
        plain = Image.open(await extract_frame(rendered.plain.path, t, tmp_path / f"plain{index}.png"))
        assert with_text.size == (W, H)
        assert _mean_diff(with_text, plain, cue.box) > 25, "the caption is not in its box"
        assert _mean_diff(with_text, plain, (0, int(H * 0.8), W, H)) < 2, "the bottom 20% changed"
        assert _mean_diff(with_text, plain, (0, 0, W, int(H * 0.1))) < 2, "the top 10% changed"


async def test_size_limit_forces_a_smaller_second_encode(rendered, tmp_path: Path) -> None:
    limit = rendered.text.size_bytes // 2
    spec = rendered.spec.model_copy(update={"size_limit_bytes": limit})
    result = await compose_video(spec, tmp_path / "small.mp4")
    info = await probe(result.path)
    assert result.reencoded and result.size_bytes <= limit
    assert abs(info.duration_s - 5.0) <= 0.1 and info.has_audio


async def test_other_clip_sizes_are_fitted_and_a_longer_clip_is_trimmed(media, tmp_path: Path) -> None:
    small, wide = tmp_path / "small.mp4", tmp_path / "wide.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=s=360x640:r=30:d=2", "-pix_fmt", "yuv420p", str(small))
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=2", "-pix_fmt", "yuv420p", str(wide))
    for clip in (small, wide):
        result = await compose_video(ComposeSpec(clip_path=clip, duration_s=1.5), tmp_path / f"out_{clip.name}")
        info = await probe(result.path)
        assert (info.width, info.height) == (W, H) and abs(info.duration_s - 1.5) <= 0.1
        assert not result.looped and info.has_audio  # trimmed; silence added for a silent clip
    frame = Image.open(await extract_frame(tmp_path / "out_wide.mp4", 0.5, tmp_path / "wide.png")).convert("L")
    assert ImageStat.Stat(frame.crop((0, 0, W, 100))).mean[0] < 20  # letterboxed, not cropped to a sliver


async def test_cancelled_render_leaves_no_file(media: SimpleNamespace, tmp_path: Path) -> None:
    out = tmp_path / "final_cancelled.mp4"
    task = asyncio.create_task(compose_video(ComposeSpec(clip_path=media.clip, duration_s=30), out))
    await asyncio.sleep(0.6)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ caption text

def test_emoji_and_unsupported_characters_are_stripped_from_burned_in_text() -> None:
    assert drawable_text("Cozy 😺 nap ❤️ time 🐾!") == "Cozy nap time!"
    assert drawable_text("Family 👨‍👩‍👧 day 👍🏽") == "Family day"
    assert drawable_text("Café, naïve — “quoted” …") == "Café, naïve — “quoted” …"
    assert drawable_text("😺🐾") == ""
    assert drawable_text("So sleepy 😴 🐾!") == "So sleepy!"
    spec = ComposeSpec(clip_path="clip.mp4", duration_s=6,
                       overlay=[["Hello 😺 friend", "🐾🐾"], ["Sleep well ✨"]])
    cues = plan_captions(spec)
    assert [" ".join(c.lines) for c in cues] == ["Hello friend", "Sleep well"]
    assert cues[0].end_s == 3.0 and cues[1] == cues[-1] and cues[1].end_s == 6.0  # an emoji-only line has no screen


def test_timing_gives_paragraphs_equal_shares_and_sentences_turns() -> None:
    cues = caption_timing([["A short one.", "A much longer second sentence here."], ["Last."]], 10.0)
    assert [c[2] for c in cues] == ["A short one.", "A much longer second sentence here.", "Last."]
    assert cues[0][0] == 0.0 and cues[1][1] == pytest.approx(5.0, abs=0.01) and cues[2] == (5.0, 10.0, "Last.")
    assert cues[0][1] == cues[1][0]  # one after the other, no gap
    assert cues[1][1] - cues[1][0] > cues[0][1] - cues[0][0]  # a longer sentence stays longer


def test_caption_stays_inside_the_safe_area_and_is_wrapped() -> None:
    long_word = "Supercalifragilisticexpialidociously"
    spec = ComposeSpec(clip_path="clip.mp4", duration_s=8, overlay=[[
        "A cat.", "This sentence is quite a bit longer than one line can hold", long_word]])
    cues = plan_captions(spec)
    for cue in cues:
        x0, y0, x1, y1 = cue.box
        assert x0 >= W * 0.1 - 1 and x1 <= W * 0.9 + 1, cue
        assert y0 >= H * SAFE_TOP - 1 and y1 <= H * SAFE_BOTTOM + 1, cue
        assert cue.font_size >= 30
    assert len(cues[1].lines) >= 2 and len(cues[2].lines) >= 2  # wrapped; the long word split


# ------------------------------------------------------------------ the module

async def test_no_music_fails_with_the_option_and_recovery_finishes_without(media, tmp_path: Path) -> None:
    module = ComposeModule()
    with pytest.raises(ModuleFailure) as failure:
        await module.execute(_inputs(media, music=None), _ctx(tmp_path))
    assert "No music" in failure.value.message
    assert failure.value.options == [{"id": "without_music", "label": "Finish without music"}]
    assert not list(tmp_path.glob("*.mp4"))

    for clip, key in ((media.clip, "silent"), (media.clip_sound, "sound")):
        ctx = _ctx(tmp_path / key, recovery="without_music")
        out = await module.execute(_inputs(media, music=None, video={"local_path": str(clip)}), ctx)
        final = out["final_video"]
        info = await probe(final["local_path"])
        assert final["has_music"] is False and final["has_text"] is True
        assert info.has_audio, "a posted video keeps an audio track (silence when the clip has none)"
        assert abs(info.duration_s - 2.0) <= 0.1
        assert ctx.reports[0][0] == 0 and ctx.reports[-1][0] == 100
        assert [e.type for e in ctx.emitted] == ["file_ready"]


async def test_broken_music_and_missing_caption_offer_to_finish_without(media, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3 this is not really an mp3" * 20)
    module = ComposeModule()
    with pytest.raises(ModuleFailure) as failure:
        await module.execute(_inputs(media, music={"local_path": str(broken)}), _ctx(tmp_path))
    assert "music file is damaged" in failure.value.message
    assert [o["id"] for o in failure.value.options] == ["without_music"]
    with pytest.raises(ModuleFailure) as failure:
        await module.execute(_inputs(media, music={"local_path": str(tmp_path / "gone.mp3")}), _ctx(tmp_path))
    assert "music file is missing" in failure.value.message
    with pytest.raises(ModuleFailure) as failure:  # an emoji-only caption is no caption
        await module.execute(_inputs(media, overlay={"paragraphs": [{"sentences": ["😺🐾"]}]}), _ctx(tmp_path))
    assert [o["id"] for o in failure.value.options] == ["without_text"]
    with pytest.raises(ModuleFailure) as failure:
        await module.execute(_inputs(media, overlay=None, music=None), _ctx(tmp_path))
    assert [o["id"] for o in failure.value.options] == ["without_music_and_text"]
    out = await module.execute(_inputs(media, overlay=None, music=None), _ctx(tmp_path, "without_music_and_text"))
    assert out["final_video"]["has_text"] is False and out["final_video"]["has_music"] is False


async def test_truncated_or_missing_clip_is_a_clear_failure(media, tmp_path: Path) -> None:
    module = ComposeModule()
    data = media.clip.read_bytes()
    cut = tmp_path / "cut.mp4"  # faststart: the index is whole, the pictures are cut off
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModuleFailure) as failure:
        await module.execute(_inputs(media, video={"local_path": str(cut)}), _ctx(tmp_path))
    assert "video clip is incomplete" in failure.value.message and not failure.value.options
    tail_index = tmp_path / "tail_index.mp4"  # index at the end: cut off with the rest
    _ffmpeg("-i", str(media.clip), "-c", "copy", str(tail_index))
    tail_index.write_bytes(tail_index.read_bytes()[: tail_index.stat().st_size // 2])
    with pytest.raises(ModuleFailure) as failure:
        await module.execute(_inputs(media, video={"local_path": str(tail_index)}), _ctx(tmp_path))
    assert "video clip is damaged" in failure.value.message
    with pytest.raises(ModuleFailure) as failure:
        await module.execute(_inputs(media, video={"local_path": str(tmp_path / "nope.mp4")}), _ctx(tmp_path))
    assert "video clip is missing" in failure.value.message
    with pytest.raises(ComposeError) as error:
        await compose_video(ComposeSpec(clip_path=cut, duration_s=2), tmp_path / "x.mp4")
    assert error.value.part == "clip"
    assert not list(tmp_path.glob("final_*")) and not (tmp_path / "x.mp4").exists()


async def test_each_run_writes_a_new_file_and_keeps_the_old(media, tmp_path: Path) -> None:
    module = ComposeModule()
    stale = tmp_path / ".final_0190abc.part.mp4"  # a render a crash cut short
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"half a video")
    first = (await module.execute(_inputs(media), _ctx(tmp_path)))["final_video"]["local_path"]
    assert not stale.exists()
    second = (await module.execute(_inputs(media, music=None), _ctx(tmp_path, "without_music")))["final_video"]
    assert first != second["local_path"]
    assert Path(first).is_file() and Path(second["local_path"]).is_file()
    assert Path(first).name.startswith("final_") and Path(first).suffix == ".mp4"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([Path(first).name, Path(second["local_path"]).name])
