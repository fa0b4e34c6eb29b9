"""Local fake provider servers (aiohttp on 127.0.0.1, random port).

Each fake speaks its provider's wire protocol closely enough that a wrong
method, path, header, field name or type gets the provider's own kind of
400/401/422 answer, so the real client code is tested, not a mock of it.

Every fake has:
- `await start()` -> base URL, `await stop()`;
- `requests`: every request received (method, path, headers, JSON/form/files);
- `scenario`: "success" (default), "slow", "rate_limit_then_success",
  "server_error", "refused", "malformed_json", "truncated_download", plus
  provider-specific ones; `pending_polls` tunes how long jobs stay running;
- fault injection on top of any scenario: `flaky(rate, seed)` makes that
  share of requests fail with 429, 500, 503 or a hang-then-drop (the request
  never reaches the handler: nothing is created or charged), and
  `truncate_next` cuts the next N downloads in half;
- `RecordedRequest.status`: the HTTP status answered (0: no answer).

Options for benchmarks (all off by default, so tests see the tiny instant fakes):
- `work_delay(kind)`: seconds a piece of work takes ("llm", "image", "video",
  "music"), drawn per request/job: a synchronous call sleeps that long before
  answering, an asynchronous job stays PENDING that long;
- `media`: where generated files come from (an object with `image(width,
  height, fmt)`, `video()` and `audio(length_ms)`, each returning bytes)
  instead of the tiny solid-colour files;
- `offload`: CPU work of the fake itself (encoding big answers, writing LLM
  answers) runs in a thread, off the fake's event loop;
- `keep_bodies=False`: uploaded file bytes are dropped from `requests` once
  the request was answered (a benchmark's fakes would otherwise hold every upload).
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import random
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image

RECORDED: web.RequestKey[RecordedRequest] = web.RequestKey("recorded", "RecordedRequest")

SCENARIOS = (
    "success",
    "slow",
    "rate_limit_then_success",
    "server_error",
    "refused",
    "malformed_json",
    "truncated_download",
)


@dataclass
class RecordedFile:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, RecordedFile] = field(default_factory=dict)
    part_order: list[str] = field(default_factory=list)  # multipart part names in order
    content_type: str = ""
    status: int = 0  # the HTTP status answered; 0 while pending or when the connection was dropped
    fault: str = ""  # the injected fault, if any ("429", "500", "503", "hang")
    at: float = field(default_factory=time.monotonic)  # when the request was read


class FakeServer:
    """Base: recording, start/stop, helpers to answer like a provider."""

    def __init__(self, *, api_key: str = "test-key-0123456789abcdef", scenario: str = "success") -> None:
        self.api_key = api_key
        self.scenario = scenario
        self.pending_polls = 0  # polls answered "still running" before completion
        self.rate_limited_times = 1  # 429s before success in rate_limit_then_success
        self.retry_after = "0.1"  # the Retry-After header value sent with 429s
        self.flaky_rate = 0.0  # share of requests failed by `flaky()`
        self.flaky_rng = random.Random(0)
        self.hang_s = 3.0  # how long a "hang" fault holds the request before dropping it
        self.truncate_next = 0  # the next N downloads are cut in half (see serve_bytes)
        self.work_delay: Any = None  # Callable[[str], float]: seconds a piece of work takes (see the module doc)
        self.media: Any = None  # image(w, h, fmt) / video() / audio(length_ms) -> bytes (see the module doc)
        self.offload = False  # the fake's own CPU work in a thread
        self.keep_bodies = True
        self.requests: list[RecordedRequest] = []
        self.base_url = ""
        self.root_url = ""
        self._runner: web.AppRunner | None = None
        self.app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._record])
        self.setup_routes(self.app)

    # --------------------------------------------------------------- life

    def setup_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def api_prefix(self) -> str:
        return ""

    def flaky(self, rate: float, seed: int = 0) -> None:
        """Fail `rate` of all requests (0 turns it off), reproducibly for a seed."""
        self.flaky_rate = rate
        self.flaky_rng = random.Random(seed)

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.root_url = f"http://127.0.0.1:{port}"
        self.base_url = self.root_url + self.api_prefix()
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---------------------------------------------------------- recording

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            content_type=request.content_type,
        )
        if request.content_type == "application/json" and request.can_read_body:
            raw = await request.read()
            try:
                recorded.json = json.loads(raw)
            except json.JSONDecodeError:
                recorded.json = {"__invalid__": raw[:200].decode("utf-8", "replace")}
        elif request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                name = part.name or ""
                recorded.part_order.append(name)
                data = await part.read(decode=False)
                if part.filename is not None:
                    recorded.files[name] = RecordedFile(
                        name, part.filename, part.headers.get("Content-Type"), bytes(data)
                    )
                else:
                    recorded.form[name] = bytes(data).decode("utf-8", "replace")
        self.requests.append(recorded)
        request[RECORDED] = recorded
        if self.flaky_rate and self.flaky_rng.random() < self.flaky_rate:
            recorded.fault = self.flaky_rng.choice(("429", "500", "503", "hang"))
            if recorded.fault == "hang":  # a provider that never answers: the client's timeout must act
                await asyncio.sleep(self.hang_s)
                if request.transport is not None:
                    request.transport.close()
                raise asyncio.CancelledError
            status = int(recorded.fault)
            recorded.status = status
            headers = {"Retry-After": self.retry_after, "retry-after-ms": str(int(float(self.retry_after) * 1000))}
            return web.json_response({"error": {"message": f"injected fault {status}", "type": "server_error"}},
                                     status=status, headers=headers if status == 429 else None)
        try:
            response = await handler(request)
        finally:
            if not self.keep_bodies:
                for upload in recorded.files.values():
                    upload.data = b""
        recorded.status = response.status
        return response

    def delay_for(self, kind: str) -> float:
        """Seconds this piece of work takes (0 unless `work_delay` is set)."""
        return float(self.work_delay(kind)) if self.work_delay is not None else 0.0

    async def cpu(self, fn: Any, *args: Any) -> Any:
        """`fn(*args)`, in a thread when `offload` is set."""
        if self.offload:
            return await asyncio.to_thread(fn, *args)
        return fn(*args)

    def count(self, method: str, path_prefix: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.path.startswith(path_prefix))

    def calls(self, method: str, path_prefix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    # -------------------------------------------------------------- helpers

    def attempt_number(self, request: web.Request) -> int:
        """How many requests with this method and path arrived so far (this one included)."""
        return sum(1 for r in self.requests if r.method == request.method and r.path == request.path)

    def should_rate_limit(self, request: web.Request) -> bool:
        return self.scenario == "rate_limit_then_success" and self.attempt_number(request) <= self.rate_limited_times

    @staticmethod
    def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response(body, status=status, headers=headers)

    @staticmethod
    def malformed_response() -> web.Response:
        return web.Response(status=200, text="<html>upstream proxy hiccup", content_type="application/json")

    async def serve_bytes(
        self, request: web.Request, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> web.StreamResponse:
        """Serve a file; in "truncated_download" announce more bytes than are sent."""
        response = web.StreamResponse(status=200, headers=headers or {})
        response.content_type = content_type
        if self.scenario == "truncated_download" or self.truncate_next > 0:
            self.truncate_next = max(0, self.truncate_next - 1)
            response.content_length = len(data) + 5000
            await response.prepare(request)
            await response.write(data[: len(data) // 2])
            # Drop the connection mid-body, as a cut network would.
            if request.transport is not None:
                request.transport.close()
            return response
        response.content_length = len(data)
        await response.prepare(request)
        for start in range(0, len(data), 64 * 1024):
            await response.write(data[start : start + 64 * 1024])
        await response.write_eof()
        return response


# ------------------------------------------------------------------ media


def png_bytes(width: int, height: int, color: tuple[int, int, int] = (240, 170, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(width: int, height: int, color: tuple[int, int, int] = (90, 170, 240)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def image_format(data: bytes) -> str | None:
    """png/jpg/webp/gif from magic bytes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:  # noqa: BLE001 - not an image
        return None


@functools.cache
def _media_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="ccbot-fake-media-"))


@functools.cache
def tiny_mp4() -> bytes:
    """A 1 s 64x112 H.264 MP4, made once per test session with imageio_ffmpeg's ffmpeg."""
    import imageio_ffmpeg

    out = _media_dir() / "tiny.mp4"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "color=c=orange:s=64x112:d=1:r=12",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(out),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return out.read_bytes()


@functools.cache
def tiny_mp3() -> bytes:
    """A 1 s sine MP3 (what ElevenLabs streams back, only shorter)."""
    import imageio_ffmpeg

    out = _media_dir() / "tiny.mp3"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
            "-c:a", "libmp3lame", "-b:a", "64k", str(out),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return out.read_bytes()
