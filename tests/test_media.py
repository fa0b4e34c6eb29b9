"""engine.media: exact-size image fitting, real types, ffmpeg run/probe/frame, the shipped font."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import psutil
import pytest
from PIL import Image, ImageFont

from engine.media import CAPTION_FONT, FONTS_DIR
from engine.media.ffmpeg import FFmpegError, ProbeError, extract_frame, ffmpeg_exe, probe, run_ffmpeg
from engine.media.images import afit_image, fit_image, image_size, mime_type

# ---------------------------------------------------------------- helpers


def _vertical_gradient(path: Path, width: int, height: int) -> Path:
    """Row y has grey value y * 255 / (height - 1): a pixel tells which source row it came from."""
    img = Image.new("L", (width, height))
    img.putdata([round(y * 255 / (height - 1)) for y in range(height) for _ in range(width)])
    img.convert("RGB").save(path)
    return path


def _corner_marked(path: Path, width: int, height: int) -> Path:
    """Light-blue picture with a red top-left and a green bottom-right corner block."""
    img = Image.new("RGB", (width, height), (120, 170, 220))
    block = max(4, width // 10)
    img.paste((255, 0, 0), (0, 0, block, block))
    img.paste((0, 255, 0), (width - block, height - block, width, height))
    img.save(path)
    return path


def _close(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=False))


async def _make_clip(path: Path, *, seconds: float = 1.0, audio: bool = True) -> Path:
    args = ["-f", "lavfi", "-i", f"testsrc2=s=180x320:r=24:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:d={seconds}", "-c:a", "aac"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-t", str(seconds), str(path)]
    await run_ffmpeg(args)
    return path


# ---------------------------------------------------------------- fit_image


@pytest.mark.parametrize(
    ("src_size", "target"),
    [((640, 360), (180, 320)), ((1024, 1536), (720, 1280)), ((300, 300), (180, 320)), ((180, 320), (320, 180))],
)
@pytest.mark.parametrize("mode", ["cover", "contain"])
def test_fit_image_gives_exactly_the_requested_size(tmp_path, src_size, target, mode):
    src = _corner_marked(tmp_path / "src.png", *src_size)
    out = fit_image(src, *target, tmp_path / "out.png", mode=mode)
    with Image.open(out) as img:
        assert img.size == target
        assert img.mode == "RGB"
    assert [p.name for p in tmp_path.iterdir() if ".part" in p.name] == []


def test_cover_of_a_landscape_keeps_full_height_and_crops_only_the_sides(tmp_path):
    src = _vertical_gradient(tmp_path / "wide.png", 640, 360)
    out = fit_image(src, 180, 320, tmp_path / "tall.png")
    with Image.open(out) as img:
        grey = img.convert("L")
        assert grey.getpixel((90, 0)) < 10  # the source's top row survives
        assert grey.getpixel((90, 319)) > 245  # and so does its bottom row


def test_cover_crops_a_tall_image_slightly_above_centre(tmp_path):
    # 100x400 into 50x50: 150 source rows (scaled) must go; a centred crop would start at 75.
    src = _vertical_gradient(tmp_path / "tall.png", 100, 400)
    out = fit_image(src, 50, 50, tmp_path / "square.png")
    with Image.open(out) as img:
        top_value = img.convert("L").getpixel((25, 0))
    first_row = top_value * 399 / 255 / 2  # back to a row of the 50x200 scaled image
    assert 0 < first_row < 75, "the crop leans up toward the face, but not to the very top"
    assert first_row > 40, "and never trims the top much more than the bottom"


def test_cover_of_the_same_aspect_crops_nothing(tmp_path):
    src = _corner_marked(tmp_path / "src.png", 360, 640)
    out = fit_image(src, 180, 320, tmp_path / "out.png")
    with Image.open(out) as img:
        assert _close(img.getpixel((1, 1)), (255, 0, 0))
        assert _close(img.getpixel((178, 318)), (0, 255, 0))


def test_contain_keeps_the_whole_picture_and_pads_without_black_bars(tmp_path):
    # 2:3 portrait (a GPT-image size) into 9:16: 180x270 picture, 25 rows of padding above and below.
    src = _corner_marked(tmp_path / "portrait.png", 200, 300)
    out = fit_image(src, 180, 320, tmp_path / "story.png", mode="contain")
    with Image.open(out) as img:
        assert _close(img.getpixel((2, 27)), (255, 0, 0)), "top-left corner of the picture is not cut"
        assert _close(img.getpixel((177, 292)), (0, 255, 0)), "bottom-right corner is not cut"
        for y in (2, 10, 315):
            pad = img.getpixel((90, y))
            assert sum(pad) / 3 > 60, f"padding at row {y} is {pad}, which looks like a black bar"


def test_contain_flattens_transparency(tmp_path):
    src = tmp_path / "alpha.png"
    Image.new("RGBA", (100, 100), (200, 100, 50, 0)).save(src)
    out = fit_image(src, 90, 160, tmp_path / "out.jpg", mode="contain")
    with Image.open(out) as img:
        assert img.format == "JPEG" and img.size == (90, 160)


def test_fit_image_follows_exif_rotation(tmp_path):
    src = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed portrait
    Image.new("RGB", (320, 180), (10, 200, 10)).save(src, exif=exif)
    assert image_size(src) == (180, 320)
    out = fit_image(src, 90, 160, tmp_path / "out.png")
    assert image_size(out) == (90, 160)


def test_fit_image_rejects_bad_arguments(tmp_path):
    src = _corner_marked(tmp_path / "src.png", 50, 50)
    with pytest.raises(ValueError):
        fit_image(src, 0, 10, tmp_path / "out.png")
    with pytest.raises(ValueError):
        fit_image(src, 10, 10, tmp_path / "out.gif")
    with pytest.raises(ValueError):
        fit_image(src, 10, 10, tmp_path / "out.png", mode="stretch")  # type: ignore[arg-type]


async def test_afit_image_runs_in_a_thread(tmp_path):
    src = _corner_marked(tmp_path / "src.png", 400, 300)
    out = await afit_image(src, 720 // 4, 1280 // 4, tmp_path / "out.webp", mode="contain")
    assert image_size(out) == (180, 320)
    assert mime_type(out) == "image/webp"


# ---------------------------------------------------------------- mime_type


@pytest.mark.parametrize(("fmt", "expected"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_mime_type_reads_the_bytes_not_the_extension(tmp_path, fmt, expected):
    path = tmp_path / "picture.bin"  # a misleading name on purpose
    Image.new("RGB", (8, 8), (1, 2, 3)).save(path, format=fmt)
    assert mime_type(path) == expected


def test_mime_type_rejects_a_non_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image at all")
    with pytest.raises(ValueError, match="not a PNG"):
        mime_type(path)


# ---------------------------------------------------------------- ffmpeg


def test_ffmpeg_exe_is_runnable():
    exe = ffmpeg_exe()
    assert os.path.isfile(exe) and os.access(exe, os.X_OK)


async def test_probe_reads_streams_size_and_duration(tmp_path):
    clip = await _make_clip(tmp_path / "clip.mp4", seconds=1.0)
    info = await probe(clip)
    assert info.has_video and info.has_audio
    assert (info.width, info.height) == (180, 320)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.fps == pytest.approx(24)
    assert info.duration_s == pytest.approx(1.0, abs=0.1)
    assert info.size_bytes == clip.stat().st_size


async def test_probe_of_an_image_has_no_duration(tmp_path):
    path = _corner_marked(tmp_path / "still.png", 64, 48)
    info = await probe(path)
    assert info.has_video and not info.has_audio
    assert (info.width, info.height) == (64, 48)
    assert info.duration_s is None


async def test_probe_names_a_corrupt_file(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"this is not a video" * 10)
    with pytest.raises(ProbeError) as caught:
        await probe(path)
    message = str(caught.value)
    assert "broken.mp4" in message and "not a readable media file" in message
    assert "Invalid data" in message  # ffmpeg's own reason is kept


async def test_probe_of_missing_and_empty_files(tmp_path):
    with pytest.raises(ProbeError, match="not found"):
        await probe(tmp_path / "nowhere.mp4")
    empty = tmp_path / "empty.mp3"
    empty.touch()
    with pytest.raises(ProbeError, match="empty"):
        await probe(empty)


async def test_run_ffmpeg_error_quotes_ffmpeg(tmp_path):
    with pytest.raises(FFmpegError) as caught:
        await run_ffmpeg(["-i", str(tmp_path / "missing.mp4"), str(tmp_path / "out.mp4")])
    assert caught.value.returncode not in (0, None)
    assert "No such file or directory" in str(caught.value)

    with pytest.raises(FFmpegError, match="nosuchfilter"):
        await run_ffmpeg(["-f", "lavfi", "-i", "nosuchfilter", "-f", "null", "-"])


async def test_run_ffmpeg_reports_progress_to_sync_and_async_callbacks(tmp_path):
    seen: list[float] = []
    awaited: list[float] = []

    async def record(percent: float) -> None:
        awaited.append(percent)

    out = tmp_path / "tone.wav"
    await run_ffmpeg(["-f", "lavfi", "-i", "sine=d=2", str(out)], progress=seen.append, total_duration=2)
    await run_ffmpeg(["-f", "lavfi", "-i", "sine=d=2", str(out)], progress=record, total_duration=2)
    for values in (seen, awaited):
        assert values and values[-1] == 100.0
        assert all(0 <= v <= 100 for v in values)
        assert values == sorted(values)


async def _ffmpeg_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "ffmpeg" in p.name().lower()]


async def test_run_ffmpeg_timeout_kills_the_process():
    started = time.monotonic()
    with pytest.raises(FFmpegError, match="timed out"):
        # -re reads in real time, so this would run for 60 s
        await run_ffmpeg(["-re", "-f", "lavfi", "-i", "sine=d=60", "-f", "null", "-"], timeout=0.5)
    assert time.monotonic() - started < 5
    assert await _ffmpeg_children() == []


async def test_cancelling_run_ffmpeg_kills_the_process():
    task = asyncio.create_task(run_ffmpeg(["-re", "-f", "lavfi", "-i", "sine=d=60", "-f", "null", "-"]))
    await asyncio.sleep(0.4)
    assert await _ffmpeg_children(), "ffmpeg should be running"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _ffmpeg_children() == []


@pytest.mark.skipif(not shutil.which("chrt"), reason="no chrt here: renders run under nice instead")
async def test_an_encoder_runs_in_the_idle_scheduling_class_so_the_bot_takes_the_cpu_first():
    task = asyncio.create_task(run_ffmpeg(["-re", "-f", "lavfi", "-i", "sine=d=60", "-f", "null", "-"]))
    try:
        for _ in range(50):
            children = await _ffmpeg_children()
            if children:
                break
            await asyncio.sleep(0.05)
        assert children, "ffmpeg should be running"
        assert [os.sched_getscheduler(c.pid) for c in children] == [os.SCHED_IDLE]
        assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the bot itself keeps its normal class
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_extract_frame_grabs_the_right_moment(tmp_path):
    clip = tmp_path / "red_then_blue.mp4"
    await run_ffmpeg([
        "-f", "lavfi", "-i", "color=c=red:s=64x64:r=24:d=1",
        "-f", "lavfi", "-i", "color=c=blue:s=64x64:r=24:d=1",
        "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip),
    ])
    early = await extract_frame(clip, 0.5, tmp_path / "frames" / "early.png")
    late = await extract_frame(clip, 1.5, tmp_path / "frames" / "late.png")
    with Image.open(early) as img:
        assert _close(img.convert("RGB").getpixel((32, 32)), (255, 0, 0), 60)
    with Image.open(late) as img:
        assert _close(img.convert("RGB").getpixel((32, 32)), (0, 0, 255), 60)
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == ["early.png", "late.png"]


async def test_extract_frame_past_the_end_is_an_error(tmp_path):
    clip = await _make_clip(tmp_path / "short.mp4", seconds=1.0, audio=False)
    with pytest.raises(FFmpegError):
        await extract_frame(clip, 30, tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


# ---------------------------------------------------------------- font


def test_caption_font_ships_with_its_licence():
    assert CAPTION_FONT.is_file()
    font = ImageFont.truetype(str(CAPTION_FONT), 24)
    assert font.getname() == ("Fredoka One", "Regular")
    licence = (FONTS_DIR / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence
    assert "Milena B Brandao" in licence  # the copyright line matches the font's name table
