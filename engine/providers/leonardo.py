"""Leonardo.ai: images (txt2img) and image-to-video (Motion 2.0, Veo 3.1).

Both follow Leonardo's job shape: a create call returns a generationId,
`GET /generations/{id}` reports PENDING|COMPLETE|FAILED, and the finished
files are public CDN URLs downloaded into the run's media folder.

Motion strength: the spec's `motion_strength` (the LLM's subtle/moderate/
dynamic, or the old 1-10 slider) has no API field on any current Leonardo
video model (only the retired SVD endpoint had `motionStrength`). It is folded
into the prompt text instead, e.g. "very subtle, gentle motion".
"""

from __future__ import annotations

import asyncio
import json
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
from engine.providers.http import HttpClient, RetryPolicy, body_message, safe_url

log = logging.getLogger(__name__)

PROVIDER = "leonardo"
DEFAULT_BASE_URL = "https://cloud.leonardo.ai/api/rest/v1"

MOTION_MODELS = frozenset({"MOTION2", "MOTION2FAST"})
VEO_MODELS = frozenset({"VEO3_1", "VEO3_1FAST"})
VIDEO_MODELS = MOTION_MODELS | VEO_MODELS
VEO_DURATIONS = (4, 6, 8)
UPLOAD_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
REFUSAL_HINTS = ("moderat", "nsfw", "inappropriate", "content policy", "not allowed", "prohibited")

MOTION_PHRASES = {
    "subtle": "very subtle, gentle motion",
    "moderate": "natural, moderate motion",
    "dynamic": "lively, dynamic motion",
}


# --------------------------------------------------------------- helpers


def motion_phrase(value: Any) -> str | None:
    """subtle/moderate/dynamic, or a 1-10 slider value, as prompt words."""
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text in MOTION_PHRASES:
        return MOTION_PHRASES[text]
    try:
        level = float(text)
    except ValueError:
        return None
    if level <= 3:
        return MOTION_PHRASES["subtle"]
    if level <= 7:
        return MOTION_PHRASES["moderate"]
    return MOTION_PHRASES["dynamic"]


def fold_motion(prompt: str, motion: Any) -> str:
    phrase = motion_phrase(motion)
    if not phrase:
        return prompt
    base = prompt.strip().rstrip(".")
    return f"{base}. {phrase[0].upper()}{phrase[1:]}." if base else f"{phrase[0].upper()}{phrase[1:]}."


def as_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def resolution_value(value: Any) -> int | None:
    """ "720", "720p", "RESOLUTION_720", 720 -> 720."""
    if value is None or value == "":
        return None
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    return int(digits) if digits else None


def leonardo_error_hook(response: httpx.Response, body: Any) -> ProviderError | None:
    """Leonardo specifics: 402 = out of credits; moderation text = refused."""
    message = body_message(body)
    lowered = message.lower()
    detail = f"HTTP {response.status_code} {safe_url(response.request.url)}: {message}"
    out_of_credits = "not enough" in lowered and "credit" in lowered
    if response.status_code == 402 or (out_of_credits and response.status_code < 500):
        return ProviderError(
            "the Leonardo account is out of API credits: top it up and try again",
            kind="insufficient_credits", detail=detail, provider=PROVIDER,
        )  # fmt: skip
    if response.status_code in (400, 403) and any(hint in lowered for hint in REFUSAL_HINTS):
        return ProviderError(
            "Leonardo refused this prompt or picture: try rephrasing",
            kind="refused", detail=detail, provider=PROVIDER,
        )  # fmt: skip
    return None


def _client(api_key: str, base_url: str, retry: RetryPolicy | None, timeout_s: float) -> HttpClient:
    return HttpClient(
        PROVIDER,
        base_url,
        headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
        timeout=timeout_s,
        retry=retry,
        error_hook=leonardo_error_hook,
        secrets=(api_key,),
    )


def _job(body: Any, key: str) -> dict[str, Any]:
    """`sdGenerationJob` / `motionVideoGenerationJob` out of a create answer."""
    job = body.get(key) if isinstance(body, dict) else None
    if not isinstance(job, dict) or not job.get("generationId"):
        message = body_message(body) if body else "no job in the answer"
        raise ProviderError(
            "Leonardo did not start the job", kind="invalid_output", retryable=False,
            detail=f"{key} missing: {message}", provider=PROVIDER,
        )  # fmt: skip
    return job


async def _generation(client: HttpClient, generation_id: str) -> dict[str, Any]:
    body = await client.request_json("GET", f"/generations/{generation_id}")
    record = body.get("generations_by_pk") if isinstance(body, dict) else None
    return record if isinstance(record, dict) else {}


def _status_from(record: dict[str, Any], provider_data: dict[str, Any]) -> JobStatus:
    status = str(record.get("status") or "PENDING").upper()
    if status == "FAILED":
        return JobStatus(
            state="failed", provider_data=provider_data,
            error="Leonardo could not make this one (the job failed): try again or change the prompt",
        )  # fmt: skip
    if status != "COMPLETE":
        return JobStatus(state="running" if record else "pending", message=status.lower(), provider_data=provider_data)
    return JobStatus(state="completed", progress=100.0, provider_data=provider_data)


def _ext_from_url(url: str, default: str) -> str:
    suffix = Path(httpx.URL(url).path).suffix.lower()
    return suffix if suffix in (".png", ".jpg", ".jpeg", ".webp", ".mp4") else default


# ----------------------------------------------------------------- images


class LeonardoImages(MediaProvider):
    """txt2img via `POST /generations` (Phoenix by default)."""

    name = PROVIDER
    live = True
    actions = frozenset({"txt2img"})
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
    ) -> None:
        self.model_id = model_id
        self.width = width
        self.height = height
        self.base_url = base_url
        self._http = _client(api_key, base_url, retry, timeout_s)

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> LeonardoImages:
        return cls(
            settings.leonardo_api_key.get_secret_value(),
            base_url=settings.leonardo_base_url,
            model_id=settings.leonardo_image_model_id,
            **kwargs,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

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
        for name in ("seed", "guidance_scale", "num_inference_steps"):
            if params.get(name) not in (None, ""):
                body[name] = int(float(params[name]))
        if params.get("presetStyle"):
            body["presetStyle"] = str(params["presetStyle"])
        return body

    def validate(self, request: GenerationRequest) -> None:
        if not request.prompt.strip():
            raise ProviderError("the image prompt is empty", kind="invalid_request", provider=PROVIDER)
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
        answer = await self._http.request_json("POST", "/generations", json_body=body)
        job = _job(answer, "sdGenerationJob")
        cost = costs.leonardo_cost_from_job(job) or self.estimate_cost(request)
        log.info("leonardo images: job %s started", job["generationId"])
        return SubmitResult(
            job_id=str(job["generationId"]),
            provider_data={"generation_id": str(job["generationId"]), "kind": "image"},
            cost=cost,
        )

    async def poll(self, job_id: str, provider_data: dict[str, Any]) -> JobStatus:
        record = await _generation(self._http, job_id)
        status = _status_from(record, dict(provider_data))
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


# ------------------------------------------------------------------ video


class LeonardoVideo(MediaProvider):
    """img2vid via `POST /generations-image-to-video` (Motion 2.0 or Veo 3.1)."""

    name = PROVIDER
    live = True
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
        self.default_model = default_model
        self.veo_model = veo_model
        self.base_url = base_url
        self._http = _client(api_key, base_url, retry, timeout_s)

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> LeonardoVideo:
        return cls(
            settings.leonardo_api_key.get_secret_value(),
            base_url=settings.leonardo_base_url,
            default_model=settings.leonardo_motion_model,
            veo_model=settings.leonardo_veo_model,
            **kwargs,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------ params

    def _model(self, request: GenerationRequest) -> str:
        """The API model id; "veo"/"motion" aliases pick the configured Veo/Motion model."""
        raw = str(request.params.get("model") or self.default_model).strip()
        alias = raw.lower().replace(" ", "").replace("-", "").replace("_", "")
        if alias in ("veo", "veo3.1", "veo31"):
            return self.veo_model.upper()
        if alias in ("motion", "motion2", "motion2.0", "motion20"):
            return "MOTION2"
        return raw.upper()

    def _options(self, request: GenerationRequest) -> dict[str, Any]:
        """Model, resolution, duration and size as the API wants them; raises on bad values."""
        params = request.params
        model = self._model(request)
        if model not in VIDEO_MODELS:
            raise ProviderError(
                f"unknown Leonardo video model {model!r} (use one of {sorted(VIDEO_MODELS)})",
                kind="invalid_request", provider=PROVIDER,
            )  # fmt: skip
        resolution = resolution_value(params.get("resolution")) or 720
        options: dict[str, Any] = {"model": model}
        if model in MOTION_MODELS:
            if resolution not in (480, 720):
                raise ProviderError("Motion 2.0 makes 480p or 720p clips", kind="invalid_request", provider=PROVIDER)
            options["resolution"] = f"RESOLUTION_{resolution}"
            return options  # Motion 2.0 has a fixed ~5 s length: no duration field
        raw_duration = params.get("duration", params.get("seconds"))
        try:
            duration = int(float(raw_duration)) if raw_duration not in (None, "") else 8
        except (TypeError, ValueError):
            duration = -1
        if duration not in VEO_DURATIONS or (raw_duration not in (None, "") and float(raw_duration) != duration):
            raise ProviderError(
                "Veo 3.1 clips are 4, 6 or 8 seconds long", kind="invalid_request",
                detail=f"duration {raw_duration!r}", provider=PROVIDER,
            )  # fmt: skip
        if resolution not in (720, 1080):
            raise ProviderError("Veo 3.1 makes 720p or 1080p clips", kind="invalid_request", provider=PROVIDER)
        if resolution == 1080 and duration != 8:
            raise ProviderError(
                "Veo 3.1 makes 1080p clips only at 8 seconds", kind="invalid_request", provider=PROVIDER
            )
        width, height = (720, 1280) if resolution == 720 else (1080, 1920)
        options.update(resolution=f"RESOLUTION_{resolution}", duration=duration, width=width, height=height)
        return options

    def validate(self, request: GenerationRequest) -> None:
        if not request.prompt.strip():
            raise ProviderError("the video prompt is empty", kind="invalid_request", provider=PROVIDER)
        if not request.source_image_path and not self._generated_image_id(request):
            raise ProviderError("image-to-video needs a picture", kind="invalid_request", provider=PROVIDER)
        self._options(request)

    def estimate_cost(self, request: GenerationRequest) -> Cost:
        options = self._options(request)
        return costs.leonardo_video_cost(options["model"], options.get("duration"))

    @staticmethod
    def _generated_image_id(request: GenerationRequest) -> str | None:
        meta = request.source_image_meta or {}
        if str(meta.get("provider", "")).lower() == PROVIDER and meta.get("provider_item_id"):
            return str(meta["provider_item_id"])
        return None

    # ------------------------------------------------------------ image

    async def _start_frame(self, request: GenerationRequest, options: dict[str, Any], out_dir: Path) -> tuple[str, str]:
        """(imageId, imageType): a Leonardo-made image by id, else an uploaded file."""
        from engine.media.images import afit_image, image_size

        generated = self._generated_image_id(request)
        path = Path(request.source_image_path) if request.source_image_path else None
        if generated:
            if options["model"] in MOTION_MODELS or path is None:
                return generated, "GENERATED"
            width, height = await asyncio.to_thread(image_size, path)
            if width * 16 == height * 9:  # already 9:16: Veo can use it as is
                return generated, "GENERATED"
        assert path is not None
        if options["model"] in VEO_MODELS:
            # Veo wants a 9:16 start frame at the output size; cover keeps it full-frame.
            prepared = Path(out_dir) / f".leonardo-veo-start-{uuid.uuid4().hex[:8]}.png"
            await afit_image(path, options["width"], options["height"], prepared, mode="cover")
            try:
                return await self.upload_init_image(prepared), "UPLOADED"
            finally:
                await asyncio.to_thread(prepared.unlink, missing_ok=True)
        return await self.upload_init_image(path), "UPLOADED"

    async def upload_init_image(self, path: Path) -> str:
        """The init-image flow: presigned S3 POST, fields first, file last, no auth header."""
        from engine.media.images import mime_type

        try:
            mime = await asyncio.to_thread(mime_type, path)
        except ValueError:
            mime = "unknown"
        extension = UPLOAD_EXTENSIONS.get(mime)
        if extension is None:
            raise ProviderError(
                "Leonardo takes PNG, JPEG or WEBP pictures", kind="invalid_request",
                detail=f"mime {mime}", provider=PROVIDER,
            )  # fmt: skip
        answer = await self._http.request_json("POST", "/init-image", json_body={"extension": extension})
        upload = answer.get("uploadInitImage") if isinstance(answer, dict) else None
        if not isinstance(upload, dict) or not upload.get("id") or not upload.get("url"):
            raise ProviderError(
                "Leonardo did not accept the picture upload", kind="invalid_output", retryable=True,
                detail="uploadInitImage missing", provider=PROVIDER,
            )  # fmt: skip
        fields = upload.get("fields") or "{}"
        if isinstance(fields, str):  # a JSON-encoded string, not an object
            try:
                fields = json.loads(fields)
            except json.JSONDecodeError:
                raise ProviderError(
                    "Leonardo sent a broken upload form", kind="invalid_output", retryable=True,
                    detail="uploadInitImage.fields is not JSON", provider=PROVIDER,
                ) from None  # fmt: skip
        data = await asyncio.to_thread(path.read_bytes)
        # httpx puts `data` fields before `files`, so the file part is last, as S3 requires.
        await self._http.request(
            "POST",
            str(upload["url"]),
            data={str(k): str(v) for k, v in fields.items()},
            files={"file": (f"image.{extension}", data, mime)},
            auth=False,
            ok_statuses=(200, 201, 204),
            idempotent=True,  # re-posting the same object key is harmless
        )
        log.info("leonardo: uploaded start frame as init image %s", upload["id"])
        return str(upload["id"])

    # ------------------------------------------------------------ job

    async def submit(self, request: GenerationRequest, out_dir: Path) -> SubmitResult:
        self.validate(request)
        options = self._options(request)
        image_id, image_type = await self._start_frame(request, options, Path(out_dir))
        body: dict[str, Any] = {
            "prompt": fold_motion(request.prompt, request.params.get("motion_strength")),
            "imageId": image_id,
            "imageType": image_type,
            "model": options["model"],
            "resolution": options["resolution"],
            "isPublic": False,
        }
        if options["model"] in VEO_MODELS:
            body.update(duration=options["duration"], width=options["width"], height=options["height"])
        if request.negative_prompt:
            body["negativePrompt"] = request.negative_prompt
        interpolation = as_bool(request.params.get("frameInterpolation", request.params.get("frame_interpolation")))
        if interpolation is not None:
            body["frameInterpolation"] = interpolation
        enhance = as_bool(request.params.get("promptEnhance"))
        if enhance is not None:
            body["promptEnhance"] = enhance
        answer = await self._http.request_json("POST", "/generations-image-to-video", json_body=body)
        job = _job(answer, "motionVideoGenerationJob")
        cost = costs.leonardo_cost_from_job(job) or self.estimate_cost(request)
        log.info("leonardo video: %s job %s started", options["model"], job["generationId"])
        return SubmitResult(
            job_id=str(job["generationId"]),
            provider_data={
                "generation_id": str(job["generationId"]),
                "kind": "video",
                "model": options["model"],
                "image_id": image_id,
                "image_type": image_type,
                "duration": options.get("duration"),
            },
            cost=cost,
        )

    async def poll(self, job_id: str, provider_data: dict[str, Any]) -> JobStatus:
        record = await _generation(self._http, job_id)
        status = _status_from(record, dict(provider_data))
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
