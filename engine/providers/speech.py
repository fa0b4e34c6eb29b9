"""Speech to text: the contract the engine calls for a voice note."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from pydantic import BaseModel

# what the transcription endpoint takes as it is (anything else is converted first)
ACCEPTED_AUDIO = frozenset({".flac", ".mp3", ".mp4", ".mpeg", ".mpga", ".m4a", ".ogg", ".oga", ".wav", ".webm"})
UPLOAD_LIMIT_BYTES = 25 * 1024 * 1024  # the endpoint's limit per request


class Transcript(BaseModel):
    text: str
    model: str
    seconds: float | None = None  # audio length, when the API says
    cost_usd: float | None = None


class Transcriber(ABC):
    name: str = "speech"
    live: bool = False

    @abstractmethod
    async def transcribe(self, path: Path, duration_s: float | None = None) -> Transcript:
        """The words spoken in the audio file at `path`. Raise ProviderError on failure."""
