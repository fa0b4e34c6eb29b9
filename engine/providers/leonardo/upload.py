"""The start frame of a Leonardo video: a Leonardo-made image by id, else an uploaded init image.

Uploading is Leonardo's init-image flow: `POST /init-image` returns a
presigned S3 form; the picture is posted there (fields first, file last, no
auth header) and is then known by the returned id. Veo wants a 9:16 start
frame at the output size, so a picture of another shape is cover-fitted
into a temp file first.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path
from typing import Any

from engine.providers.base import GenerationRequest, ProviderError
from engine.providers.http import HttpClient
from engine.providers.leonardo.common import PROVIDER
from engine.providers.leonardo.video_options import MOTION_MODELS, VEO_MODELS

log = logging.getLogger(__name__)

UPLOAD_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def generated_image_id(request: GenerationRequest) -> str | None:
    """The Leonardo image id of the source picture, when Leonardo made it."""
    meta = request.source_image_meta or {}
    if str(meta.get("provider", "")).lower() == PROVIDER and meta.get("provider_item_id"):
        return str(meta["provider_item_id"])
    return None


async def start_frame(
    http: HttpClient, request: GenerationRequest, options: dict[str, Any], out_dir: Path
) -> tuple[str, str]:
    """(imageId, imageType): a Leonardo-made image by id, else an uploaded file."""
    from engine.media.images import afit_image, image_size

    generated = generated_image_id(request)
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
            return await upload_init_image(http, prepared), "UPLOADED"
        finally:
            await asyncio.to_thread(prepared.unlink, missing_ok=True)
    return await upload_init_image(http, path), "UPLOADED"


async def upload_init_image(http: HttpClient, path: Path) -> str:
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
    answer = await http.request_json("POST", "/init-image", json_body={"extension": extension})
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
    await http.request(
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
