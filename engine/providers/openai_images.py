"""OpenAI image generation (gpt-image-2) for txt2img, and image edits for img2img.

img2img is `POST /v1/images/edits` (multipart): the person's photo is the
`image` part, with the prompt, model, n, size and quality, so the pictures
show their pet in the scene. `input_fidelity` ("high" keeps the pet's
features) is sent when the panel sets it; the facts brief confirms it for
gpt-image-1/1.5, for gpt-image-2 it is unconfirmed.

The Images API is synchronous: the paid call happens in submit(), which also
writes the files (temp file, then rename) and records their paths in
provider_data. poll() then reports "completed" and fetch() returns those
files: a restart after submit() finds them on disk and never pays twice.

Portrait framing: the videos are 9:16. gpt-image-2 accepts any WxH divisible
by 16, so the default asks for 864x1536 (exactly 9:16, cheapest size tier).
If the API refuses that size, it falls back once to the classic 1024x1536
(2:3) and pads to 9:16 with fit_image(mode="contain"), so the pet is never
cropped away.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

import openai

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
from engine.providers.http import write_bytes_atomic
from engine.providers.openai_client import openai_client
from engine.providers.openai_errors import openai_error

log = logging.getLogger(__name__)

PROVIDER = "openai"
FALLBACK_SIZE = "1024x1536"
QUALITIES = frozenset({"low", "medium", "high", "auto"})
REFUSED_MESSAGE = "the image provider refused this prompt: try rephrasing"


def parse_size(size: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in size.lower().split("x"))
    except ValueError:
        raise ProviderError(
            f"image size {size!r} is not WIDTHxHEIGHT", kind="invalid_request", provider=PROVIDER
        ) from None
    return width, height


def portrait_target(width: int, height: int) -> tuple[int, int]:
    """The 9:16 frame an image of this height is padded into (even width)."""
    if width * 16 == height * 9:
        return width, height
    target_w = int(round(height * 9 / 16 / 2)) * 2
    return target_w, height


class OpenAIImages(MediaProvider):
    name = PROVIDER
    live = True
    actions = frozenset({"txt2img", "img2img"})
    poll_interval_s = 0.5
    timeout_s = 300.0

    def warm_up(self) -> None:
        """The SDK imports its Images resource and builds its models on first use: not on the event loop."""
        from openai.types import ImagesResponse

        ImagesResponse.model_rebuild()
        _ = self._client.images

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.openai.com/v1",
        model: str = "gpt-image-2",
        size: str = "864x1536",
        quality: str = "medium",
        max_retries: int = 2,
        timeout_s: float = 180.0,  # high quality images can take >60 s
    ) -> None:
        self.model = model
        self.size = size
        self.quality = quality
        self.base_url = base_url
        self._secrets = (api_key,)
        self._client = openai_client(api_key, base_url=base_url, max_retries=max_retries, timeout_s=timeout_s)

    @classmethod
    def from_settings(cls, settings: Any) -> OpenAIImages:
        return cls(
            settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            model=settings.openai_image_model,
            size=getattr(settings, "openai_image_size", "864x1536"),
            quality=settings.openai_image_quality,
            max_retries=getattr(settings, "openai_max_retries", 2),
            timeout_s=max(settings.openai_timeout_s, 180.0),
        )

    async def aclose(self) -> None:
        await self._client.close()

    # ------------------------------------------------------------ params

    def _options(self, request: GenerationRequest) -> tuple[str, str, int, str]:
        params = request.params
        model = str(params.get("model") or self.model)
        quality = str(params.get("quality") or self.quality).lower()
        n = costs.image_count(params)
        size = str(params.get("size") or self.size).lower()
        return model, quality, n, size

    def validate(self, request: GenerationRequest) -> None:
        model, quality, n, size = self._options(request)
        if request.action_type not in self.actions:
            raise ProviderError(
                f"OpenAI images cannot do {request.action_type}", kind="invalid_request", provider=PROVIDER
            )
        if not request.prompt.strip():
            raise ProviderError("the image prompt is empty", kind="invalid_request", provider=PROVIDER)
        if request.action_type == "img2img" and not (request.source_image_path
                                                    and Path(request.source_image_path).is_file()):
            raise ProviderError("the photo to start from is missing: send it again", kind="invalid_request",
                                provider=PROVIDER)
        fidelity = request.params.get("input_fidelity")
        if fidelity not in (None, "", "high", "low"):
            raise ProviderError("input fidelity must be high or low", kind="invalid_request", provider=PROVIDER)
        if len(request.prompt) > 32_000:
            raise ProviderError(
                "the image prompt is too long (32,000 characters at most)", kind="invalid_request", provider=PROVIDER
            )
        if not 1 <= n <= 10:
            raise ProviderError("OpenAI makes 1 to 10 images per request", kind="invalid_request", provider=PROVIDER)
        if quality not in QUALITIES:
            raise ProviderError(
                f"image quality must be one of {sorted(QUALITIES)}", kind="invalid_request", provider=PROVIDER
            )
        if size != "auto":
            width, height = parse_size(size)
            if width % 16 or height % 16:
                raise ProviderError("image sizes must be divisible by 16", kind="invalid_request", provider=PROVIDER)

    def estimate_cost(self, request: GenerationRequest) -> Cost:
        model, quality, n, _ = self._options(request)
        return costs.openai_image_cost(model, quality, n)

    # ------------------------------------------------------------ job

    async def submit(self, request: GenerationRequest, out_dir: Path) -> SubmitResult:
        self.validate(request)
        model, quality, n, size = self._options(request)
        job_id = f"openai-img-{uuid.uuid4().hex[:12]}"
        edit = _Edit.of(request) if request.action_type == "img2img" else None
        response, used_size = await self._generate(request.prompt, model, quality, n, size, edit)
        images = [item.b64_json for item in (response.data or []) if getattr(item, "b64_json", None)]
        if not images:
            raise ProviderError(
                "OpenAI sent no image", kind="invalid_output", retryable=True,
                detail="response.data had no b64_json", provider=PROVIDER,
            )  # fmt: skip
        requested = size if size != "auto" else FALLBACK_SIZE
        target = portrait_target(*parse_size(requested))
        files = []
        for index, b64 in enumerate(images):
            dest = Path(out_dir) / f"{job_id}_{index + 1}.png"
            await _save_png(b64, dest, target)
            files.append(str(dest))
        log.info("openai images: %d file(s) at %s (asked %s) for job %s", len(files), used_size, size, job_id)
        return SubmitResult(
            job_id=job_id,
            provider_data={"files": files, "model": model, "size": used_size, "quality": quality},
            cost=costs.openai_image_cost(model, quality, len(files)),
        )

    async def _generate(self, prompt: str, model: str, quality: str, n: int, size: str,
                        edit: _Edit | None = None) -> tuple[Any, str]:
        try:
            return await self._call(prompt, model, quality, n, size, edit), size
        except openai.BadRequestError as exc:
            # A custom size the model refuses is not billed: retry once at 2:3.
            if size not in (FALLBACK_SIZE, "auto") and (exc.param == "size" or "size" in (exc.code or "")):
                log.info("openai images: size %s refused, falling back to %s", size, FALLBACK_SIZE)
                try:
                    return await self._call(prompt, model, quality, n, FALLBACK_SIZE, edit), FALLBACK_SIZE
                except (openai.OpenAIError, json.JSONDecodeError) as exc2:
                    raise self._error(exc2) from None
            raise self._error(exc) from None
        except (openai.OpenAIError, json.JSONDecodeError) as exc:
            raise self._error(exc) from None

    async def _call(self, prompt: str, model: str, quality: str, n: int, size: str, edit: _Edit | None) -> Any:
        # Always send `model`: without it the API would pick the retired dall-e-2.
        # The raw response, parsed in a thread: the answer is a few MB of JSON (base64 PNGs),
        # ~9 ms of json.loads that would otherwise hold up the event loop.
        images = self._client.images.with_raw_response
        if edit is not None:
            extra = {"input_fidelity": edit.fidelity} if edit.fidelity else {}
            image = (edit.path.name, await asyncio.to_thread(edit.path.read_bytes), edit.mime)
            raw = await images.edit(
                model=model, image=image, prompt=prompt, n=n, size=size, quality=quality, output_format="png",
                **extra,
            )  # type: ignore[arg-type]
        else:
            raw = await images.generate(
                model=model, prompt=prompt, n=n, size=size, quality=quality, output_format="png"
            )  # type: ignore[arg-type]
        return await asyncio.to_thread(raw.parse)

    def _error(self, exc: Exception) -> ProviderError:
        error = openai_error(exc, what="image model", secrets=self._secrets)
        if error.kind == "refused":
            error.user_message = REFUSED_MESSAGE
            error.args = (REFUSED_MESSAGE,)
        log.warning("openai images failed: %s", error)
        return error

    async def poll(self, job_id: str, provider_data: dict[str, Any]) -> JobStatus:
        files = provider_data.get("files") or []
        if files and all(Path(path).is_file() for path in files):
            return JobStatus(state="completed", progress=100.0, provider_data=provider_data)
        return JobStatus(
            state="failed",
            provider_data=provider_data,
            error="the generated images are missing on disk: generate again",
        )

    async def fetch(self, job_id: str, status: JobStatus, out_dir: Path) -> list[FetchedFile]:
        """The files submit() wrote; no second paid call."""
        from engine.media.images import image_size

        fetched = []
        for path in status.provider_data.get("files") or []:
            if not Path(path).is_file():
                raise ProviderError(
                    "a generated image is missing on disk", kind="generation_failed",
                    detail=f"missing {Path(path).name}", provider=PROVIDER,
                )  # fmt: skip
            width, height = await asyncio.to_thread(image_size, path)
            fetched.append(FetchedFile(local_path=str(path), media_type="image", width=width, height=height))
        return fetched


class _Edit:
    """The photo an edit starts from: its path, real type and the fidelity asked for."""

    def __init__(self, path: Path, mime: str, fidelity: str | None) -> None:
        self.path, self.mime, self.fidelity = path, mime, fidelity

    @classmethod
    def of(cls, request: GenerationRequest) -> _Edit:
        from engine.media.images import mime_type

        path = Path(request.source_image_path or "")
        try:
            mime = mime_type(path)
        except (OSError, ValueError):
            mime = ""
        if mime not in ("image/png", "image/jpeg", "image/webp"):
            raise ProviderError("OpenAI edits take PNG, JPEG or WebP pictures", kind="invalid_request",
                                detail=f"mime {mime or 'unknown'}", provider=PROVIDER)
        fidelity = str(request.params.get("input_fidelity") or "") or None
        return cls(path, mime, fidelity)


async def _save_png(b64: str, dest: Path, target: tuple[int, int]) -> None:
    """Decode, write atomically, and pad to the 9:16 target when needed."""
    from engine.media.images import afit_image, image_size

    try:
        data = await asyncio.to_thread(base64.b64decode, b64, validate=True)
    except (binascii.Error, ValueError):
        raise ProviderError(
            "OpenAI sent a broken image", kind="invalid_output", retryable=True,
            detail="b64_json did not decode", provider=PROVIDER,
        ) from None  # fmt: skip
    raw = dest.parent / f".{dest.stem}.raw.png"
    await asyncio.to_thread(write_bytes_atomic, raw, data)
    try:
        try:
            size = await asyncio.to_thread(image_size, raw)
        except Exception:  # noqa: BLE001 - not an image at all
            raise ProviderError(
                "OpenAI sent a broken image", kind="invalid_output", retryable=True,
                detail="image did not open", provider=PROVIDER,
            ) from None  # fmt: skip
        if tuple(size) == target:
            await asyncio.to_thread(os.replace, raw, dest)
            return
        tmp = dest.parent / f".{dest.stem}.fit.png"
        await afit_image(raw, target[0], target[1], tmp, mode="contain")
        await asyncio.to_thread(os.replace, tmp, dest)
    finally:
        for leftover in (raw, dest.parent / f".{dest.stem}.fit.png"):
            if leftover.exists():
                await asyncio.to_thread(leftover.unlink)
