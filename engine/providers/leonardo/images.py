"""Leonardo images (txt2img, and img2img guided by the person's photo: see
`guidance`) via `POST /generations`, Phoenix by default.

The finished images are public CDN URLs, downloaded into the run's media
folder by fetch(); a file already there is kept (fetch is idempotent).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx

from engine.providers import costs
from engine.providers.base import Cost, FetchedFile, GenerationRequest, JobStatus, ProviderError, SubmitResult
from engine.providers.http import RetryPolicy
from engine.providers.leonardo.common import DEFAULT_BASE_URL, PROVIDER, LeonardoJobProvider, as_bool
from engine.providers.leonardo.guidance import check_photo, guidance_fields
from engine.providers.leonardo.lookup import job_seed

log = logging.getLogger(__name__)

def _ext_from_url(url: str, default: str) -> str:
    suffix = Path(httpx.URL(url).path).suffix.lower()
    return suffix if suffix in (".png", ".jpg", ".jpeg", ".webp", ".mp4") else default


class LeonardoImages(LeonardoJobProvider):
    """txt2img and img2img via `POST /generations` (Phoenix by default)."""

    actions = frozenset({"txt2img", "img2img"})
    poll_interval_s = 3.0
    timeout_s = 600.0

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        model_id: str = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3",
        width: int = 720,
        height: int = 1280,
        retry: RetryPolicy | None = None,
        timeout_s: float = 60.0,
        character_reference_id: int = 133,
    ) -> None:
        super().__init__(api_key, base_url=base_url, retry=retry, timeout_s=timeout_s)
        self.model_id = model_id
        self.width = width
        self.height = height
        self.character_reference_id = character_reference_id

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> LeonardoImages:
        return cls(
            settings.leonardo_api_key.get_secret_value(),
            base_url=settings.leonardo_base_url,
            model_id=settings.leonardo_image_model_id,
            character_reference_id=getattr(settings, "leonardo_character_reference_id", 133),
            **kwargs,
        )

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        params = request.params
        width = int(params.get("width") or self.width)
        height = int(params.get("height") or self.height)
        alchemy = as_bool(params.get("alchemy"))
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "modelId": str(params.get("model_id") or params.get("modelId") or self.model_id),
            "width": width,
            "height": height,
            "num_images": costs.image_count(params),
            # Leonardo defaults alchemy to true (more credits): always say it.
            "alchemy": True if alchemy is None else alchemy,
            "contrast": float(params.get("contrast") or 3.5),  # Phoenix+alchemy needs >=2.5
            "public": False,
        }
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        for name in ("guidance_scale", "num_inference_steps"):
            if params.get(name) not in (None, ""):
                body[name] = int(float(params[name]))
        seed = job_seed(request)
        if seed is not None:
            body["seed"] = seed
        if params.get("presetStyle"):
            body["presetStyle"] = str(params["presetStyle"])
        return body

    def validate(self, request: GenerationRequest) -> None:
        if not request.prompt.strip():
            raise ProviderError("the image prompt is empty", kind="invalid_request", provider=PROVIDER)
        if request.action_type == "img2img":
            check_photo(request)
        try:
            body = self._body(request)
        except (TypeError, ValueError):
            raise ProviderError(
                "Leonardo image settings must be numbers (width, height, seed...)",
                kind="invalid_request",
                provider=PROVIDER,
            ) from None
        for side in ("width", "height"):
            value = body[side]
            if value % 8 or not 32 <= value <= 1536:
                raise ProviderError(
                    f"Leonardo image {side} must be a multiple of 8 between 32 and 1536",
                    kind="invalid_request", provider=PROVIDER,
                )  # fmt: skip
        limit = 4 if max(body["width"], body["height"]) > 768 else 8
        if not 1 <= body["num_images"] <= limit:
            raise ProviderError(
                f"Leonardo makes 1 to {limit} images at this size", kind="invalid_request", provider=PROVIDER
            )

    def estimate_cost(self, request: GenerationRequest) -> Cost:
        body = self._body(request)
        return costs.leonardo_image_cost(body["num_images"], body["alchemy"])

    async def submit(self, request: GenerationRequest, out_dir: Path) -> SubmitResult:
        self.validate(request)
        body = self._body(request)
        if request.action_type == "img2img":  # the photo goes up first; only the create call is paid
            body.update(await guidance_fields(self._http, request, body["width"], body["height"], Path(out_dir),
                                              self.character_reference_id))
        job_id, cost = await self._create("/generations", body, "sdGenerationJob", request)
        log.info("leonardo images: job %s started", job_id)
        return SubmitResult(job_id=job_id, provider_data=self._provider_data(job_id, request), cost=cost)

    def _sent(self, request: GenerationRequest) -> dict[str, Any]:
        body = self._body(request)
        return {"prompt": body["prompt"], "modelId": body["modelId"],
                "imageWidth": body["width"], "imageHeight": body["height"], "seed": body.get("seed")}

    def _provider_data(self, job_id: str, request: GenerationRequest) -> dict[str, Any]:
        return {"generation_id": job_id, "kind": "image"}

    async def poll(self, job_id: str, provider_data: dict[str, Any]) -> JobStatus:
        record, status = await self._generation(job_id, provider_data)
        if status.state == "completed":
            images = [
                {"id": str(item.get("id")), "url": str(item.get("url"))}
                for item in record.get("generated_images") or []
                if item.get("url")
            ]
            if not images:
                return JobStatus(
                    state="failed", provider_data=status.provider_data,
                    error="Leonardo finished without an image (it may have been filtered): try another prompt",
                )  # fmt: skip
            status.provider_data["images"] = images
            status.result_urls = [image["url"] for image in images]
        return status

    async def fetch(self, job_id: str, status: JobStatus, out_dir: Path) -> list[FetchedFile]:
        from engine.media.images import image_size

        fetched = []
        for index, image in enumerate(status.provider_data.get("images") or []):
            dest = Path(out_dir) / f"leonardo-{job_id}_{index + 1}{_ext_from_url(image['url'], '.jpg')}"
            if not dest.is_file():  # fetch is idempotent: keep what is already there
                await self._http.download(image["url"], dest)
            width, height = await asyncio.to_thread(image_size, dest)
            fetched.append(
                FetchedFile(
                    local_path=str(dest), media_type="image", url=image["url"],
                    provider_item_id=image["id"], width=width, height=height,
                )
            )  # fmt: skip
        return fetched
