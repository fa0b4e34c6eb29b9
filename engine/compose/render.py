"""The one-pass ffmpeg render of the finished video, under the upload size limit.

The clip is looped (`-stream_loop`) or trimmed (`-t`) to the target length;
the output is H.264 (yuv420p) + AAC, `+faststart`, exactly the target length,
written under a temp name and renamed when complete. A file over the size
limit is rendered again at a computed bitrate.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from engine.compose.captions import plan_captions
from engine.compose.graph import audio_chain, drawtext, num, video_chain
from engine.compose.inputs import check_clip, check_music
from engine.compose.spec import CaptionCue, ComposeError, ComposeResult, ComposeSpec
from engine.media.ffmpeg import FFmpegError, MediaInfo, run_ffmpeg

log = logging.getLogger(__name__)

ProgressFn = Callable[[float], Awaitable[None] | None]


def _encode_args(spec: ComposeSpec, video_kbps: int | None, audio_kbps: int) -> list[str]:
    args = ["-c:v", "libx264", "-preset", spec.preset, "-threads", str(spec.threads), "-pix_fmt", "yuv420p",
            "-profile:v", "high"]
    if video_kbps is None:
        args += ["-crf", str(spec.crf)]
    else:
        args += ["-b:v", f"{video_kbps}k", "-maxrate", f"{video_kbps}k", "-bufsize", f"{video_kbps * 2}k"]
    return args + ["-c:a", "aac", "-b:a", f"{audio_kbps}k", "-ar", "44100", "-ac", "2"]


def _input_args(
    spec: ComposeSpec, clip: MediaInfo, music: MediaInfo | None, loop: bool
) -> tuple[list[str], int | None]:
    """ffmpeg's inputs: the clip (looped when short), then the music or, when
    there is no sound at all, a silent source (its input index is returned)."""
    # the decoders get spec.threads too: a frame-threaded H.264 decoder holds a set of
    # 720p frames per thread (~7 MB per render), for no speed an encode on one core could use
    decode = ["-threads", str(spec.threads)]
    inputs = (["-stream_loop", "-1"] if loop else []) + decode + ["-i", str(spec.clip_path)]
    silence_input = None
    if music is not None:
        inputs += [*decode, "-i", str(spec.music_path)]
    elif not clip.has_audio:
        silence_input = 1
        inputs += ["-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo"]
    return inputs, silence_input


def _write_graph(work: Path, spec: ComposeSpec, clip: MediaInfo, music: MediaInfo | None,
                 cues: list[CaptionCue], silence_input: int | None) -> Path:
    """Write each caption's text and the filter graph into `work`; the graph file's path."""
    text_filters = []
    for index, cue in enumerate(cues):
        text_file = work / f"cue{index}.txt"
        text_file.write_text("\n".join(cue.lines), encoding="utf-8")
        text_filters.append(drawtext(cue, text_file, spec, index == 0, index == len(cues) - 1))
    graph = video_chain(spec, clip, text_filters) + ";" + audio_chain(spec, clip.has_audio, music, silence_input)
    graph_file = work / "graph.txt"
    graph_file.write_text(graph, encoding="utf-8")
    return graph_file


def _bitrates_within(spec: ComposeSpec, budget: float) -> tuple[int, int]:
    """(video, audio) kb/s that fill `budget` (a fraction) of the size limit."""
    total_kbps = spec.size_limit_bytes * 8 * budget / spec.duration_s / 1000
    audio_kbps = min(spec.audio_bitrate_k, 96 if total_kbps < 1000 else spec.audio_bitrate_k)
    video_kbps = int(total_kbps - audio_kbps - 8)  # 8 kb/s for the container
    return video_kbps, audio_kbps


async def compose_video(spec: ComposeSpec, out_path: Path, progress: ProgressFn | None = None) -> ComposeResult:
    """Render the finished video to `out_path` (written under a temp name, then renamed).

    Raises ComposeError: `part` is "clip" or "music" for a missing or broken
    input, "output" when ffmpeg fails or the size limit cannot be met.
    """
    started = time.monotonic()
    out_path = Path(out_path)
    if not Path(spec.font_path).is_file() and spec.overlay:
        raise ComposeError("The caption font is missing from this installation.", part="text",
                           detail=str(spec.font_path))
    checks = [check_clip(spec.clip_path)] + ([check_music(spec.music_path)] if spec.music_path is not None else [])
    found = await asyncio.gather(*checks, return_exceptions=True)
    for outcome in found:  # the clip's problem first: without a clip there is nothing to offer
        if isinstance(outcome, BaseException):
            raise outcome
    clip: MediaInfo = found[0]  # type: ignore[assignment]
    music: MediaInfo | None = found[1] if len(found) > 1 else None  # type: ignore[assignment]
    # Pillow measures every caption line: CPU work, so not on the event loop
    cues = await asyncio.to_thread(plan_captions, spec) if spec.overlay else []
    loop = (clip.duration_s or 0) < spec.duration_s - 0.02

    out_path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ccbot-compose-"))
    tmp_out = out_path.with_name(f".{out_path.stem}.{uuid.uuid4().hex[:8]}.part.mp4")
    try:
        inputs, silence_input = _input_args(spec, clip, music, loop)
        graph_file = _write_graph(work, spec, clip, music, cues, silence_input)
        common = [*inputs, "-/filter_complex", str(graph_file), "-map", "[v]", "-map", "[a]",
                  "-t", num(spec.duration_s), "-map_metadata", "-1", "-map_chapters", "-1"]
        if spec.title:
            common += ["-metadata", f"title={spec.title[:200]}"]
        tail = ["-movflags", "+faststart", "-f", "mp4", str(tmp_out)]
        timeout = spec.timeout_s

        async def render(video_kbps: int | None, audio_kbps: int, lo: float, hi: float) -> int:
            async def scaled(percent: float) -> None:
                if progress is not None:
                    result = progress(lo + (hi - lo) * percent / 100)
                    if inspect.isawaitable(result):
                        await result
            try:
                await run_ffmpeg([*common, *_encode_args(spec, video_kbps, audio_kbps), *tail], timeout=timeout,
                                 progress=scaled if progress else None, total_duration=spec.duration_s)
            except FFmpegError as exc:
                raise ComposeError("Making the video failed; please try again.", part="output",
                                   detail=f"{exc}\n{exc.stderr_tail}") from exc
            return tmp_out.stat().st_size

        size = await render(None, spec.audio_bitrate_k, 0, 100)
        reencoded = False
        budget = 0.94
        while size > spec.size_limit_bytes:
            if budget < 0.8:
                raise ComposeError("The video came out too big to send; please choose a shorter length.",
                                   part="output", detail=f"{size} bytes > {spec.size_limit_bytes}")
            video_kbps, audio_kbps = _bitrates_within(spec, budget)
            if video_kbps < 100:
                raise ComposeError("The video is too long to fit the upload limit; please choose a shorter length.",
                                   part="output", detail=f"{video_kbps} kb/s for video")
            log.info("compose: %d bytes > %d, re-encoding at %d kb/s", size, spec.size_limit_bytes, video_kbps)
            size = await render(video_kbps, audio_kbps, 50, 100)
            reencoded = True
            budget -= 0.08
        await asyncio.to_thread(os.replace, tmp_out, out_path)
    finally:
        tmp_out.unlink(missing_ok=True)
        await asyncio.to_thread(shutil.rmtree, work, True)

    return ComposeResult(
        path=out_path,
        duration_s=spec.duration_s,
        width=spec.width,
        height=spec.height,
        size_bytes=size,
        has_music=music is not None,
        has_text=bool(cues),
        has_clip_audio=clip.has_audio and (music is None or spec.clip_audio == "duck"),
        looped=loop,
        reencoded=reencoded,
        cues=cues,
        elapsed_s=round(time.monotonic() - started, 3),
    )
