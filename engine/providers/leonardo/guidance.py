"""Leonardo pictures guided by the person's own photo (img2img on `POST /generations`).

The photo is uploaded with the init-image flow (`upload.upload_init_image`),
then guides the generation one of two ways, by the panel's `guidance`:

- "init" (the default): the photo, fitted to the output size with a blurred
  pad (nothing of the pet is cut away), goes up as an init image and is sent
  as `init_image_id` + `init_strength` (0.1-0.9, higher keeps more of the
  photo). Both fields are in Leonardo's API reference for `POST /generations`
  (the facts brief, section 4.1); that Phoenix honours them is unconfirmed.
- "character": the photo as it is becomes a Character Reference, Leonardo's
  image guidance (`controlnets: [{initImageId, initImageType: "UPLOADED",
  preprocessorId, strengthType: Low|Mid|High}]`, from its "Image Guidance"
  guide, which its current docs file under legacy generation). Which
  preprocessor id serves Character Reference for which model is not confirmed
  here: it is the LEONARDO_CHARACTER_REFERENCE_ID setting (default 133, the
  id the guide gives for its SDXL models).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from engine.providers.base import GenerationRequest, ProviderError
from engine.providers.http import HttpClient
from engine.providers.leonardo.common import PROVIDER
from engine.providers.leonardo.upload import upload_init_image

GUIDANCE = ("init", "character")
STRENGTH_TYPES = ("Low", "Mid", "High")
DEFAULT_INIT_STRENGTH = 0.4


def guidance_options(request: GenerationRequest) -> tuple[str, float, str]:
    """(guidance, init_strength, strengthType) from the panel's parameters; raises on bad values."""
    params = request.params
    guidance = str(params.get("guidance") or "init").lower()
    if guidance not in GUIDANCE:
        raise ProviderError(f"Leonardo guidance must be one of {', '.join(GUIDANCE)}", kind="invalid_request",
                            provider=PROVIDER)
    try:
        strength = float(params.get("init_strength") or DEFAULT_INIT_STRENGTH)
    except (TypeError, ValueError):
        strength = -1.0
    if not 0.1 <= strength <= 0.9:
        raise ProviderError("the photo's influence (init strength) must be between 0.1 and 0.9",
                            kind="invalid_request", provider=PROVIDER)
    strength_type = str(params.get("reference_strength") or "Mid").capitalize()
    if strength_type not in STRENGTH_TYPES:
        raise ProviderError("the reference strength must be Low, Mid or High", kind="invalid_request",
                            provider=PROVIDER)
    return guidance, strength, strength_type


def check_photo(request: GenerationRequest) -> None:
    if not request.source_image_path or not Path(request.source_image_path).is_file():
        raise ProviderError("the photo to start from is missing: send it again", kind="invalid_request",
                            provider=PROVIDER)
    guidance_options(request)


async def guidance_fields(http: HttpClient, request: GenerationRequest, width: int, height: int, out_dir: Path,
                          character_reference_id: int) -> dict[str, Any]:
    """Upload the photo and return the body fields that make it guide the generation."""
    from engine.media.images import afit_image

    guidance, strength, strength_type = guidance_options(request)
    photo = Path(request.source_image_path or "")
    if guidance == "character":
        image_id = await upload_init_image(http, photo)
        return {"controlnets": [{"initImageId": image_id, "initImageType": "UPLOADED",
                                 "preprocessorId": character_reference_id, "strengthType": strength_type}]}
    # an init image shapes the composition: give it the output's frame, padded so the pet stays whole
    fitted = Path(out_dir) / f".leonardo-init-{uuid.uuid4().hex[:8]}.jpg"
    await afit_image(photo, width, height, fitted, mode="contain")
    try:
        image_id = await upload_init_image(http, fitted)
    finally:
        await asyncio.to_thread(fitted.unlink, missing_ok=True)
    return {"init_image_id": image_id, "init_strength": strength}
