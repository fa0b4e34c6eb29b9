"""OpenAI speech to text: `client.audio.transcriptions.create(model=..., file=...)`.

A voice note goes as it is (Telegram's OGG/Opus is a format the endpoint
takes); a file the endpoint refuses, or one with a name it does not know,
is converted once with the bundled ffmpeg to 16 kHz mono MP3 and sent again.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Any

import openai

from engine.providers import costs
from engine.providers.base import ProviderError
from engine.providers.openai_client import openai_client
from engine.providers.openai_errors import openai_error
from engine.providers.speech import ACCEPTED_AUDIO, UPLOAD_LIMIT_BYTES, Transcriber, Transcript

log = logging.getLogger(__name__)

PROVIDER = "openai"
FORMAT_CODES = ("invalid_file_format", "unsupported_file", "invalid_format")


class OpenAITranscriber(Transcriber):
    name = PROVIDER
    live = True

    def __init__(self, api_key: str, *, base_url: str = "https://api.openai.com/v1", model: str = "gpt-transcribe",
                 max_retries: int = 2, timeout_s: float = 60.0) -> None:
        self.model = model
        self._secrets = (api_key,)
        self._client = openai_client(api_key, base_url=base_url, max_retries=max_retries, timeout_s=timeout_s)

    def warm_up(self) -> None:
        """The SDK imports its Audio resource on the first `client.audio`: not on the event loop."""
        _ = self._client.audio

    @classmethod
    def from_settings(cls, settings: Any) -> OpenAITranscriber:
        return cls(settings.openai_api_key.get_secret_value(), base_url=settings.openai_base_url,
                   model=settings.openai_transcribe_model, max_retries=settings.openai_max_retries,
                   timeout_s=min(60.0, settings.openai_timeout_s))

    async def aclose(self) -> None:
        await self._client.close()

    async def transcribe(self, path: Path, duration_s: float | None = None) -> Transcript:
        path = Path(path)
        if path.suffix.lower() not in ACCEPTED_AUDIO:
            return await self._converted(path, duration_s)
        try:
            return await self._send(path, duration_s)
        except ProviderError as exc:
            if exc.kind != "invalid_request" or not any(code in exc.detail for code in FORMAT_CODES):
                raise
            log.info("the transcription endpoint refused %s (%s): converting it", path.suffix, exc.detail)
            return await self._converted(path, duration_s)

    async def _converted(self, path: Path, duration_s: float | None) -> Transcript:
        from engine.media.ffmpeg import FFmpegError, run_ffmpeg

        with tempfile.TemporaryDirectory(prefix="ccbot-voice-") as folder:
            mp3 = Path(folder) / "voice.mp3"
            try:
                await run_ffmpeg(["-i", str(path), "-vn", "-ac", "1", "-ar", "16000", "-b:a", "48k", str(mp3)],
                                 timeout=60)
            except FFmpegError as exc:
                raise ProviderError("that audio could not be read", kind="invalid_request",
                                    detail=f"ffmpeg: {exc}"[:300], provider=PROVIDER) from None
            return await self._send(mp3, duration_s)

    async def _send(self, path: Path, duration_s: float | None) -> Transcript:
        size = path.stat().st_size
        if size > UPLOAD_LIMIT_BYTES:
            raise ProviderError("that recording is too big to transcribe", kind="invalid_request",
                                detail=f"{size} bytes", provider=PROVIDER)
        data = await asyncio.to_thread(path.read_bytes)
        try:
            result = await self._client.audio.transcriptions.create(model=self.model, file=(path.name, data))
        except (openai.OpenAIError, ValueError) as exc:
            raise openai_error(exc, what="speech-to-text model", secrets=self._secrets) from None
        text = str(getattr(result, "text", "") or "").strip()
        usage = getattr(result, "usage", None)
        seconds = getattr(usage, "seconds", None) if getattr(usage, "type", None) == "duration" else None
        seconds = float(seconds) if seconds is not None else duration_s
        return Transcript(text=text, model=self.model, seconds=seconds,
                          cost_usd=costs.transcription_cost_usd(self.model, seconds))
