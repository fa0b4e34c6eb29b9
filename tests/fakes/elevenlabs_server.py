"""Fake ElevenLabs music: `POST /v1/music?output_format=...` -> MP3 bytes.

Checks: `xi-api-key` header (a Bearer header does not count); JSON body with
`prompt` xor `composition_plan`; `music_length_ms` an integer 3000..600000 and
only with `prompt`; `model_id` music_v1|music_v2; `force_instrumental` a
boolean; `seed` not with `prompt`; unknown fields and bad `output_format`
-> 422 with FastAPI's `detail` list. Answers with a `song-id` header.

Extra scenario: "validation" (always 422).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiohttp import web

from tests.fakes import RECORDED, FakeServer, tiny_mp3

MUSIC_FIELDS = {
    "prompt", "composition_plan", "music_length_ms", "model_id", "force_instrumental",
    "respect_sections_durations", "seed", "finetune_id", "finetune_strength",
    "store_for_inpainting", "sign_with_c2pa",
}  # fmt: skip
OUTPUT_FORMATS = {
    "auto", "mp3_22050_32", "mp3_44100_32", "mp3_44100_64", "mp3_44100_96", "mp3_44100_128",
    "mp3_44100_192", "mp3_48000_192", "pcm_16000", "pcm_22050", "pcm_24000", "pcm_44100",
    "opus_48000_64", "ulaw_8000", "alaw_8000",
}  # fmt: skip


def detail_error(status: int, status_word: str, message: str, **data: Any) -> web.Response:
    detail: dict[str, Any] = {"status": status_word, "message": message}
    if data:
        detail["data"] = data
    return web.json_response({"detail": detail}, status=status)


def validation_error(loc: list[str], msg: str, kind: str = "value_error") -> web.Response:
    return web.json_response({"detail": [{"loc": loc, "msg": msg, "type": kind}]}, status=422)


class FakeElevenLabs(FakeServer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.song_ids: list[str] = []

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/music", self.music)

    async def music(self, request: web.Request) -> web.StreamResponse:
        recorded = request[RECORDED]
        if recorded.headers.get("xi-api-key") != self.api_key:
            return detail_error(401, "invalid_api_key", "Invalid API key")
        if self.scenario == "server_error":
            return web.json_response({"detail": {"status": "internal_error", "message": "Internal error"}}, status=500)
        if self.should_rate_limit(request):
            return web.Response(
                status=429,
                text='{"detail":{"status":"too_many_concurrent_requests","message":"Too many concurrent requests"}}',
                content_type="application/json",
                headers={"Retry-After": self.retry_after},
            )
        output_format = request.query.get("output_format", "auto")
        if output_format not in OUTPUT_FORMATS:
            return validation_error(["query", "output_format"], "Input should be a valid output format")
        if recorded.content_type != "application/json" or not isinstance(recorded.json, dict):
            return validation_error(["body"], "Input should be a valid dictionary", "dict_type")
        problem = self._check_body(recorded.json)
        if problem is not None:
            return problem
        if self.scenario == "validation":
            return validation_error(["body", "prompt"], "String should have at most 4100 characters")
        if self.scenario == "refused":
            return detail_error(
                400, "bad_prompt",
                "The prompt references a copyrighted artist.",
                prompt_suggestion="An upbeat acoustic pop tune with handclaps and a playful ukulele",
            )  # fmt: skip
        song_id = uuid.uuid4().hex[:20]
        self.song_ids.append(song_id)
        delay = self.delay_for("music")
        if delay:  # the whole song is composed before the first byte comes
            await asyncio.sleep(delay)
        length_ms = recorded.json.get("music_length_ms") or 30_000
        song = self.media.audio(length_ms) if self.media is not None else tiny_mp3()
        return await self.serve_bytes(request, song, "audio/mpeg", headers={"song-id": song_id})

    def _check_body(self, body: dict[str, Any]) -> web.Response | None:
        for key in body:
            if key not in MUSIC_FIELDS:
                return validation_error(["body", key], "Extra inputs are not permitted", "extra_forbidden")
        has_prompt = "prompt" in body
        if has_prompt == ("composition_plan" in body):
            return validation_error(["body"], "Exactly one of prompt or composition_plan must be given")
        if has_prompt and (not isinstance(body["prompt"], str) or not body["prompt"].strip()):
            return validation_error(["body", "prompt"], "Input should be a valid string", "string_type")
        if "music_length_ms" in body:
            length = body["music_length_ms"]
            if not has_prompt:
                return validation_error(["body", "music_length_ms"], "music_length_ms can only be used with prompt")
            if not isinstance(length, int) or isinstance(length, bool):
                return validation_error(["body", "music_length_ms"], "Input should be a valid integer", "int_type")
            if not 3000 <= length <= 600000:
                return validation_error(["body", "music_length_ms"], "Input should be between 3000 and 600000")
        if body.get("model_id", "music_v1") not in ("music_v1", "music_v2"):
            return validation_error(["body", "model_id"], "Input should be 'music_v1' or 'music_v2'", "literal_error")
        if "force_instrumental" in body:
            if not isinstance(body["force_instrumental"], bool):
                return validation_error(["body", "force_instrumental"], "Input should be a valid boolean", "bool_type")
            if not has_prompt:
                return validation_error(
                    ["body", "force_instrumental"], "force_instrumental can only be used with prompt"
                )
        if "seed" in body and has_prompt:
            return validation_error(["body", "seed"], "seed cannot be used with prompt")
        return None
