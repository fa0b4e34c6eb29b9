"""The finished video: the chosen clip, caption and music in one MP4 (ffmpeg).

`compose_video(spec, out_path)` renders with one ffmpeg run:

- **Clip**: looped (`-stream_loop`) or trimmed (`-t`) to the target length,
  scaled to the frame (a small aspect difference is cropped away, a big one is
  letterboxed) unless it already has the target size.
- **Caption**: one sentence on screen at a time (the caption step writes each
  sentence as one caption screen). Each paragraph gets an equal share of the
  video; inside a paragraph a sentence's time is proportional to its length
  (with a floor, so a short line is not a flash). Sentences cross-fade quickly
  (0.15 s); the first is visible from the first frame (it makes the
  thumbnail), the last stays to the end. Lines are wrapped here with Pillow
  measuring the same font file ffmpeg draws with (balanced, at most three
  lines, the font shrinks a little before a fourth), centred, white with a dark
  outline and a soft shadow, inside the 9:16 safe area: the middle 80 % of the
  width and between 15 % and 70 % of the height (around the upper third), away
  from the bottom where TikTok, Reels and Shorts put their caption, buttons and
  progress bar, and from the right-hand icon column.
- **Audio**: the music with a short fade-in and fade-out, over the clip's own
  sound ducked by a fixed 15 dB (a quiet ambient bed: clips carry room tone,
  not speech, so a fixed duck sounds steadier than a side-chain that pumps),
  through a limiter. Without music the clip's own sound plays at full level;
  without either a silent track is added: a posted video always has audio.
- **Output**: H.264 (yuv420p) + AAC, `+faststart`, exactly the target length.
  If the file is over the size limit it is rendered again at a computed bitrate.

The text goes to ffmpeg through `textfile=` files (no escaping of the words)
with `expansion=none`, and the font through `fontfile=` with the shipped font:
nothing relies on fontconfig. Characters the font has no glyph for (emoji,
most non-Latin scripts) are removed from the burned-in text on purpose.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import re
import shutil
import tempfile
import time
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from functools import lru_cache
from pathlib import Path
from typing import Literal

from PIL import ImageFont
from pydantic import BaseModel, Field, field_validator

from engine.media import CAPTION_FONT
from engine.media.ffmpeg import FFmpegError, MediaInfo, ProbeError, probe, run_ffmpeg

log = logging.getLogger(__name__)

ProgressFn = Callable[[float], Awaitable[None] | None]

DEFAULT_SIZE_LIMIT = 49_000_000  # under the Bot API's 50 MB upload limit, in either unit

# Safe area, as fractions of the frame.
SAFE_WIDTH = 0.80  # the text block fits the middle 80 % of the width
SAFE_TOP = 0.15  # below the platforms' top bar
SAFE_BOTTOM = 0.70  # above their caption, buttons and progress bar
TEXT_CENTER = 0.33  # the block's preferred centre: the upper third
MAX_LINES = 3  # per caption screen; longer sentences get a smaller font
CUE_FADE_S = 0.15
MIN_CUE_WEIGHT = 14  # characters: a very short line still gets time to be read


class ComposeError(RuntimeError):
    """The video could not be made. `part` names the input at fault, if one is."""

    def __init__(self, message: str, *, part: Literal["clip", "music", "text", "output"] = "output",
                 detail: str = "") -> None:
        super().__init__(message)
        self.part = part
        self.detail = detail


class ComposeSpec(BaseModel):
    clip_path: Path
    music_path: Path | None = None
    # paragraphs, each a list of sentences (one caption screen per sentence)
    overlay: list[list[str]] | None = None
    duration_s: float = Field(gt=0, le=600)
    width: int = Field(720, ge=64, le=4096)
    height: int = Field(1280, ge=64, le=4096)
    font_path: Path = CAPTION_FONT
    size_limit_bytes: int = Field(DEFAULT_SIZE_LIMIT, gt=0)
    fade_in_s: float = Field(0.5, ge=0)
    fade_out_s: float = Field(1.5, ge=0)
    music_gain_db: float = -1.0
    clip_audio: Literal["duck", "replace"] = "duck"  # with music: keep the clip's sound quietly, or drop it
    clip_audio_duck_db: float = -15.0
    text_box: bool = False  # a translucent box behind the caption, as well as the outline
    title: str = ""
    crf: int = Field(23, ge=0, le=51)
    preset: str = "veryfast"
    audio_bitrate_k: int = Field(128, ge=32, le=320)
    timeout_s: float = 600

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: int) -> int:
        return value - value % 2  # yuv420p needs even sizes


class CaptionCue(BaseModel):
    """One caption screen as burned in: when, what, and where (pixels)."""

    start_s: float
    end_s: float
    lines: list[str]
    font_size: int
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the text block (outline included)


class ComposeResult(BaseModel):
    path: Path
    duration_s: float
    width: int
    height: int
    size_bytes: int
    has_music: bool
    has_text: bool
    has_clip_audio: bool  # the clip's own sound is in the mix
    looped: bool
    reencoded: bool = False  # a second pass at a computed bitrate kept the file under the limit
    cues: list[CaptionCue] = Field(default_factory=list)
    elapsed_s: float = 0.0


# ----------------------------------------------------------------- caption text

_ALWAYS_DROP = re.compile(
    "[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufe00-\ufe0f\u20e3\ufeff"
    "\U0001f3fb-\U0001f3ff\U000e0000-\U000e007f]"
)  # zero-width and direction marks, variation selectors, keycaps, skin tones, tags


@lru_cache(maxsize=64)
def _font(font_path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_path, size)


@lru_cache(maxsize=4096)
def _has_glyph(font_path: str, char: str) -> bool:
    font = _font(font_path, 48)
    def signature(c: str) -> tuple[object, ...]:
        mask = font.getmask(c)
        return mask.size, bytes(mask), font.getlength(c)
    # a missing glyph renders as the font's .notdef box, like an unassigned code point does
    return signature(char) != signature("\U0010fffd")


def drawable_text(text: str, font_path: Path | str = CAPTION_FONT) -> str:
    """`text` with what the font cannot draw removed (emoji, unsupported scripts,
    control and zero-width characters) and whitespace collapsed."""
    font = str(font_path)
    gone = "\0"  # marks a removed character until the gaps are tidied
    text = _ALWAYS_DROP.sub(gone, unicodedata.normalize("NFC", str(text).replace(gone, "")))
    kept = []
    for char in text:
        if char.isspace():
            kept.append(" ")
        elif char == gone or unicodedata.category(char)[0] == "C" or not _has_glyph(font, char):
            kept.append(gone)
        else:
            kept.append(char)
    # "nap 🐾!" must not become "nap !": a removal before punctuation takes its space along
    cleaned = re.sub(r"[\s\0]*\0[\s\0]*(?=[,.!?;:…])", "", "".join(kept)).replace(gone, "")
    return re.sub(r"\s+", " ", cleaned).strip()


def _split_long_word(word: str, font: ImageFont.FreeTypeFont, max_w: float) -> list[str]:
    parts, current = [], ""
    for char in word:
        if current and font.getlength(current + char) > max_w:
            parts.append(current)
            current = char
        else:
            current += char
    return parts + ([current] if current else [])


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_w: float) -> list[str]:
    """Greedy word wrap measured with the font; a word wider than a line is split."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        pieces = [word] if font.getlength(word) <= max_w else _split_long_word(word, font, max_w)
        for piece in pieces:
            candidate = f"{current} {piece}" if current else piece
            if current and font.getlength(candidate) > max_w:
                lines.append(current)
                current = piece
            else:
                current = candidate
    if current:
        lines.append(current)
    return lines


def balanced_wrap(text: str, font: ImageFont.FreeTypeFont, max_w: float) -> list[str]:
    """The fewest lines `wrap_text` needs, made as even as possible (no lone last word)."""
    lines = wrap_text(text, font, max_w)
    if len(lines) < 2:
        return lines
    low, high = max_w / len(lines), max_w
    best = lines
    for _ in range(12):  # binary search for the narrowest width that keeps the line count
        middle = (low + high) / 2
        attempt = wrap_text(text, font, middle)
        if len(attempt) <= len(lines) and all(font.getlength(line) <= middle for line in attempt):
            best, high = attempt, middle
        else:
            low = middle
    return best


def _style(size: int) -> tuple[int, int, int]:
    """(outline width, line spacing, shadow offset) for a font size."""
    return max(2, round(size / 14)), round(size * 0.18), max(1, round(size / 22))


def layout_caption(text: str, width: int, height: int, font_path: Path | str) -> tuple[list[str], int, tuple[int, int, int, int]]:
    """Wrap `text` for a `width` x `height` frame: (lines, font size, block box)."""
    base = round(min(width * 0.07, height * 0.04))
    size = base
    max_w = width * SAFE_WIDTH
    while True:
        font = _font(str(font_path), size)
        border, spacing, _ = _style(size)
        lines = balanced_wrap(text, font, max_w - 2 * border)
        if len(lines) <= MAX_LINES or size <= base * 0.7:
            break
        size -= 2
    ascent, descent = font.getmetrics()
    line_h = ascent + descent
    block_w = max(font.getlength(line) for line in lines) + 2 * border
    block_h = len(lines) * line_h + (len(lines) - 1) * spacing + 2 * border
    top = min(max(height * TEXT_CENTER - block_h / 2, height * SAFE_TOP), height * SAFE_BOTTOM - block_h)
    top = max(0.0, top)
    x0 = (width - block_w) / 2
    box = (int(x0), int(top), int(x0 + block_w + 0.999), int(top + block_h + 0.999))
    return lines, size, box


def caption_timing(paragraphs: list[list[str]], duration_s: float) -> list[tuple[float, float, str]]:
    """(start, end, sentence) for each sentence: equal shares per paragraph,
    length-weighted shares per sentence inside it, end to end over the video."""
    paragraphs = [p for p in paragraphs if p]
    cues: list[tuple[float, float, str]] = []
    if not paragraphs:
        return cues
    share = duration_s / len(paragraphs)
    for index, sentences in enumerate(paragraphs):
        start = index * share
        weights = [max(len(s), MIN_CUE_WEIGHT) for s in sentences]
        total = sum(weights)
        for sentence, weight in zip(sentences, weights):
            end = start + share * weight / total
            cues.append((round(start, 3), round(end, 3), sentence))
            start = end
    last_start, _, last_text = cues[-1]
    cues[-1] = (last_start, round(duration_s, 3), last_text)
    return cues


def plan_captions(spec: ComposeSpec) -> list[CaptionCue]:
    paragraphs = []
    for paragraph in spec.overlay or []:
        sentences = [drawable_text(s, spec.font_path) for s in paragraph]
        sentences = [s for s in sentences if s]
        if sentences:
            paragraphs.append(sentences)
    cues = []
    for start, end, sentence in caption_timing(paragraphs, spec.duration_s):
        lines, size, box = layout_caption(sentence, spec.width, spec.height, spec.font_path)
        cues.append(CaptionCue(start_s=start, end_s=end, lines=lines, font_size=size, box=box))
    return cues


# ------------------------------------------------------------ filter graph text

def _escape_value(value: str) -> str:
    """A filter option value, escaped for the option parser and then for the
    filtergraph parser (ffmpeg-filters "Notes on filtergraph escaping")."""
    level1 = re.sub(r"([\\':])", r"\\\1", value)
    return re.sub(r"([\\'\[\],;])", r"\\\1", level1)


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _drawtext(cue: CaptionCue, text_file: Path, spec: ComposeSpec, first: bool, last: bool) -> str:
    border, spacing, shadow = _style(cue.font_size)
    s, e = cue.start_s, cue.end_s
    fade = min(CUE_FADE_S, (e - s) / 4)
    terms = ["1"]
    if not first and fade > 0:
        terms.append(f"(t-{_num(s)})/{_num(fade)}")
    if not last and fade > 0:
        terms.append(f"({_num(e)}-t)/{_num(fade)}")
    alpha = terms[0]
    for term in terms[1:]:  # ffmpeg's min() takes two arguments
        alpha = f"min({alpha},{term})"
    if len(terms) > 1:
        alpha = f"max(0,{alpha})"
    options = {
        "fontfile": str(spec.font_path),
        "textfile": str(text_file),
        "expansion": "none",
        "fontsize": str(cue.font_size),
        "fontcolor": "white",
        "borderw": str(border),
        "bordercolor": "black@0.85",
        "shadowcolor": "black@0.45",
        "shadowx": str(shadow),
        "shadowy": str(shadow),
        "line_spacing": str(spacing),
        "text_align": "C",
        "y_align": "font",
        "x": "(w-text_w)/2",
        "y": str(cue.box[1] + border),
        "alpha": alpha,
        "enable": f"gte(t,{_num(s)})*lt(t,{_num(e if not last else e + 1)})",
    }
    if spec.text_box:
        options |= {"box": "1", "boxcolor": "black@0.35", "boxborderw": str(border * 4)}
    return "drawtext=" + ":".join(f"{k}={_escape_value(v)}" for k, v in options.items())


def _video_chain(spec: ComposeSpec, clip: MediaInfo, text_filters: list[str]) -> str:
    w, h = spec.width, spec.height
    steps: list[str] = []
    if (clip.width, clip.height) != (w, h):
        src_ratio = (clip.width or w) / (clip.height or h)
        if abs(src_ratio / (w / h) - 1) <= 0.12:  # nearly the same shape: fill, cropping a sliver
            steps += [f"scale={w}:{h}:force_original_aspect_ratio=increase", f"crop={w}:{h}"]
        else:  # a different shape: fit and letterbox rather than cut the pet off
            steps += [f"scale={w}:{h}:force_original_aspect_ratio=decrease",
                      f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black"]
    steps.append("setsar=1")
    if not clip.fps or clip.fps > 60:
        steps.append("fps=30")
    steps += text_filters
    steps.append("format=yuv420p")
    return "[0:v]" + ",".join(steps) + "[v]"


def _audio_chain(spec: ComposeSpec, clip_has_audio: bool, music: MediaInfo | None, silence_input: int | None) -> str:
    d = spec.duration_s
    fade_in = min(spec.fade_in_s, d / 4)
    fade_out = min(spec.fade_out_s, d / 3)
    fmt = "aformat=sample_fmts=fltp:sample_rates=44100:channel_layouts=stereo"
    parts: list[str] = []
    mix_inputs: list[str] = []
    if music is not None:
        music_end = min(d, music.duration_s or d)
        chain = [fmt, f"volume={spec.music_gain_db}dB"]
        if music_end < d:  # a short track fades out at its own end, then silence
            chain.append(f"afade=t=out:st={_num(max(0.0, music_end - fade_out))}:d={_num(fade_out)}")
        chain.append("apad")
        parts.append("[1:a]" + ",".join(chain) + "[music]")
        mix_inputs.append("[music]")
        if clip_has_audio and spec.clip_audio == "duck":
            parts.append(f"[0:a]{fmt},volume={spec.clip_audio_duck_db}dB,apad[bed]")
            mix_inputs.append("[bed]")
    elif clip_has_audio:
        parts.append(f"[0:a]{fmt},apad[bed]")
        mix_inputs.append("[bed]")
    else:
        parts.append(f"[{silence_input}:a]{fmt}[silence]")
        mix_inputs.append("[silence]")
    tail = [f"atrim=0:{_num(d)}"]
    if music is not None or clip_has_audio:
        tail += [f"afade=t=in:d={_num(fade_in)}", f"afade=t=out:st={_num(d - fade_out)}:d={_num(fade_out)}"]
    if len(mix_inputs) > 1:
        head = "".join(mix_inputs) + f"amix=inputs={len(mix_inputs)}:normalize=0:duration=longest,"
        tail.append("alimiter=limit=0.97:level=0")
    else:
        head = mix_inputs[0] + "anull,"
    parts.append(head + ",".join(tail) + "[a]")
    return ";".join(parts)


# ------------------------------------------------------------------ inputs

def _iso_bmff_truncated(path: Path) -> bool:
    """True when an MP4/MOV's top-level boxes run past the end of the file (a cut-off download)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(12)
            if len(head) < 12 or head[4:8] not in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
                return False  # not ISO BMFF: nothing to say
            offset = 0
            while offset < size:
                handle.seek(offset)
                header = handle.read(16)
                if len(header) < 8:
                    return True
                box = int.from_bytes(header[:4], "big")
                if box == 1:
                    if len(header) < 16:
                        return True
                    box = int.from_bytes(header[8:16], "big")
                elif box == 0:  # runs to the end of the file
                    return False
                if box < 8 or offset + box > size:
                    return True
                offset += box
            return False
    except OSError:
        return True


async def check_clip(path: Path) -> MediaInfo:
    """The clip's facts, or ComposeError(part="clip") with a sentence a person understands."""
    try:
        info = await probe(path)
    except ProbeError as exc:
        missing = not Path(path).is_file()
        message = ("The video clip is missing; please pick or generate the clip again." if missing else
                   "The video clip is damaged and cannot be read; please generate the clip again.")
        raise ComposeError(message, part="clip", detail=str(exc)) from None
    if not info.has_video or not info.duration_s or info.duration_s <= 0:
        raise ComposeError("The video clip has no pictures in it; please generate the clip again.",
                           part="clip", detail=f"probe: {info.model_dump()}")
    if await asyncio.to_thread(_iso_bmff_truncated, Path(path)):
        raise ComposeError("The video clip is incomplete (the file was cut off); please generate the clip again.",
                           part="clip", detail=f"{path}: a box runs past the end of the file")
    return info


async def check_music(path: Path) -> MediaInfo:
    """The music's facts, or ComposeError(part="music")."""
    try:
        info = await probe(path)
    except ProbeError as exc:
        missing = not Path(path).is_file()
        message = ("The music file is missing." if missing else
                   "The music file is damaged and cannot be played.")
        raise ComposeError(message, part="music", detail=str(exc)) from None
    if not info.has_audio or not info.duration_s or info.duration_s <= 0.05:
        raise ComposeError("The music file is damaged: it has no sound in it.", part="music",
                           detail=f"probe: {info.model_dump()}")
    return info


# ------------------------------------------------------------------ render

def _encode_args(spec: ComposeSpec, video_kbps: int | None, audio_kbps: int) -> list[str]:
    args = ["-c:v", "libx264", "-preset", spec.preset, "-pix_fmt", "yuv420p", "-profile:v", "high"]
    if video_kbps is None:
        args += ["-crf", str(spec.crf)]
    else:
        args += ["-b:v", f"{video_kbps}k", "-maxrate", f"{video_kbps}k", "-bufsize", f"{video_kbps * 2}k"]
    return args + ["-c:a", "aac", "-b:a", f"{audio_kbps}k", "-ar", "44100", "-ac", "2"]


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
    cues = plan_captions(spec) if spec.overlay else []
    loop = (clip.duration_s or 0) < spec.duration_s - 0.02

    out_path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ccbot-compose-"))
    tmp_out = out_path.with_name(f".{out_path.stem}.{uuid.uuid4().hex[:8]}.part.mp4")
    try:
        text_filters = []
        for index, cue in enumerate(cues):
            text_file = work / f"cue{index}.txt"
            text_file.write_text("\n".join(cue.lines), encoding="utf-8")
            text_filters.append(_drawtext(cue, text_file, spec, index == 0, index == len(cues) - 1))

        inputs = (["-stream_loop", "-1"] if loop else []) + ["-i", str(spec.clip_path)]
        silence_input = None
        if music is not None:
            inputs += ["-i", str(spec.music_path)]
        elif not clip.has_audio:
            silence_input = 1
            inputs += ["-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo"]
        graph = _video_chain(spec, clip, text_filters) + ";" + _audio_chain(spec, clip.has_audio, music, silence_input)
        graph_file = work / "graph.txt"
        graph_file.write_text(graph, encoding="utf-8")
        common = [*inputs, "-/filter_complex", str(graph_file), "-map", "[v]", "-map", "[a]",
                  "-t", _num(spec.duration_s), "-map_metadata", "-1", "-map_chapters", "-1"]
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
            total_kbps = spec.size_limit_bytes * 8 * budget / spec.duration_s / 1000
            audio_kbps = min(spec.audio_bitrate_k, 96 if total_kbps < 1000 else spec.audio_bitrate_k)
            video_kbps = int(total_kbps - audio_kbps - 8)  # 8 kb/s for the container
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


__all__ = [
    "CaptionCue",
    "ComposeError",
    "ComposeResult",
    "ComposeSpec",
    "caption_timing",
    "check_clip",
    "check_music",
    "compose_video",
    "drawable_text",
    "layout_caption",
    "plan_captions",
    "wrap_text",
]
