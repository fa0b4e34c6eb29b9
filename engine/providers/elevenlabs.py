"""ElevenLabs music (txt2audio): `POST /v1/music`, audio bytes streamed back.

Synchronous like OpenAI images: the paid call happens in submit(), which
streams the MP3 into the run's media folder (temp file, then rename) and
records the path; poll() reports completed and fetch() returns the file.
Always instrumental: the final video carries no lyrics.
"""

from __future__ import annotations

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

PROVIDER = "elevenlabs"
OUTPUT_FORMAT = "mp3_44100_128"
SONG_ID_HEADERS = ("song-id", "x-song-id")
REFUSAL_STATUSES = ("bad_prompt", "bad_composition_plan")


def _detail_dict(body: Any) -> dict[str, Any]:
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, dict) else {}


def _suggestion(detail: dict[str, Any]) -> str:
    data = detail.get("data")
    for source in (data if isinstance(data, dict) else {}, detail):
        for key in ("prompt_suggestion", "suggested_prompt", "suggestion"):
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return ""


def elevenlabs_error_hook(response: httpx.Response, body: Any) -> ProviderError | None:
    detail = _detail_dict(body)
    status_word = str(detail.get("status") or detail.get("code") or "")
    log_detail = f"HTTP {response.status_code} {safe_url(response.request.url)} {status_word}: {body_message(body)}"
    if response.status_code == 400 and status_word in REFUSAL_STATUSES:
        suggestion = _suggestion(detail)
        message = "the music provider refused this prompt (it may name an artist, a song or lyrics): try rephrasing"
        if suggestion:
            message += f". A version it accepts: \u201c{suggestion[:300]}\u201d"
        return ProviderError(message, kind="refused", detail=log_detail, provider=PROVIDER)
    if response.status_code == 401:
        return ProviderError(
            "the ElevenLabs API key was rejected: check ELEVENLABS_API_KEY",
            kind="authentication", detail=f"HTTP 401 {status_word}", provider=PROVIDER,
        )  # fmt: skip
    if response.status_code in (402, 403) and ("quota" in status_word or "plan" in log_detail.lower()):
        return ProviderError(
            "the ElevenLabs plan does not allow this (music needs a paid plan) or its credits are used up",
            kind="insufficient_credits", detail=log_detail, provider=PROVIDER,
        )  # fmt: skip
    if response.status_code == 422:
        problems = body.get("detail") if isinstance(body, dict) else None
        if isinstance(problems, list):
            fields = ", ".join(
                ".".join(str(p) for p in item.get("loc", [])[1:]) for item in problems if isinstance(item, dict)
            )
            log_detail += f" fields: {fields}"
        return ProviderError(
            "the music request had values ElevenLabs does not accept", kind="invalid_request",
            detail=log_detail, provider=PROVIDER,
        )  # fmt: skip
    return None


class ElevenLabsMusic(MediaProvider):
    name = PROVIDER
    live = True
    actions = frozenset({"txt2audio"})
    poll_interval_s = 0.5
    timeout_s = 600.0

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.elevenlabs.io",
        model_id: str = "music_v1",
        output_format: str = OUTPUT_FORMAT,
        retry: RetryPolicy | None = None,
        timeout_s: float = 300.0,  # the whole song is composed before bytes flow
    ) -> None:
        self.model_id = model_id
        self.output_format = output_format
        self.base_url = base_url.rstrip("/")
        self._http = HttpClient(
            PROVIDER,
            self.base_url,
            headers={"xi-api-key": api_key},
            timeout=timeout_s,
            retry=retry,
            error_hook=elevenlabs_error_hook,
            secrets=(api_key,),
        )

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> ElevenLabsMusic:
        return cls(
            settings.elevenlabs_api_key.get_secret_value(),
            base_url=settings.elevenlabs_base_url,
            model_id=settings.elevenlabs_music_model,
            **kwargs,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        return {
            "prompt": request.prompt.strip(),
            "music_length_ms": costs.music_length_ms(request),
            "model_id": str(request.params.get("model_id") or self.model_id),
            "force_instrumental": True,
        }

    def validate(self, request: GenerationRequest) -> None:
        if not request.prompt.strip():
            raise ProviderError("the music prompt is empty", kind="invalid_request", provider=PROVIDER)

    def estimate_cost(self, request: GenerationRequest) -> Cost:
        return costs.music_cost(costs.music_length_ms(request))

    async def submit(self, request: GenerationRequest, out_dir: Path) -> SubmitResult:
        self.validate(request)
        body = self._body(request)
        job_id = f"elevenlabs-{uuid.uuid4().hex[:12]}"
        dest = Path(out_dir) / f"{job_id}.mp3"
        headers = await self._http.stream_to_file(
            "POST",
            "/v1/music",
            dest,
            json_body=body,
            params={"output_format": self.output_format},
            headers={"Accept": "audio/mpeg"},
        )
        song_id = next((headers[name] for name in SONG_ID_HEADERS if headers.get(name)), None)
        log.info("elevenlabs: %d ms of music saved for job %s", body["music_length_ms"], job_id)
        return SubmitResult(
            job_id=job_id,
            provider_data={
                "file": str(dest),
                "song_id": song_id,
                "music_length_ms": body["music_length_ms"],
                "model_id": body["model_id"],
            },
            cost=costs.music_cost(body["music_length_ms"]),
        )

    async def poll(self, job_id: str, provider_data: dict[str, Any]) -> JobStatus:
        path = provider_data.get("file")
        if path and Path(path).is_file():
            return JobStatus(state="completed", progress=100.0, provider_data=provider_data)
        return JobStatus(
            state="failed", provider_data=provider_data,
            error="the generated music is missing on disk: generate again",
        )  # fmt: skip

    async def fetch(self, job_id: str, status: JobStatus, out_dir: Path) -> list[FetchedFile]:
        path = status.provider_data.get("file")
        if not path or not Path(path).is_file():
            raise ProviderError(
                "the generated music is missing on disk", kind="generation_failed",
                detail=f"no file for {job_id}", provider=PROVIDER,
            )  # fmt: skip
        length_ms = status.provider_data.get("music_length_ms")
        return [
            FetchedFile(
                local_path=str(path), media_type="audio",
                duration_s=float(length_ms) / 1000 if length_ms else None,
            )
        ]  # fmt: skip
