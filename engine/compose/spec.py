"""What a finished-video render is asked for and what it reports: ComposeSpec, ComposeResult, ComposeError.

Pure data (pydantic models): the inputs and knobs of one render, one burned-in
caption screen (CaptionCue), the result facts, and the error that names the
input at fault.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from engine.media import CAPTION_FONT

DEFAULT_SIZE_LIMIT = 49_000_000  # under the Bot API's 50 MB upload limit, in either unit


class ComposeError(RuntimeError):
    """The video could not be made. `part` names the input at fault, if one is."""

    def __init__(self, message: str, *, part: Literal["clip", "music", "text", "output"] = "output",
                 detail: str = "") -> None:
        super().__init__(message)
        self.part = part
        self.detail = detail


class ComposeSpec(BaseModel):
    clip_path: Path
    music_path: Path | None = None
    # paragraphs, each a list of sentences (one caption screen per sentence)
    overlay: list[list[str]] | None = None
    duration_s: float = Field(gt=0, le=600)
    width: int = Field(720, ge=64, le=4096)
    height: int = Field(1280, ge=64, le=4096)
    font_path: Path = CAPTION_FONT
    size_limit_bytes: int = Field(DEFAULT_SIZE_LIMIT, gt=0)
    fade_in_s: float = Field(0.5, ge=0)
    fade_out_s: float = Field(1.5, ge=0)
    music_gain_db: float = -1.0
    clip_audio: Literal["duck", "replace"] = "duck"  # with music: keep the clip's sound quietly, or drop it
    clip_audio_duck_db: float = -15.0
    text_box: bool = False  # a translucent box behind the caption, as well as the outline
    title: str = ""
    crf: int = Field(23, ge=0, le=51)
    preset: str = "veryfast"
    # one encoder (and decoder) thread: renders run one per core at once (engine/background.py),
    # and x264's own threads would only oversubscribe the cores and add ~30 MB per encode
    threads: int = Field(1, ge=0, le=64)
    audio_bitrate_k: int = Field(128, ge=32, le=320)
    timeout_s: float = 600

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: int) -> int:
        return value - value % 2  # yuv420p needs even sizes


class CaptionCue(BaseModel):
    """One caption screen as burned in: when, what, and where (pixels)."""

    start_s: float
    end_s: float
    lines: list[str]
    font_size: int
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the text block (outline included)


class ComposeResult(BaseModel):
    path: Path
    duration_s: float
    width: int
    height: int
    size_bytes: int
    has_music: bool
    has_text: bool
    has_clip_audio: bool  # the clip's own sound is in the mix
    looped: bool
    reencoded: bool = False  # a second pass at a computed bitrate kept the file under the limit
    cues: list[CaptionCue] = Field(default_factory=list)
    elapsed_s: float = 0.0
