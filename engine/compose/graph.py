"""The ffmpeg filter graph of the finished video: picture chain with captions, audio mix.

- Picture: scaled to the frame unless it already has the target size (a
  small aspect difference is cropped away, a big one is letterboxed), one
  `drawtext` per caption screen (text from a `textfile=`, `expansion=none`,
  the shipped `fontfile=`: nothing relies on fontconfig), white with a dark
  outline and a soft shadow, cross-fading in 0.15 s.
- Sound: the music with a short fade-in and fade-out, over the clip's own
  sound ducked by a fixed 15 dB (a quiet ambient bed: clips carry room tone,
  not speech, so a fixed duck sounds steadier than a side-chain that pumps),
  through a limiter. Without music the clip's own sound plays at full level;
  without either a silent input is used: a posted video always has audio.
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.compose.captions import caption_style
from engine.compose.spec import CaptionCue, ComposeSpec
from engine.media.ffmpeg import MediaInfo

CUE_FADE_S = 0.15


def _escape_value(value: str) -> str:
    """A filter option value, escaped for the option parser and then for the
    filtergraph parser (ffmpeg-filters "Notes on filtergraph escaping")."""
    level1 = re.sub(r"([\\':])", r"\\\1", value)
    return re.sub(r"([\\'\[\],;])", r"\\\1", level1)


def num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def drawtext(cue: CaptionCue, text_file: Path, spec: ComposeSpec, first: bool, last: bool) -> str:
    border, spacing, shadow = caption_style(cue.font_size)
    s, e = cue.start_s, cue.end_s
    fade = min(CUE_FADE_S, (e - s) / 4)
    terms = ["1"]
    if not first and fade > 0:
        terms.append(f"(t-{num(s)})/{num(fade)}")
    if not last and fade > 0:
        terms.append(f"({num(e)}-t)/{num(fade)}")
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
        "enable": f"gte(t,{num(s)})*lt(t,{num(e if not last else e + 1)})",
    }
    if spec.text_box:
        options |= {"box": "1", "boxcolor": "black@0.35", "boxborderw": str(border * 4)}
    return "drawtext=" + ":".join(f"{k}={_escape_value(v)}" for k, v in options.items())


def video_chain(spec: ComposeSpec, clip: MediaInfo, text_filters: list[str]) -> str:
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


def audio_chain(spec: ComposeSpec, clip_has_audio: bool, music: MediaInfo | None, silence_input: int | None) -> str:
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
            chain.append(f"afade=t=out:st={num(max(0.0, music_end - fade_out))}:d={num(fade_out)}")
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
    tail = [f"atrim=0:{num(d)}"]
    if music is not None or clip_has_audio:
        tail += [f"afade=t=in:d={num(fade_in)}", f"afade=t=out:st={num(d - fade_out)}:d={num(fade_out)}"]
    if len(mix_inputs) > 1:
        head = "".join(mix_inputs) + f"amix=inputs={len(mix_inputs)}:normalize=0:duration=longest,"
        tail.append("alimiter=limit=0.97:level=0")
    else:
        head = mix_inputs[0] + "anull,"
    parts.append(head + ",".join(tail) + "[a]")
    return ";".join(parts)
