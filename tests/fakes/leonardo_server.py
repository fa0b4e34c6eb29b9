"""Fake Leonardo.ai v1 REST API, plus the presigned S3 upload and the CDN.

Checks: Bearer auth on the API (and NO Authorization on the S3 upload);
unknown body fields are rejected (so a misspelt field fails); types and
ranges of image fields; `alchemy` must be set explicitly; image-to-video:
imageId/imageType must name a known generated or uploaded image, MOTION2*
must not get `duration`, VEO3_1* needs an integer duration of 4/6/8 and
1080p only at 8 s; the init-image multipart has every issued field and the
file part LAST, and the file's real format matches the declared extension.
Image guidance: `init_image_id` must name an uploaded init image and come
with `init_strength` 0.1-0.9; `controlnets` items name an uploaded (or
generated) image, a preprocessor id and Low/Mid/High (or a 0-2 weight, not
both). Each upload's bytes stay in `init_images[id]["data"]`, and each
generation records the init image it was guided by (`generations[gid]["guided_by"]`).

Every generation records its prompt and wall-clock creation time, listed by
`GET /generations/user/{userId}` (leonardo_listing.py; `GET /me` names the user).

Extra scenarios: "failed" (the job ends FAILED), "no_credits" (402).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from aiohttp import web

from tests.fakes import RECORDED, FakeServer, image_dimensions, image_format, jpeg_bytes, tiny_mp4
from tests.fakes.leonardo_listing import LeonardoAccount

IMAGE_FIELDS = {
    "prompt", "negative_prompt", "modelId", "width", "height", "num_images", "guidance_scale",
    "num_inference_steps", "seed", "presetStyle", "styleUUID", "contrast", "alchemy", "ultra",
    "photoReal", "init_image_id", "init_generation_image_id", "init_strength", "enhancePrompt",
    "public", "scheduler", "sd_version", "tiling", "transparency", "controlnets",
}  # fmt: skip
CONTROLNET_FIELDS = {"initImageId", "initImageType", "preprocessorId", "strengthType", "weight", "influence"}
VIDEO_FIELDS = {
    "prompt", "imageId", "imageType", "negativePrompt", "model", "resolution", "duration",
    "frameInterpolation", "promptEnhance", "promptEnhanceInstruction", "seed", "isPublic",
    "width", "height", "styleIds", "elements", "endFrameImage",
}  # fmt: skip
MOTION_MODELS = {"MOTION2", "MOTION2FAST"}
VEO_MODELS = {"VEO3_1", "VEO3_1FAST"}
RETIRED_MODELS = {"VEO3", "VEO3FAST", "SORA2", "SORA2PRO", "MOTION1"}


def leo_error(status: int, message: str, code: str = "validation-failed") -> web.Response:
    return web.json_response({"error": message, "path": "$", "code": code}, status=status)


class Invalid(Exception):
    pass


class FakeLeonardo(LeonardoAccount, FakeServer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.generations: dict[str, dict[str, Any]] = {}
        self.generated_images: dict[str, str] = {}  # image id -> generation id
        self.init_images: dict[str, dict[str, Any]] = {}  # id -> {extension, fields, uploaded, size}
        self.polls: dict[str, int] = {}
        self.hold_uploads: asyncio.Event | None = None  # set: S3 uploads wait for it (a kill mid-upload)

    def api_prefix(self) -> str:
        return "/api/rest/v1"

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/rest/v1/generations", self.create_images)
        app.router.add_get("/api/rest/v1/generations/{gid}", self.get_generation)
        app.router.add_post("/api/rest/v1/init-image", self.init_image)
        app.router.add_post("/api/rest/v1/generations-image-to-video", self.create_video)
        app.router.add_post("/s3-upload", self.s3_upload)
        app.router.add_get("/cdn/{name}", self.cdn)
        self.account_routes(app)

    # ------------------------------------------------------------ common

    def _pre_checks(self, request: web.Request, *, create: bool) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": "Invalid authentication token", "code": "invalid-jwt"}, status=401)
        if self.scenario == "server_error":
            return web.json_response({"error": "Internal server error"}, status=500)
        if create and self.should_rate_limit(request):
            return web.json_response(
                {"error": "Too many requests"}, status=429, headers={"Retry-After": self.retry_after}
            )
        if create and self.scenario == "no_credits":
            return leo_error(402, "You do not have enough API credits for this generation", "insufficient-credits")
        if create and request[RECORDED].content_type != "application/json":
            return leo_error(400, "expected a JSON body")
        return None

    @staticmethod
    def _unknown_fields(body: dict[str, Any], allowed: set[str]) -> None:
        for key in body:
            if key not in allowed:
                raise Invalid(f'unexpected variable "{key}"')

    @staticmethod
    def _int(body: dict[str, Any], key: str, low: int, high: int, *, required: bool = False) -> int | None:
        if key not in body:
            if required:
                raise Invalid(f'missing required field "{key}"')
            return None
        value = body[key]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise Invalid(f'expected an integer {low}..{high} for "{key}", got {value!r}')
        return value

    # ------------------------------------------------------------ images

    async def create_images(self, request: web.Request) -> web.Response:
        early = self._pre_checks(request, create=True)
        if early is not None:
            return early
        body = request[RECORDED].json
        try:
            self._check_image_body(body)
        except Invalid as exc:
            return leo_error(400, str(exc))
        if self.scenario == "refused":
            return leo_error(400, "Your prompt was flagged by content moderation as inappropriate", "moderation")
        if self.scenario == "malformed_json":
            return self.malformed_response()
        gid = str(uuid.uuid4())
        count = body.get("num_images", 4)
        guided_by = body.get("init_image_id") or next((c["initImageId"] for c in body.get("controlnets") or []), None)
        self.generations[gid] = {"kind": "image", "count": count, "w": body["width"], "h": body["height"],
                                 "guided_by": guided_by, "guidance": "init" if body.get("init_image_id") else
                                 "controlnet" if guided_by else None, "prompt": body["prompt"],
                                 "model_id": body["modelId"], "created": time.time(), "seed": self._seed(body),
                                 "ready_at": time.monotonic() + self.delay_for("image")}
        cost = 16 * count if body["alchemy"] else 8 * count
        return web.json_response(
            {
                "sdGenerationJob": {
                    "generationId": gid,
                    "apiCreditCost": cost,
                    "cost": {"amount": cost, "unit": "CREDITS"},
                }
            }
        )

    def _check_image_body(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise Invalid("expected a JSON object")
        self._unknown_fields(body, IMAGE_FIELDS)
        if not isinstance(body.get("prompt"), str) or not body["prompt"].strip():
            raise Invalid('missing required field "prompt"')
        if not isinstance(body.get("modelId"), str):
            raise Invalid('expected a string for "modelId"')
        for side in ("width", "height"):
            value = self._int(body, side, 32, 1536)
            if value is not None and value % 8:
                raise Invalid(f'"{side}" must be a multiple of 8')
        if "width" not in body or "height" not in body:
            raise Invalid("this fake wants width and height sent explicitly (defaults are 1024x768)")
        limit = 4 if max(body["width"], body["height"]) > 768 else 8
        self._int(body, "num_images", 1, limit)
        if not isinstance(body.get("alchemy"), bool):
            raise Invalid('"alchemy" must be sent explicitly as a boolean (it defaults to true)')
        contrast = body.get("contrast")
        if contrast is not None and (not isinstance(contrast, (int, float)) or not 1.0 <= contrast <= 4.5):
            raise Invalid('"contrast" must be a number 1.0..4.5')
        if body["alchemy"] and contrast is not None and contrast < 2.5:
            raise Invalid("Phoenix with alchemy needs contrast >= 2.5")
        if "negative_prompt" in body and not isinstance(body["negative_prompt"], str):
            raise Invalid('expected a string for "negative_prompt"')
        for flag in ("public", "ultra", "photoReal", "enhancePrompt"):
            if flag in body and not isinstance(body[flag], bool):
                raise Invalid(f'expected a boolean for "{flag}"')
        self._check_guidance(body)

    def _uploaded(self, image_id: Any, image_type: str = "UPLOADED") -> None:
        if image_type == "GENERATED":
            if image_id not in self.generated_images:
                raise Invalid("initImageId is not a generated image of this account")
            return
        entry = self.init_images.get(str(image_id))
        if entry is None or not entry["uploaded"]:
            raise Invalid(f"init image {image_id!r} was not uploaded")

    def _check_guidance(self, body: dict[str, Any]) -> None:
        if "init_strength" in body and "init_image_id" not in body and "init_generation_image_id" not in body:
            raise Invalid('"init_strength" needs an init image')
        if "init_image_id" in body:
            self._uploaded(body["init_image_id"])
            strength = body.get("init_strength")
            if not isinstance(strength, (int, float)) or isinstance(strength, bool) or not 0.1 <= strength <= 0.9:
                raise Invalid(f'"init_strength" must be a number 0.1..0.9, got {strength!r}')
        nets = body.get("controlnets")
        if nets is None:
            return
        if not isinstance(nets, list) or not nets:
            raise Invalid('"controlnets" must be a non-empty list')
        for net in nets:
            if not isinstance(net, dict):
                raise Invalid("each controlnet must be an object")
            self._unknown_fields(net, CONTROLNET_FIELDS)
            if net.get("initImageType") not in ("UPLOADED", "GENERATED"):
                raise Invalid('"initImageType" must be UPLOADED or GENERATED')
            self._uploaded(net.get("initImageId"), net["initImageType"])
            if not isinstance(net.get("preprocessorId"), int) or isinstance(net.get("preprocessorId"), bool):
                raise Invalid('"preprocessorId" must be an integer')
            if ("strengthType" in net) == ("weight" in net):
                raise Invalid('give either "strengthType" or "weight"')
            if "strengthType" in net and net["strengthType"] not in ("Low", "Mid", "High", "Ultra", "Max"):
                raise Invalid('"strengthType" must be Low, Mid, High, Ultra or Max')

    # ------------------------------------------------------------ init image

    async def init_image(self, request: web.Request) -> web.Response:
        early = self._pre_checks(request, create=True)
        if early is not None:
            return early
        body = request[RECORDED].json
        if not isinstance(body, dict) or set(body) != {"extension"} or body["extension"] not in (
            "png", "jpg", "jpeg", "webp"
        ):  # fmt: skip
            return leo_error(400, 'expected {"extension": "png|jpg|jpeg|webp"}')
        image_id = str(uuid.uuid4())
        key = f"uploads/{image_id}.{body['extension']}"
        fields = {
            "Content-Type": f"image/{'jpeg' if body['extension'] in ('jpg', 'jpeg') else body['extension']}",
            "bucket": "fake-leonardo-uploads",
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": "AKIAFAKE/20261127/us-west-2/s3/aws4_request",
            "X-Amz-Date": "20261127T120000Z",
            "key": key,
            "Policy": "eyJmYWtlIjoicG9saWN5In0=",
            "X-Amz-Signature": uuid.uuid4().hex,
        }
        self.init_images[image_id] = {"extension": body["extension"], "fields": fields, "uploaded": False}
        return web.json_response(
            {
                "uploadInitImage": {
                    "id": image_id,
                    "url": f"{self.root_url}/s3-upload",
                    "fields": json.dumps(fields),  # Leonardo sends a JSON-encoded string
                    "key": key,
                    "__typename": "InitImageUploadOutput",
                }
            }
        )

    async def s3_upload(self, request: web.Request) -> web.Response:
        recorded = request[RECORDED]
        if self.hold_uploads is not None:
            await self.hold_uploads.wait()

        def s3_error(status: int, code: str, message: str) -> web.Response:
            xml = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
            )
            return web.Response(status=status, text=xml, content_type="application/xml")

        if "authorization" in recorded.headers:
            return s3_error(400, "InvalidArgument", "Only one auth mechanism allowed")
        if recorded.content_type != "multipart/form-data":
            return s3_error(412, "PreconditionFailed", "Bucket POST must be of the enclosure-type multipart/form-data")
        key = recorded.form.get("key")
        entry = next((v for v in self.init_images.values() if v["fields"]["key"] == key), None)
        if entry is None:
            return s3_error(403, "AccessDenied", "Invalid according to Policy: key")
        for name, value in entry["fields"].items():
            if recorded.form.get(name) != value:
                return s3_error(403, "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {name}")
        if not recorded.part_order or recorded.part_order[-1] != "file" or "file" not in recorded.files:
            return s3_error(400, "InvalidArgument", "Bucket POST must contain a field named 'file' as the last field")
        data = recorded.files["file"].data
        actual = image_format(data)
        declared = "jpg" if entry["extension"] in ("jpg", "jpeg") else entry["extension"]
        if actual != declared:
            return s3_error(400, "InvalidArgument", "file content does not match the declared extension")
        entry["uploaded"] = True
        entry["size"] = image_dimensions(data)
        entry["data"] = data
        return web.Response(status=204)

    # ------------------------------------------------------------ video

    async def create_video(self, request: web.Request) -> web.Response:
        early = self._pre_checks(request, create=True)
        if early is not None:
            return early
        body = request[RECORDED].json
        try:
            self._check_video_body(body)
        except Invalid as exc:
            return leo_error(400, str(exc))
        if self.scenario == "refused":
            return leo_error(400, "Your prompt was flagged by content moderation as inappropriate", "moderation")
        if self.scenario == "malformed_json":
            return self.malformed_response()
        gid = str(uuid.uuid4())
        self.generations[gid] = {"kind": "video", "model": body["model"], "prompt": body["prompt"],
                                 "created": time.time(), "seed": self._seed(body),
                                 "ready_at": time.monotonic() + self.delay_for("video")}
        cost = 200 if body["model"] in MOTION_MODELS else 40 * body["duration"]
        return web.json_response(
            {
                "motionVideoGenerationJob": {
                    "generationId": gid,
                    "apiCreditCost": cost,
                    "cost": {"amount": cost, "unit": "CREDITS"},
                }
            }
        )

    def _check_video_body(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise Invalid("expected a JSON object")
        self._unknown_fields(body, VIDEO_FIELDS)
        if not isinstance(body.get("prompt"), str) or not body["prompt"].strip():
            raise Invalid('missing required field "prompt"')
        model = body.get("model", "MOTION2")
        if model in RETIRED_MODELS:
            raise Invalid(f'model "{model}" has been retired')
        if model not in MOTION_MODELS | VEO_MODELS:
            raise Invalid(f'unknown model "{model}"')
        image_type = body.get("imageType")
        image_id = body.get("imageId")
        if image_type == "GENERATED":
            if image_id not in self.generated_images:
                raise Invalid("imageId is not a generated image of this account (use generated_images[].id)")
        elif image_type == "UPLOADED":
            entry = self.init_images.get(str(image_id))
            if entry is None or not entry["uploaded"]:
                raise Invalid("imageId is not an uploaded init image")
        else:
            raise Invalid('"imageType" must be GENERATED or UPLOADED')
        resolution = body.get("resolution")
        if model in MOTION_MODELS:
            if "duration" in body:
                raise Invalid('"duration" is not supported for MOTION2 (fixed length)')
            if resolution not in (None, "RESOLUTION_480", "RESOLUTION_720"):
                raise Invalid(f'resolution "{resolution}" is not supported for {model}')
        else:
            duration = body.get("duration")
            if not isinstance(duration, int) or isinstance(duration, bool) or duration not in (4, 6, 8):
                raise Invalid(f'"duration" must be the number 4, 6 or 8 for {model}, got {duration!r}')
            if resolution not in ("RESOLUTION_720", "RESOLUTION_1080"):
                raise Invalid(f'resolution "{resolution}" is not supported for {model}')
            if resolution == "RESOLUTION_1080" and duration != 8:
                raise Invalid("1080p needs an 8 second duration")
        for number in ("width", "height"):
            if number in body and (not isinstance(body[number], int) or isinstance(body[number], bool)):
                raise Invalid(f'expected an integer for "{number}"')
        for flag in ("frameInterpolation", "promptEnhance", "isPublic"):
            if flag in body and not isinstance(body[flag], bool):
                raise Invalid(f'expected a boolean for "{flag}", got {body[flag]!r}')
        if "negativePrompt" in body and not isinstance(body["negativePrompt"], str):
            raise Invalid('expected a string for "negativePrompt"')

    # ------------------------------------------------------------ polling

    async def get_generation(self, request: web.Request) -> web.Response:
        early = self._pre_checks(request, create=False)
        if early is not None:
            return early
        if self.should_rate_limit(request):
            return web.json_response(
                {"error": "Too many requests"}, status=429, headers={"Retry-After": self.retry_after}
            )
        gid = request.match_info["gid"]
        generation = self.generations.get(gid)
        if generation is None:
            return web.json_response({"generations_by_pk": None})
        self.polls[gid] = self.polls.get(gid, 0) + 1
        record = self._as_record(gid, generation)
        if self.polls[gid] > self.pending_polls and time.monotonic() >= generation.get("ready_at", 0.0):
            generation.setdefault("images", self._outputs(gid, generation))
            record = self._as_record(gid, generation)
        return web.json_response({"generations_by_pk": record})

    def _outputs(self, gid: str, generation: dict[str, Any]) -> list[dict[str, Any]]:
        if generation["kind"] == "video":
            vid = str(uuid.uuid4())
            return [{"id": vid, "url": None, "nsfw": False, "motionMP4URL": f"{self.root_url}/cdn/{vid}.mp4",
                     "motion": True, "imageToVideo": True, "motionModel": generation["model"]}]  # fmt: skip
        images = []
        for _ in range(generation["count"]):
            image_id = str(uuid.uuid4())
            self.generated_images[image_id] = gid
            images.append({"id": image_id, "url": f"{self.root_url}/cdn/{image_id}.jpg", "nsfw": False,
                           "likeCount": 0, "motionMP4URL": None})  # fmt: skip
        generation["image_size"] = (generation["w"], generation["h"])
        return images

    async def cdn(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name.endswith(".mp4"):
            video = self.media.video() if self.media is not None else tiny_mp4()
            return await self.serve_bytes(request, video, "video/mp4")
        image_id = name.rsplit(".", 1)[0]
        gid = self.generated_images.get(image_id)
        if gid is None:
            return web.Response(status=404, text="Not Found")
        width, height = self.generations[gid]["image_size"]
        if self.media is not None:
            image = await self.cpu(self.media.image, width, height, "jpg")
        else:
            image = jpeg_bytes(width, height)
        return await self.serve_bytes(request, image, "image/jpeg")
