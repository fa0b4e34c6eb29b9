"""Provider outputs of realistic size, made once (cached on disk across runs).

- images: 864x1536 photo-like PNGs (gradients, blurred blobs, fine noise), 1.5-2 MB
  each, like gpt-image's; JPEG versions for Leonardo's CDN;
- clips: 5 s 720x1280 H.264 MP4s at 4-6 Mbit/s with moving noise, 2.5-4 MB
  each, like a Motion 2.0 clip;
- songs: 128 kbit/s MP3s of 10, 15, 20 and 30 s (ElevenLabs' mp3_44100_128).

The clips and songs come from the ffmpeg of imageio_ffmpeg (the one the bot
uses), all made in threads at start; serving them is then a memory copy.
"""

from __future__ import annotations

import io
import itertools
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, ImageChops

CACHE = Path(tempfile.gettempdir()) / "ccbot-bench-media-v1"
IMAGE_SIZE = (864, 1536)
NOISE = (1.0, 1.5, 2.0, 2.5)  # one image per noise level: 1.5-2 MB PNGs
CLIP_BITRATES = ("4M", "5M", "6M")  # 5 s at 720x1280: ~2.7, 3.4, 4.1 MB
SONG_SECONDS = (10, 15, 20, 30)


def photo(width: int, height: int, noise: float, variant: int) -> Image.Image:
    """Something that compresses like a photo: smooth areas, soft shapes, sensor noise."""
    g = Image.linear_gradient("L").resize((width, height))
    base = Image.merge("RGB", (g, g.rotate(90, expand=True).resize((width, height)), ImageChops.invert(g)))
    blobs = Image.effect_noise((max(2, width // 32), max(2, height // 32)), 60).resize((width, height), Image.BICUBIC)
    base = Image.blend(base, Image.merge("RGB", (blobs, blobs.rotate(180 + variant), blobs)), 0.5)
    grain = Image.merge("RGB", [Image.effect_noise((width, height), noise) for _ in range(3)])
    return ImageChops.add(base, grain, scale=1.0, offset=-128)


def encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "png":
        image.save(out, format="PNG")
    else:
        image.save(out, format="JPEG", quality=92)
    return out.getvalue()


def _ffmpeg(args: list[str], out: Path) -> None:
    import imageio_ffmpeg

    tmp = out.with_name(out.name + ".part" + out.suffix)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args, str(tmp)],
                   check=True, timeout=300)
    tmp.replace(out)


def _clip(path: Path, bitrate: str, seed: int) -> None:
    _ffmpeg(["-f", "lavfi", "-i", f"testsrc2=s=720x1280:r=24:d=5,noise=alls=25:allf=t+u:all_seed={seed}",
             "-c:v", "libx264", "-preset", "ultrafast", "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", "8M",
             "-pix_fmt", "yuv420p", "-movflags", "+faststart"], path)


def _song(path: Path, seconds: int) -> None:
    _ffmpeg(["-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}",
             "-f", "lavfi", "-i", f"anoisesrc=color=pink:amplitude=0.2:duration={seconds}",
             "-filter_complex", "amix=inputs=2", "-ac", "2", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "128k"],
            path)


def _image(path: Path, noise: float, variant: int) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(encode(photo(*IMAGE_SIZE, noise, variant), "png"))
    tmp.replace(path)


class Media:
    """What the fakes serve: `image(w, h, fmt)`, `video()`, `audio(length_ms)` (thread-safe)."""

    def __init__(self, images: list[bytes], clips: list[bytes], songs: dict[int, bytes]) -> None:
        self._png = images
        self._clips = clips
        self._songs = songs
        self._other: dict[tuple[int, int, str, int], bytes] = {}  # other sizes/formats, made on first use
        self._next = itertools.count()
        self._lock = threading.Lock()

    def image(self, width: int, height: int, fmt: str) -> bytes:
        n = next(self._next) % len(self._png)
        if (width, height) == IMAGE_SIZE and fmt == "png":
            return self._png[n]
        key = (width, height, fmt, n)
        with self._lock:
            if key not in self._other:
                if (width, height) == IMAGE_SIZE:
                    picture = Image.open(io.BytesIO(self._png[n])).convert("RGB")
                else:
                    picture = photo(width, height, NOISE[n % len(NOISE)], n)
                self._other[key] = encode(picture, fmt)
            return self._other[key]

    def video(self) -> bytes:
        return self._clips[next(self._next) % len(self._clips)]

    def audio(self, length_ms: int) -> bytes:
        seconds = min(self._songs, key=lambda s: (abs(s * 1000 - length_ms), s))
        return self._songs[seconds]

    def sizes(self) -> str:
        mb = lambda items: "/".join(f"{len(b) / 1e6:.1f}" for b in items)  # noqa: E731
        return (f"images {mb(self._png)} MB, clips {mb(self._clips)} MB, "
                f"songs {'/'.join(f'{s}s' for s in self._songs)} ({mb(self._songs.values())} MB)")


def make_media(cache: Path = CACHE) -> Media:
    """Every file, made in parallel threads when not cached yet."""
    cache.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[Path, object, tuple[object, ...]]] = []
    images = [cache / f"image-{i}.png" for i in range(len(NOISE))]
    clips = [cache / f"clip-{rate}.mp4" for rate in CLIP_BITRATES]
    songs = {s: cache / f"song-{s}s.mp3" for s in SONG_SECONDS}
    jobs += [(p, _image, (NOISE[i], i)) for i, p in enumerate(images)]
    jobs += [(p, _clip, (CLIP_BITRATES[i], i + 1)) for i, p in enumerate(clips)]
    jobs += [(p, _song, (s,)) for s, p in songs.items()]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(fn, path, *args) for path, fn, args in jobs if not path.exists()]:  # type: ignore[operator]
            future.result()
    return Media([p.read_bytes() for p in images], [p.read_bytes() for p in clips],
                 {s: p.read_bytes() for s, p in songs.items()})


if __name__ == "__main__":
    print(make_media().sizes())
