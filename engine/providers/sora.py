"""Sora 2 image-to-video over OpenAI's Videos protocol, for a gateway that still serves it.

OpenAI shut its own Videos API down on 2026-09-24; this client speaks the same
wire protocol (POST /videos multipart, GET /videos/{id}, GET
/videos/{id}/content) with plain httpx so it does not depend on SDK methods
that are marked for removal. Base URL, key and model are configuration.

The API only ever accepted 4, 8 or 12 seconds and portrait/landscape sizes
(no 1:1), and the `input_reference` image must have exactly the requested
pixel size: the source is resized with fit_image(mode="cover") first.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

import httpx

from engine.providers import costs
from engine.providers.base import (
    Cost,
    FetchedFile,
    GenerationRequest,
    JobStatus,
    MediaProvider,
    ProviderError,
    SubmitResult,
)
from engine.providers.http import HttpClient, RetryPolicy, body_message, json_of

log = logging.getLogger(__name__)

PROVIDER = "sora"
SECONDS = ("4", "8", "12")
SIZES = {
    "sora-2": ("720x1280", "1280x720"),
    "sora-2-pro": ("720x1280", "1280x720", "1024x1792", "1792x1024"),
}
ASPECT_SIZES = {"9:16": "720x1280", "16:9": "1280x720"}
REFUSAL_CODES = ("moderation", "content_policy", "safety", "guardrail")


def _family(model: str) -> str:
    """Dated snapshots behave like their alias: sora-2-pro-2025-10-06 -> sora-2-pro."""
    return "sora-2-pro" if model.startswith("sora-2-pro") else "sora-2"


def sora_error_hook(response: httpx.Response, body: Any) -> ProviderError | None:
    error = body.get("error") if isinstance(body, dict) else None
    code = str(error.get("code") or "") if isinstance(error, dict) else ""
    if response.status_code == 400 and any(hint in code for hint in REFUSAL_CODES):
        return ProviderError(
            "the video provider refused this prompt or picture: try rephrasing or another photo",
            kind="refused",
            detail=f"HTTP 400 code={code}: {body_message(body)}",
            provider=PROVIDER,
        )
    if response.status_code == 429 and isinstance(error, dict) and "quota" in str(error.get("type", "")) + code:
        return ProviderError(
            "the Sora account has no credit left: add credit and try again",
            kind="insufficient_credits",
            detail=f"HTTP 429 code={code}",
            provider=PROVIDER,
        )
    return None


class SoraVideo(MediaProvider):
    name = PROVIDER
    live = True
    actions = frozenset({"img2vid"})
    poll_interval_s = 15.0
    timeout_s = 1800.0

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str,
        model: str = "sora-2",
        retry: RetryPolicy | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        self.model = model
        self.base_url = base_url.rstrip("/")
        self._http = HttpClient(
            PROVIDER,
            self.base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout_s,
            retry=retry,
            error_hook=sora_error_hook,
            secrets=(api_key,),
        )

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> SoraVideo:
        key = settings.effective_sora_key
        return cls(key.get_secret_value(), base_url=settings.sora_base_url, model=settings.sora_model, **kwargs)

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------ params

    def options(self, request: GenerationRequest) -> tuple[str, str, str]:
        """(model, seconds, size) as the API wants them; raises invalid_request otherwise."""
        params = request.params
        model = str(params.get("model") or self.model)
        raw_seconds = params.get("seconds", params.get("duration"))
        seconds = "4" if raw_seconds in (None, "") else str(raw_seconds).strip()
        if seconds.endswith(".0"):
            seconds = seconds[:-2]
        if seconds not in SECONDS:
            raise ProviderError(
                "Sora clips are 4, 8 or 12 seconds long", kind="invalid_request",
                detail=f"seconds {raw_seconds!r}", provider=PROVIDER,
            )  # fmt: skip
        allowed = SIZES[_family(model)]
        size = str(params.get("size") or "").lower()
        if not size:
            aspect = str(params.get("aspect_ratio") or "9:16")
            if aspect not in ASPECT_SIZES:
                raise ProviderError(
                    "Sora makes 9:16 or 16:9 clips (no square format)", kind="invalid_request",
                    detail=f"aspect_ratio {aspect!r}", provider=PROVIDER,
                )  # fmt: skip
            size = ASPECT_SIZES[aspect]
        if size not in allowed:
            raise ProviderError(
                f"{model} makes clips of {', '.join(allowed)} only", kind="invalid_request",
                detail=f"size {size!r}", provider=PROVIDER,
            )  # fmt: skip
        return model, seconds, size

    def validate(self, request: GenerationRequest) -> None:
        if not request.prompt.strip():
            raise ProviderError("the video prompt is empty", kind="invalid_request", provider=PROVIDER)
        if not request.source_image_path or not Path(request.source_image_path).is_file():
            raise ProviderError("image-to-video needs a picture", kind="invalid_request", provider=PROVIDER)
        self.options(request)

    def estimate_cost(self, request: GenerationRequest) -> Cost:
        model, seconds, size = self.options(request)
        return costs.sora_cost(_family(model), size, int(seconds))

    # ------------------------------------------------------------ job

    async def submit(self, request: GenerationRequest, out_dir: Path) -> SubmitResult:
        from engine.media.images import afit_image

        self.validate(request)
        model, seconds, size = self.options(request)
        width, height = (int(v) for v in size.split("x"))
        reference = Path(out_dir) / f".sora-ref-{uuid.uuid4().hex[:8]}.png"
        await afit_image(request.source_image_path, width, height, reference, mode="cover")
        try:
            image = await asyncio.to_thread(reference.read_bytes)
        finally:
            await asyncio.to_thread(reference.unlink, missing_ok=True)
        body = await self._http.request_json(
            "POST",
            "/videos",
            data={"prompt": request.prompt, "model": model, "seconds": seconds, "size": size},
            files={"input_reference": ("reference.png", image, "image/png")},
        )
        video_id = body.get("id") if isinstance(body, dict) else None
        if not video_id:
            raise ProviderError(
                "the video provider did not start the job", kind="invalid_output",
                detail="create answer without id", provider=PROVIDER,
            )  # fmt: skip
        log.info("sora: video %s queued (%s, %ss, %s)", video_id, model, seconds, size)
        return SubmitResult(
            job_id=str(video_id),
            provider_data={"video_id": str(video_id), "model": model, "seconds": seconds, "size": size},
            cost=costs.sora_cost(_family(model), size, int(seconds)),
        )

    async def poll(self, job_id: str, provider_data: dict[str, Any]) -> JobStatus:
        response = await self._http.request("GET", f"/videos/{job_id}")
        video = json_of(response, PROVIDER, message="the video provider sent an unreadable answer")
        poll_after = response.headers.get("openai-poll-after-ms")
        poll_after_s = float(poll_after) / 1000 if poll_after and poll_after.isdigit() else None
        status = str(video.get("status") or "queued")
        progress = video.get("progress")
        data = dict(provider_data)
        common = {
            "progress": float(progress) if isinstance(progress, (int, float)) else None,
            "provider_data": data,
            "poll_after_s": poll_after_s,
        }
        if status == "completed":
            return JobStatus(state="completed", message="completed", **{**common, "progress": 100.0})
        if status == "failed":
            error = video.get("error") or {}
            code = str(error.get("code") or "") if isinstance(error, dict) else ""
            refused = any(hint in code for hint in REFUSAL_CODES)
            log.warning("sora: video %s failed: code=%s", job_id, code or "-")
            return JobStatus(
                state="failed",
                error=(
                    "the video provider refused this prompt or picture: try rephrasing or another photo"
                    if refused
                    else "the video provider could not make this clip: try again"
                ),
                **common,
            )
        return JobStatus(state="running" if status == "in_progress" else "pending", message=status, **common)

    async def fetch(self, job_id: str, status: JobStatus, out_dir: Path) -> list[FetchedFile]:
        dest = Path(out_dir) / f"sora-{job_id}.mp4"
        if not dest.is_file():
            await self._http.stream_to_file("GET", f"/videos/{job_id}/content", dest, params={"variant": "video"})
        size = str(status.provider_data.get("size") or "")
        width, height = (int(v) for v in size.split("x")) if "x" in size else (None, None)
        seconds = status.provider_data.get("seconds")
        return [
            FetchedFile(
                local_path=str(dest), media_type="video", width=width, height=height,
                duration_s=float(seconds) if seconds else None,
            )
        ]  # fmt: skip

    async def cancel(self, job_id: str, provider_data: dict[str, Any]) -> bool:
        """DELETE /videos/{id}: removes the job (a gateway may not stop the render)."""
        try:
            await self._http.request("DELETE", f"/videos/{job_id}")
        except ProviderError as exc:
            log.info("sora: cancel %s failed: %s", job_id, exc)
            return False
        return True
