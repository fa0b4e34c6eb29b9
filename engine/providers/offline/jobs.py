"""The durable job shape every offline media provider shares (submit -> poll -> fetch).

The job lives entirely in provider_data (request + submit time + delay), so a
restarted process can poll and fetch, and the output files are named after the
job id, so a second fetch returns the files already on disk.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

from engine.media.ffmpeg import FFmpegError
from engine.providers.base import (
    Cost,
    FetchedFile,
    GenerationRequest,
    JobStatus,
    MediaProvider,
    ProviderError,
    SubmitResult,
)


def number(value: Any) -> float | None:
    try:
        return float(str(value).strip().lower().rstrip("s").replace("ms", ""))
    except (TypeError, ValueError):
        return None


def even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def dimensions(
    params: dict[str, Any], default: tuple[int, int] = (720, 1280), *, long_side: int = 1280
) -> tuple[int, int]:
    """Width x height from width/height, "size" ("1024x1536" or "2:3"), aspect ratio or resolution."""
    width, height = number(params.get("width")), number(params.get("height"))
    if width and height:
        return even(min(max(width, 16), 4096)), even(min(max(height, 16), 4096))
    size = str(params.get("size") or "")
    if match := re.fullmatch(r"\s*(\d{2,4})\s*[x×*]\s*(\d{2,4})\s*", size):
        return even(min(int(match.group(1)), 4096)), even(min(int(match.group(2)), 4096))
    ratio = next((str(params[k]) for k in ("aspect_ratio", "aspect", "ratio") if params.get(k)), "")
    if not re.fullmatch(r"\s*\d+(\.\d+)?\s*:\s*\d+(\.\d+)?\s*", ratio):
        ratio = size if re.fullmatch(r"\s*\d+\s*:\s*\d+\s*", size) else ""
    # "720p", "720" or Leonardo's "RESOLUTION_720": the number names the short side
    found = re.search(r"(\d{3,4})", str(params.get("resolution") or ""))
    resolution = float(found.group(1)) if found else None
    if not ratio:
        if not resolution:
            return default
        ratio = f"{default[0]}:{default[1]}"
    a, b = (float(x) for x in ratio.split(":"))
    if a <= 0 or b <= 0:
        return default
    if resolution:  # "720p" names the short side
        short = min(resolution, 2160)
        return (even(short), even(short * b / a)) if a <= b else (even(short * a / b), even(short))
    if a <= b:
        return even(long_side * a / b), even(long_side)
    return even(long_side), even(long_side * b / a)


def safe_id(job_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", job_id)[:80]


class OfflineJobs(MediaProvider):
    """The job shape every offline media provider shares.

    The job lives entirely in provider_data (request + submit time + delay), so
    poll() and fetch() need no memory of submit(): a restart loses nothing.
    """

    live = False

    def __init__(self, name: str, delay_s: float = 0.0) -> None:
        self.name = name
        self.delay_s = max(0.0, float(delay_s))
        self.poll_interval_s = min(1.0, max(0.05, self.delay_s / 5))
        self.timeout_s = 120.0 + self.delay_s

    def estimate_cost(self, request: GenerationRequest) -> Cost:
        return Cost()

    def validate(self, request: GenerationRequest) -> None:
        if request.action_type not in self.actions:
            raise ProviderError(f"The offline {self.name} stand-in cannot do {request.action_type}.",
                                kind="invalid_request", provider=self.name)

    async def submit(self, request: GenerationRequest, out_dir: Path) -> SubmitResult:
        self.validate(request)
        job_id = f"off_{uuid.uuid4().hex}"
        data = {"request": request.model_dump(mode="json"), "submitted_at": time.time(),
                "delay_s": self.delay_s, "provider": self.name}
        return SubmitResult(job_id=job_id, provider_data=data, cost=Cost())

    async def poll(self, job_id: str, provider_data: dict[str, Any]) -> JobStatus:
        submitted = provider_data.get("submitted_at")
        if not isinstance(submitted, (int, float)) or "request" not in provider_data:
            return JobStatus(state="failed", error="This offline job's record is incomplete; please generate again.",
                             provider_data=provider_data)
        delay = float(provider_data.get("delay_s", self.delay_s))
        elapsed = max(0.0, time.time() - submitted)
        if delay <= 0 or elapsed >= delay:
            return JobStatus(state="completed", progress=100.0, provider_data=provider_data)
        return JobStatus(state="running", progress=round(min(99.0, elapsed / delay * 100), 1),
                         message="rendering offline", provider_data=provider_data,
                         poll_after_s=min(self.poll_interval_s, delay - elapsed))

    async def fetch(self, job_id: str, status: JobStatus, out_dir: Path) -> list[FetchedFile]:
        if status.state != "completed":
            raise ProviderError("The offline job is not finished yet.", kind="invalid_request", provider=self.name)
        try:
            request = GenerationRequest.model_validate(status.provider_data["request"])
        except (KeyError, ValueError) as exc:
            raise ProviderError("This offline job's record is incomplete; please generate again.",
                                kind="invalid_request", detail=str(exc)[:200], provider=self.name) from None
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            return await self._produce(safe_id(job_id), request, out_dir)
        except FFmpegError as exc:
            raise ProviderError("The offline renderer failed.", kind="generation_failed",
                                detail=str(exc)[:300], provider=self.name) from exc

    async def _produce(self, job_id: str, request: GenerationRequest, out_dir: Path) -> list[FetchedFile]:
        raise NotImplementedError
