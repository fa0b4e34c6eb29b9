"""Leonardo image-to-video (img2vid) via `POST /generations-image-to-video`: Motion 2.0 or Veo 3.1.

The request's model, length and resolution follow video_options; the start
frame comes from upload (a Leonardo image by id, else an uploaded picture).
The finished clip is a public CDN URL (`motionMP4URL`), downloaded by fetch().
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from engine.providers import costs
from engine.providers.base import Cost, FetchedFile, GenerationRequest, JobStatus, ProviderError, SubmitResult
from engine.providers.http import RetryPolicy
from engine.providers.leonardo.common import DEFAULT_BASE_URL, PROVIDER, LeonardoJobProvider, as_bool
from engine.providers.leonardo.lookup import job_seed
from engine.providers.leonardo.upload import generated_image_id, start_frame
from engine.providers.leonardo.video_options import VEO_MODELS, fold_motion, video_model, video_options

log = logging.getLogger(__name__)


class LeonardoVideo(LeonardoJobProvider):
    """img2vid via `POST /generations-image-to-video` (Motion 2.0 or Veo 3.1)."""

    actions = frozenset({"img2vid"})
    poll_interval_s = 10.0
    timeout_s = 1200.0

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        default_model: str = "MOTION2",
        veo_model: str = "VEO3_1",
        retry: RetryPolicy | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        super().__init__(api_key, base_url=base_url, retry=retry, timeout_s=timeout_s)
        self.default_model = default_model
        self.veo_model = veo_model

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> LeonardoVideo:
        return cls(
            settings.leonardo_api_key.get_secret_value(),
            base_url=settings.leonardo_base_url,
            default_model=settings.leonardo_motion_model,
            veo_model=settings.leonardo_veo_model,
            **kwargs,
        )

    def _options(self, request: GenerationRequest) -> dict[str, Any]:
        model = video_model(request.params.get("model"), self.default_model, self.veo_model)
        return video_options(request.params, model)

    def validate(self, request: GenerationRequest) -> None:
        if not request.prompt.strip():
            raise ProviderError("the video prompt is empty", kind="invalid_request", provider=PROVIDER)
        if not request.source_image_path and not generated_image_id(request):
            raise ProviderError("image-to-video needs a picture", kind="invalid_request", provider=PROVIDER)
        self._options(request)

    def estimate_cost(self, request: GenerationRequest) -> Cost:
        options = self._options(request)
        return costs.leonardo_video_cost(options["model"], options.get("duration"))

    async def submit(self, request: GenerationRequest, out_dir: Path) -> SubmitResult:
        self.validate(request)
        options = self._options(request)
        image_id, image_type = await start_frame(self._http, request, options, Path(out_dir))
        body: dict[str, Any] = {
            "prompt": self._sent(request)["prompt"],
            "imageId": image_id,
            "imageType": image_type,
            "model": options["model"],
            "resolution": options["resolution"],
            "isPublic": False,
        }
        if options["model"] in VEO_MODELS:
            body.update(duration=options["duration"], width=options["width"], height=options["height"])
        seed = self._sent(request).get("seed")
        if seed is not None:
            body["seed"] = seed
        if request.negative_prompt:
            body["negativePrompt"] = request.negative_prompt
        interpolation = as_bool(request.params.get("frameInterpolation", request.params.get("frame_interpolation")))
        if interpolation is not None:
            body["frameInterpolation"] = interpolation
        enhance = as_bool(request.params.get("promptEnhance"))
        if enhance is not None:
            body["promptEnhance"] = enhance
        job_id, cost = await self._create("/generations-image-to-video", body, "motionVideoGenerationJob", request)
        log.info("leonardo video: %s job %s started", options["model"], job_id)
        data = {**self._provider_data(job_id, request), "image_id": image_id, "image_type": image_type}
        return SubmitResult(job_id=job_id, provider_data=data, cost=cost)

    def _sent(self, request: GenerationRequest) -> dict[str, Any]:
        # the start frame is not in Leonardo's generation record: the prompt and the seed are
        # what can be compared. Leonardo documents `seed` for Motion 2.0, not for Veo.
        sent: dict[str, Any] = {"prompt": fold_motion(request.prompt, request.params.get("motion_strength"))}
        if self._options(request)["model"] not in VEO_MODELS:
            sent["seed"] = job_seed(request)
        return sent

    def _provider_data(self, job_id: str, request: GenerationRequest) -> dict[str, Any]:
        options = self._options(request)
        return {"generation_id": job_id, "kind": "video", "model": options["model"],
                "duration": options.get("duration")}

    async def poll(self, job_id: str, provider_data: dict[str, Any]) -> JobStatus:
        record, status = await self._generation(job_id, provider_data)
        if status.state == "completed":
            images = record.get("generated_images") or []
            url = images[0].get("motionMP4URL") if images else None
            if not url:
                return JobStatus(
                    state="failed", provider_data=status.provider_data,
                    error="Leonardo finished without a video (it may have been filtered): try again",
                )  # fmt: skip
            status.provider_data["video_url"] = str(url)
            status.result_urls = [str(url)]
        return status

    async def fetch(self, job_id: str, status: JobStatus, out_dir: Path) -> list[FetchedFile]:
        url = status.provider_data.get("video_url") or (status.result_urls[0] if status.result_urls else None)
        if not url:
            status = await self.poll(job_id, status.provider_data)
            url = status.provider_data.get("video_url")
        if not url:
            raise ProviderError(
                "the Leonardo video is not ready", kind="generation_failed", retryable=True,
                detail=f"no motionMP4URL for {job_id}", provider=PROVIDER,
            )  # fmt: skip
        dest = Path(out_dir) / f"leonardo-{job_id}.mp4"
        if not dest.is_file():
            await self._http.download(url, dest)
        duration = status.provider_data.get("duration")
        return [
            FetchedFile(
                local_path=str(dest), media_type="video", url=url,
                duration_s=float(duration) if duration else None,
            )
        ]  # fmt: skip
