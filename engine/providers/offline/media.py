"""Video and music stand-ins: real MP4 and MP3 files rendered with ffmpeg."""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import Literal

from engine.media.ffmpeg import probe, run_ffmpeg
from engine.media.images import fit_image, in_image_worker
from engine.providers.base import FetchedFile, GenerationRequest, ProviderError
from engine.providers.offline.jobs import OfflineJobs, dimensions, number
from engine.providers.offline.pictures import draw_scene
from engine.providers.offline.seeds import stable_seed


_VIDEO_FPS = 24


class _OneFileJob(OfflineJobs):
    """A job that renders one file named after the job id, so a second fetch finds it on disk."""

    suffix = ""
    media_type: Literal["video", "audio"] = "video"

    async def _produce(self, job_id: str, request: GenerationRequest, out_dir: Path) -> list[FetchedFile]:
        dest = out_dir / f"{job_id}.{self.suffix}"
        if not dest.exists():
            await self._render(job_id, request, dest)
        info = await probe(dest)
        size = {"width": info.width, "height": info.height} if self.media_type == "video" else {}
        return [FetchedFile(local_path=str(dest.resolve()), media_type=self.media_type, provider_item_id=job_id,
                            duration_s=info.duration_s, **size)]

    async def _render(self, job_id: str, request: GenerationRequest, dest: Path) -> None:
        raise NotImplementedError


class OfflineVideoProvider(_OneFileJob):
    """img2vid: an H.264 MP4 of the source image with a slow, loop-friendly breathing zoom."""

    actions = frozenset({"img2vid"})
    suffix = "mp4"
    media_type = "video"

    def validate(self, request: GenerationRequest) -> None:
        super().validate(request)
        if request.source_image_path and not request.source_image_path.startswith(("http:", "https:")) \
                and not Path(request.source_image_path).is_file():
            raise ProviderError("The picture to animate is missing; please pick an image again.",
                                kind="invalid_request", provider=self.name)

    def _with_audio(self, request: GenerationRequest) -> bool:
        # Veo clips carry sound (so does Sora); Leonardo Motion clips are silent.
        return str(request.params.get("model", "")).upper().startswith("VEO") or self.name in ("veo", "sora")

    async def _render(self, job_id: str, request: GenerationRequest, dest: Path) -> None:
        params = request.params
        seconds = min(20.0, max(1.0, number(params.get("duration") or params.get("seconds")) or 5.0))
        width, height = dimensions(params)
        frames = max(1, round(seconds * _VIDEO_FPS))
        seconds = frames / _VIDEO_FPS
        with tempfile.TemporaryDirectory(prefix="ccbot-offvid-") as tmp:
            still = Path(tmp) / "still.png"
            source = request.source_image_path
            if source and Path(source).is_file():
                await in_image_worker(fit_image, source, width, height, still, mode="cover")
            else:
                await draw_scene(still, width, height, request.prompt or "a cozy pet", stable_seed(job_id), job_id)
            # One still in, `frames` frames out: zoom 1 -> 1.04 -> 1 (ends where it
            # starts, so it loops), from a 2x upscale done once, which keeps
            # zoompan's whole-pixel steps from jittering; plus a faint light shimmer.
            zoom = f"1+0.04*(1-cos(2*PI*on/{frames}))/2"
            video_filter = (
                f"[0:v]scale={width * 2}:{height * 2},"
                f"zoompan=z='{zoom}':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d={frames}"
                f":s={width}x{height}:fps={_VIDEO_FPS},"
                f"eq=eval=frame:brightness='0.012*sin(2*PI*t*2/{seconds:.4f})',format=yuv420p[v]"
            )
            args = ["-i", str(still)]
            maps = ["-map", "[v]"]
            if self._with_audio(request):
                args += ["-f", "lavfi", "-i", _ambient_source(seconds)]
                maps += ["-map", "1:a", "-c:a", "aac", "-b:a", "96k", "-ar", "44100", "-ac", "2"]
            tmp_out = dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}.part.mp4")
            args += ["-filter_complex", video_filter, *maps, "-frames:v", str(frames), "-t", f"{seconds:.4f}",
                     "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p",
                     "-r", str(_VIDEO_FPS), "-movflags", "+faststart", "-f", "mp4", str(tmp_out)]
            try:
                await run_ffmpeg(args, timeout=120 + seconds * 10)
                os.replace(tmp_out, dest)
            finally:
                tmp_out.unlink(missing_ok=True)


def _ambient_source(seconds: float) -> str:
    """A quiet room tone: two low, slowly breathing sines and a whisper of noise."""
    swell = f"(0.6+0.4*sin(2*PI*t/{max(seconds, 1):.3f}))"
    left = f"{swell}*(0.035*sin(2*PI*196*t)+0.02*sin(2*PI*293.7*t))+0.006*(random(0)-0.5)"
    right = f"{swell}*(0.035*sin(2*PI*196.5*t)+0.02*sin(2*PI*294.2*t))+0.006*(random(1)-0.5)"
    return f"aevalsrc=exprs='{left}|{right}':s=44100:d={seconds:.4f}"


_NOTE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def _parse_key(text: str) -> tuple[int, bool] | None:
    match = re.search(r"\b([A-G])\s*(#|♯|b|♭|-?flat|-?sharp)?\s*(major|minor|maj|min)\b", text, re.IGNORECASE)
    if not match:
        return None
    semitone = _NOTE[match.group(1).upper()]
    accidental = (match.group(2) or "").lower()
    semitone += 1 if accidental in ("#", "♯", "sharp", "-sharp") else -1 if accidental else 0
    return semitone % 12, match.group(3).lower().startswith("min")


def _music_source(seconds: float, bpm: float, root: int, minor: bool) -> str:
    """A soft pad plus a plucked arpeggio over I-V-vi-IV (or i-VI-III-VII), one chord per bar (mono)."""
    progression = ((0, 3, 7), (8, 12, 15), (3, 7, 10), (10, 14, 17)) if minor else \
        ((0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12))
    base = 48 + root  # pad around the third octave
    freq = [[440 * 2 ** ((base + n - 69) / 12) for n in chord] for chord in progression]
    beat = 60.0 / bpm
    bar = 4 * beat
    # Variables: 0 chord index, 1 pad swell, 2 pluck envelope, 3 beat in bar, 4-6 chord tones (Hz).
    steps = [
        f"st(0,mod(floor(t/{bar:.5f}),4))",
        f"st(1,0.5-0.5*cos(2*PI*mod(t,{bar:.5f})/{bar:.5f}))",  # swells to zero at chord changes: no clicks
        f"st(2,mod(t,{beat:.5f}))",
        "st(2,(1-exp(-60*ld(2)))*exp(-3.5*ld(2)))",  # pluck: soft attack, gentle decay
        f"st(3,mod(floor(t/{beat:.5f}),4))",
    ]
    for voice in range(3):
        steps.append(f"st({4 + voice}," + "+".join(f"eq(ld(0),{k})*{freq[k][voice]:.3f}" for k in range(4)) + ")")
    pad = "+".join(f"sin(2*PI*ld({4 + v})*t)" for v in range(3))
    arp = "eq(ld(3),0)*ld(4)+eq(ld(3),1)*ld(5)+eq(ld(3),2)*ld(6)+eq(ld(3),3)*ld(5)"  # root-3rd-5th-3rd
    expr = ";".join(steps) + f";0.1*ld(1)*({pad})+0.2*ld(2)*sin(4*PI*({arp})*t)"
    return f"aevalsrc=exprs='{expr}':s=44100:d={seconds:.4f}"


class OfflineMusicProvider(_OneFileJob):
    """txt2audio: an MP3 lullaby (pad + arpeggio) at the requested length and tempo."""

    actions = frozenset({"txt2audio"})
    suffix = "mp3"
    media_type = "audio"

    async def _render(self, job_id: str, request: GenerationRequest, dest: Path) -> None:
        params = request.params
        seconds = request.duration_hint_s
        if not seconds and (ms := number(params.get("music_length_ms"))):
            seconds = ms / 1000
        seconds = min(120.0, max(3.0, seconds or number(params.get("duration")) or 15.0))
        bpm = number(params.get("bpm"))
        bpm = min(160.0, max(40.0, bpm)) if bpm else 60.0 + stable_seed(request.prompt) % 25
        key = _parse_key(str(params.get("key") or "")) or _parse_key(request.prompt)
        root, minor = key if key else ((0, 2, 5, 7)[stable_seed(request.prompt, "key") % 4], False)
        fade_out = min(2.0, seconds / 3)
        tmp_out = dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}.part.mp3")
        args = ["-f", "lavfi", "-i", _music_source(seconds, bpm, root, minor),
                # echo for warmth, haas to turn the mono source into a gentle stereo image
                "-af", f"aecho=0.8:0.5:90:0.25,haas,afade=t=in:d=0.6,"
                       f"afade=t=out:st={seconds - fade_out:.3f}:d={fade_out:.3f}",
                "-t", f"{seconds:.4f}", "-c:a", "libmp3lame", "-b:a", "128k", "-ar", "44100", "-ac", "2",
                "-f", "mp3", str(tmp_out)]
        try:
            await run_ffmpeg(args, timeout=60 + seconds)
            os.replace(tmp_out, dest)
        finally:
            tmp_out.unlink(missing_ok=True)
