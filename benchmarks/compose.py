"""Final-video composition time against a plain re-encode of the same clip.

    python benchmarks/compose.py [--reps N]

Makes 720x1280 clips with the offline video provider (a still with a slow
zoom and an ambient sound track, as `make demo` does) and an offline music
track, then for each case times, interleaved and N times each (median):

- compose: `engine.compose.compose_video` with a two-paragraph, four-sentence
  caption and the music over the ducked clip sound;
- floor: one plain ffmpeg re-encode of the same clip to the same length with
  the same encoder settings (`libx264 -preset veryfast -crf 23`, AAC 128k,
  +faststart), looped the same way when the target is longer than the clip.

Wall and ffmpeg CPU time are both shown (CPU is steadier when the machine
is busy). Goals: compose <= 1.3x the floor, and <= 1x real time (compose seconds per
second of video) for the 12 s video. Cases: target = clip length (4, 8, 12 s)
and looped ones (a 4 s clip to 12 s, a 5 s clip to 15 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.compose import ComposeSpec, compose_video  # noqa: E402
from engine.media.ffmpeg import probe, run_ffmpeg  # noqa: E402
from engine.providers.base import GenerationRequest  # noqa: E402
from engine.providers.offline import OfflineMusicProvider, OfflineVideoProvider  # noqa: E402

CAPTION = [
    ["The rain can knock all it wants.", "This blanket fort is closed for the day."],
    ["Some days are made for naps.", "And for someone warm beside you."],
]
CASES = [  # (clip seconds, target seconds)
    (4, 4),
    (8, 8),
    (12, 12),
    (4, 12),
    (5, 15),
]


async def make_clip(folder: Path, seconds: int) -> Path:
    provider = OfflineVideoProvider("veo")  # Veo-style: with an ambient sound track
    request = GenerationRequest(action_type="img2vid", provider="leonardo", prompt="a sleepy ginger cat by a window",
                                params={"duration": seconds, "model": "VEO3_1", "resolution": "720p"})
    submitted = await provider.submit(request, folder)
    status = await provider.poll(submitted.job_id, submitted.provider_data)
    files = await provider.fetch(submitted.job_id, status, folder)
    return Path(files[0].local_path)


async def make_music(folder: Path, seconds: int) -> Path:
    provider = OfflineMusicProvider("elevenlabs")
    request = GenerationRequest(action_type="txt2audio", provider="elevenlabs", prompt="soft lullaby, C major",
                                params={"music_length_ms": seconds * 1000})
    submitted = await provider.submit(request, folder)
    status = await provider.poll(submitted.job_id, submitted.provider_data)
    files = await provider.fetch(submitted.job_id, status, folder)
    return Path(files[0].local_path)


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def floor(clip: Path, target: float, clip_s: float, out: Path) -> tuple[float, float]:
    loop = ["-stream_loop", "-1"] if clip_s < target - 0.02 else []
    cpu, start = child_cpu(), time.perf_counter()
    await run_ffmpeg([*loop, "-i", str(clip), "-t", f"{target:g}", "-c:v", "libx264", "-preset", "veryfast",
                      "-crf", "23", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
                      "-movflags", "+faststart", str(out)])
    return time.perf_counter() - start, child_cpu() - cpu


async def compose(clip: Path, music: Path, target: float, out: Path) -> tuple[float, float, int]:
    cpu, start = child_cpu(), time.perf_counter()
    result = await compose_video(ComposeSpec(clip_path=clip, music_path=music, overlay=CAPTION, duration_s=target,
                                             title="A cozy rainy day"), out)
    return time.perf_counter() - start, child_cpu() - cpu, result.size_bytes


async def main(reps: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ccbot-bench-") as tmp:
        folder = Path(tmp)
        print(f"preparing clips (offline provider, 720x1280) on {os.cpu_count()} cores ...", flush=True)
        clips = {s: await make_clip(folder, s) for s in sorted({c for c, _ in CASES})}
        music = await make_music(folder, 18)
        rows = []
        for clip_s, target in CASES:
            clip = clips[clip_s]
            info = await probe(clip)
            composes, floors, size = [], [], 0
            for rep in range(reps):
                floors.append(await floor(clip, target, info.duration_s or clip_s, folder / f"floor{rep}.mp4"))
                *took, size = await compose(clip, music, target, folder / f"final{rep}.mp4")
                composes.append(took)
            out = await probe(folder / "final0.mp4")
            c = statistics.median(t for t, _ in composes)
            f = statistics.median(t for t, _ in floors)
            c_cpu = statistics.median(u for _, u in composes)
            f_cpu = statistics.median(u for _, u in floors)
            rows.append((clip_s, target, c, f, c / f, c_cpu / f_cpu, c / target, size, out.duration_s))
        print()
        print(f"compose vs plain re-encode (median of {reps}; goal ratio <= 1.3, 12 s video <= 1.0x real time)")
        print(f"{'clip s':>6} {'video s':>7} {'looped':>6} {'compose s':>9} {'floor s':>8} {'ratio':>6} "
              f"{'cpu ratio':>9} {'x real':>7} {'size MB':>8} {'probed s':>8}")
        for clip_s, target, c, f, ratio, cpu_ratio, realtime, size, probed in rows:
            print(f"{clip_s:>6} {target:>7} {'yes' if target > clip_s else 'no':>6} {c:>9.2f} {f:>8.2f} "
                  f"{ratio:>6.2f} {cpu_ratio:>9.2f} {realtime:>7.2f} {size / 1e6:>8.2f} {probed:>8.2f}")
        print("ratio = wall time / floor wall time; cpu ratio = ffmpeg CPU seconds / floor's (steadier on a busy "
              "machine); x real = compose seconds per second of video")

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    asyncio.run(main(parser.parse_args().reps))
