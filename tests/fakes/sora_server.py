"""Fake Sora 2 Videos protocol (OpenAI's, as a gateway would still serve it).

Checks: Bearer auth on every call (downloads too); create is multipart with
`prompt`, `model`, `seconds` ("4"|"8"|"12" only), `size` (per-model enum, no
1:1) and `input_reference` as a FILE whose pixel size equals `size` exactly.
Polls report queued -> in_progress (progress rising) -> completed, with an
`openai-poll-after-ms` header. Extra scenario: "failed" (moderation failure).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiohttp import web

from tests.fakes import RECORDED, FakeServer, image_dimensions, image_format, tiny_mp4
from tests.fakes.openai_server import openai_error

SIZES = {
    "sora-2": {"720x1280", "1280x720"},
    "sora-2-pro": {"720x1280", "1280x720", "1024x1792", "1792x1024"},
}
POLL_AFTER_MS = "20"


class FakeSora(FakeServer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.videos: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}

    def api_prefix(self) -> str:
        return "/v1"

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/videos", self.create)
        app.router.add_get("/v1/videos/{vid}", self.retrieve)
        app.router.add_get("/v1/videos/{vid}/content", self.content)
        app.router.add_delete("/v1/videos/{vid}", self.delete)

    def _pre_checks(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return openai_error(401, "Incorrect API key provided.", code="invalid_api_key")
        if self.scenario == "server_error":
            return openai_error(500, "The server had an error while processing your request.", etype="server_error")
        if self.should_rate_limit(request):
            return openai_error(429, "Rate limit reached", etype="requests", code="rate_limit_exceeded",
                                headers={"retry-after": self.retry_after})  # fmt: skip
        return None

    def _video(self, vid: str) -> dict[str, Any]:
        video = self.videos[vid]
        return {
            "id": vid, "object": "video", "model": video["model"], "status": video["status"],
            "progress": video["progress"], "created_at": video["created_at"],
            "completed_at": video.get("completed_at"), "expires_at": None, "seconds": video["seconds"],
            "size": video["size"], "prompt": video["prompt"], "remixed_from_video_id": None,
            "error": video.get("error"),
        }  # fmt: skip

    async def create(self, request: web.Request) -> web.Response:
        early = self._pre_checks(request)
        if early is not None:
            return early
        recorded = request[RECORDED]
        if recorded.content_type != "multipart/form-data":
            return openai_error(400, "Expected multipart/form-data", param="input_reference")
        form = recorded.form
        if not form.get("prompt"):
            return openai_error(400, "Missing required parameter: 'prompt'.", param="prompt",
                                code="missing_required_parameter")  # fmt: skip
        model = form.get("model", "sora-2")
        family = "sora-2-pro" if model.startswith("sora-2-pro") else "sora-2" if model.startswith("sora-2") else None
        if family is None:
            return openai_error(400, f"Invalid value: '{model}'.", param="model", code="invalid_value")
        seconds = form.get("seconds", "4")
        if seconds not in ("4", "8", "12"):
            return openai_error(400, f"Invalid value: '{seconds}'. Supported values are: '4', '8', and '12'.",
                                param="seconds", code="invalid_value")  # fmt: skip
        size = form.get("size", "720x1280")
        if size not in SIZES[family]:
            allowed = "', '".join(sorted(SIZES[family]))
            return openai_error(400, f"Invalid value: '{size}'. Supported values are: '{allowed}'.",
                                param="size", code="invalid_value")  # fmt: skip
        if "input_reference" in form:
            return openai_error(400, "Invalid type for 'input_reference': expected a file.",
                                param="input_reference", code="invalid_type")  # fmt: skip
        reference = recorded.files.get("input_reference")
        if reference is not None:
            if image_format(reference.data) not in ("png", "jpg", "webp"):
                return openai_error(400, "input_reference must be a jpeg, png or webp image.",
                                    param="input_reference", code="invalid_value")  # fmt: skip
            width, height = (int(v) for v in size.split("x"))
            if image_dimensions(reference.data) != (width, height):
                return openai_error(400, "Inpaint image must match the requested width and height",
                                    param="input_reference", code="invalid_value")  # fmt: skip
        if self.scenario == "refused":
            return openai_error(400, "Your request was blocked by our moderation system.",
                                param="prompt", code="moderation_blocked")  # fmt: skip
        if self.scenario == "malformed_json":
            return self.malformed_response()
        vid = f"video_{uuid.uuid4().hex}"
        self.videos[vid] = {
            "model": model, "status": "queued", "progress": 0, "created_at": int(time.time()),
            "seconds": seconds, "size": size, "prompt": form["prompt"],
        }  # fmt: skip
        return web.json_response(self._video(vid))

    async def retrieve(self, request: web.Request) -> web.Response:
        early = self._pre_checks(request)
        if early is not None:
            return early
        vid = request.match_info["vid"]
        if vid not in self.videos:
            return openai_error(404, f"Video '{vid}' not found.", code="not_found")
        video = self.videos[vid]
        self.polls[vid] = self.polls.get(vid, 0) + 1
        count = self.polls[vid]
        if self.scenario == "failed":
            video.update(status="failed", error={"code": "moderation_blocked", "message": "blocked by moderation"})
        elif count > self.pending_polls:
            video.update(status="completed", progress=100, completed_at=int(time.time()))
        else:
            video.update(status="in_progress", progress=min(99, int(100 * count / (self.pending_polls + 1))))
        return web.json_response(self._video(vid), headers={"openai-poll-after-ms": POLL_AFTER_MS})

    async def content(self, request: web.Request) -> web.StreamResponse:
        early = self._pre_checks(request)
        if early is not None:
            return early
        vid = request.match_info["vid"]
        if vid not in self.videos:
            return openai_error(404, f"Video '{vid}' not found.", code="not_found")
        if request.query.get("variant", "video") != "video":
            return openai_error(400, "Only the video variant is served by this fake.", param="variant")
        if self.videos[vid]["status"] != "completed":
            return openai_error(400, "Video is not ready yet.", code="video_not_ready")
        return await self.serve_bytes(request, tiny_mp4(), "video/mp4")

    async def delete(self, request: web.Request) -> web.Response:
        early = self._pre_checks(request)
        if early is not None:
            return early
        vid = request.match_info["vid"]
        self.videos.pop(vid, None)
        return web.json_response({"id": vid, "object": "video.deleted", "deleted": True})
