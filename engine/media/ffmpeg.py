"""ffmpeg as a child process of the event loop: run, probe, grab a frame.

The imageio-ffmpeg wheel ships an ffmpeg binary but no ffprobe, so `probe()`
reads the stream summary ffmpeg prints for `ffmpeg -i <file>`. Nothing here
blocks the event loop and nothing goes through a shell.

Every ffmpeg, probes included, waits for one of a few slots (one per CPU),
runs at a lower CPU priority than the bot, and in a session of its own: a
SIGTERM to the bot's process group (a service manager or Docker stopping it)
does not kill a render half way; the bot stops it itself, cleanly, and runs
it again after the restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import re
import shutil
import uuid
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

from engine.media import spawn

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float], Awaitable[None] | None]

_TAIL_LINES = 8  # stderr lines quoted in an error: enough to name the cause


class FFmpegError(RuntimeError):
    """ffmpeg failed, timed out, or could not read a file.

    `stderr_tail` holds ffmpeg's last lines (for logs); the message is short
    and names the cause.
    """

    def __init__(self, message: str, *, returncode: int | None = None, stderr_tail: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class ProbeError(FFmpegError):
    """The file is missing or is not a readable media file."""


class MediaInfo(BaseModel):
    path: str
    duration_s: float | None = None  # None for still images and unknown lengths
    width: int | None = None
    height: int | None = None
    has_video: bool = False  # cover art in an MP3 does not count
    has_audio: bool = False
    video_codec: str | None = None
    audio_codec: str | None = None
    fps: float | None = None
    size_bytes: int = 0


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """The system ffmpeg if there is one, else the binary in the imageio-ffmpeg wheel."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg  # imported late: only needed on machines without ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _tail(text: str, lines: int = _TAIL_LINES) -> str:
    kept = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


async def _kill(proc: spawn.Child) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(Exception):
            await proc.wait()


async def _report(progress: ProgressCallback, percent: float) -> None:
    # A broken progress display must not fail the render it reports on.
    try:
        result = progress(percent)
        if inspect.isawaitable(result):
            await result
    except Exception:  # noqa: BLE001
        log.warning("ffmpeg progress callback failed", exc_info=True)


async def _drain(stream: asyncio.StreamReader, keep: deque[bytes]) -> None:
    # Reads until EOF so ffmpeg never stalls on a full pipe; keeps the tail only.
    while chunk := await stream.read(65536):
        keep.append(chunk)


async def _follow_progress(
    stream: asyncio.StreamReader, progress: ProgressCallback, total: float
) -> None:
    # `-progress pipe:1` writes key=value blocks; out_time_us is microseconds.
    while line := await stream.readline():
        key, _, value = line.decode("ascii", "replace").strip().partition("=")
        if key in ("out_time_us", "out_time_ms") and value.lstrip("-").isdigit():
            percent = max(0.0, min(100.0, int(value) / 1e6 / total * 100))
            await _report(progress, percent)


# At most one encode per CPU at a time, each at a lower CPU priority: thirty
# people rendering at once must not starve the bot's event loop (its replies
# wait for CPU time) nor hold thirty encoders in memory. Per event loop,
# because an asyncio.Semaphore belongs to the loop that first waits on it.
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()
NICE = 10


def _ffmpeg_slot() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slot = _SLOTS.get(loop)
    if slot is None:
        slot = _SLOTS[loop] = asyncio.Semaphore(max(1, os.cpu_count() or 1))
    return slot


@lru_cache(maxsize=1)
def _low_priority_prefix() -> tuple[str, ...]:
    """Linux's idle scheduling class where `chrt` exists: an encoder then runs only on CPU
    time that nothing of normal priority wants, so a waking bot takes the core at once (at
    nice 10 the loops of the bot and of the benchmark's fakes stalled up to 200 ms behind
    two encoders on two cores, 13-27 ms in the idle class); `nice` elsewhere."""
    idle = shutil.which("chrt")
    if idle:
        return (idle, "--idle", "0")
    found = shutil.which("nice")
    return (found, "-n", str(NICE)) if found else ()


async def run_ffmpeg(
    args: list[str],
    *,
    timeout: float = 300,
    progress: ProgressCallback | None = None,
    total_duration: float | None = None,
) -> None:
    """Run `ffmpeg <args>` (no shell); raise FFmpegError on failure or timeout.

    `progress` receives a percentage (0-100): while running when
    `total_duration` (seconds of output) is known, and 100 once finished.
    On timeout or cancellation the process is killed before returning.
    Waits for a free slot first (one ffmpeg per CPU); `timeout` starts then.
    """
    async with _ffmpeg_slot():
        await _run_ffmpeg(args, timeout=timeout, progress=progress, total_duration=total_duration)


async def _run_ffmpeg(
    args: list[str],
    *,
    timeout: float,
    progress: ProgressCallback | None,
    total_duration: float | None,
) -> None:
    follow = progress is not None and bool(total_duration) and total_duration > 0
    cmd = [*_low_priority_prefix(), ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-nostats", "-loglevel", "error"]
    if follow:
        cmd += ["-progress", "pipe:1"]
    cmd += [str(a) for a in args]
    proc = await spawn.start(cmd, stdout=follow)
    err_chunks: deque[bytes] = deque(maxlen=16)
    readers = [asyncio.create_task(_drain(proc.stderr, err_chunks))]  # type: ignore[arg-type]
    if follow:
        readers.append(
            asyncio.create_task(_follow_progress(proc.stdout, progress, total_duration))  # type: ignore[arg-type]
        )
    try:
        async with asyncio.timeout(timeout):
            await asyncio.gather(*readers)
            returncode = await proc.wait()
    except TimeoutError:
        raise FFmpegError(
            f"ffmpeg timed out after {timeout:g} s",
            stderr_tail=_tail(b"".join(err_chunks).decode("utf-8", "replace")),
        ) from None
    finally:
        for task in readers:
            task.cancel()
        await _kill(proc)
    stderr_tail = _tail(b"".join(err_chunks).decode("utf-8", "replace"))
    if returncode != 0:
        cause = stderr_tail or "no error output"
        raise FFmpegError(
            f"ffmpeg failed (exit {returncode}): {cause}",
            returncode=returncode,
            stderr_tail=stderr_tail,
        )
    if progress is not None:
        await _report(progress, 100.0)


# ------------------------------------------------------------------- probing

_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_STREAM = re.compile(r"^\s*Stream #\d+:\d+\S*:\s*(Video|Audio):\s*([\w-]+)(.*)$", re.MULTILINE)
_SIZE = re.compile(r"\b(\d{2,5})x(\d{2,5})\b")
_FPS = re.compile(r"([\d.]+)\s*(fps|tbr)\b")


def _parse_probe(path: Path, text: str, size_bytes: int) -> MediaInfo:
    info = MediaInfo(path=str(path), size_bytes=size_bytes)
    if match := _DURATION.search(text):
        hours, minutes, seconds = match.groups()
        info.duration_s = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    for kind, codec, rest in _STREAM.findall(text):
        if kind == "Video" and not info.has_video and "attached pic" not in rest:
            info.has_video, info.video_codec = True, codec
            if size := _SIZE.search(rest):
                info.width, info.height = int(size.group(1)), int(size.group(2))
            rates = dict((unit, float(value)) for value, unit in _FPS.findall(rest))
            info.fps = rates.get("fps") or rates.get("tbr")
        elif kind == "Audio" and not info.has_audio:
            info.has_audio, info.audio_codec = True, codec
    return info


async def probe(path: str | os.PathLike[str], *, timeout: float = 30) -> MediaInfo:
    """Streams, size and duration of a media file (or an image).

    Raises ProbeError for a missing file or one ffmpeg cannot read.
    """
    path = Path(path)
    try:
        size_bytes = path.stat().st_size
    except FileNotFoundError:
        raise ProbeError(f"media file not found: {path}") from None
    if not path.is_file():
        raise ProbeError(f"not a file: {path}")
    if size_bytes == 0:
        raise ProbeError(f"media file is empty: {path}")
    async with _ffmpeg_slot():
        proc = await spawn.start([*_low_priority_prefix(), ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)])
        try:
            async with asyncio.timeout(timeout):
                _, err = await proc.communicate()
        except TimeoutError:
            raise ProbeError(f"reading {path.name} timed out after {timeout:g} s") from None
        finally:
            await _kill(proc)
    text = err.decode("utf-8", "replace")
    # With no output file ffmpeg always exits 1; a readable input still prints its summary.
    if "Input #0" not in text:
        reason = _tail(text, 1) or "unknown error"
        raise ProbeError(
            f"not a readable media file: {path.name} ({reason})", stderr_tail=_tail(text)
        )
    return _parse_probe(path, text, size_bytes)


async def extract_frame(
    path: str | os.PathLike[str], t_seconds: float, out_png: str | os.PathLike[str]
) -> Path:
    """Write the frame at `t_seconds` as a PNG (temp file, then rename)."""
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:8]}.part.png")
    try:
        await run_ffmpeg(
            ["-ss", f"{max(0.0, t_seconds):.3f}", "-i", str(path),
             "-frames:v", "1", "-update", "1", "-f", "image2", str(tmp)],
            timeout=60,
        )
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise FFmpegError(f"no frame at {t_seconds:g} s in {Path(path).name}")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
