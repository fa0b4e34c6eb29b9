"""Checking the render's inputs before ffmpeg runs: a missing, damaged or cut-off clip or music file.

Each problem becomes a ComposeError naming the part at fault ("clip" or
"music") with a sentence a person understands; the music one lets the
workflow offer to finish without music.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

from engine.compose.spec import ComposeError
from engine.media.ffmpeg import MediaInfo, ProbeError, probe


def _iso_bmff_truncated(path: Path) -> bool:
    """True when an MP4/MOV's top-level boxes run past the end of the file (a cut-off download)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(12)
            if len(head) < 12 or head[4:8] not in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
                return False  # not ISO BMFF: nothing to say
            offset = 0
            while offset < size:
                handle.seek(offset)
                header = handle.read(16)
                if len(header) < 8:
                    return True
                box = int.from_bytes(header[:4], "big")
                if box == 1:
                    if len(header) < 16:
                        return True
                    box = int.from_bytes(header[8:16], "big")
                elif box == 0:  # runs to the end of the file
                    return False
                if box < 8 or offset + box > size:
                    return True
                offset += box
            return False
    except OSError:
        return True


async def _probe(path: Path, part: Literal["clip", "music"], *, missing: str, damaged: str) -> MediaInfo:
    """ffprobe facts, or ComposeError(part) saying whether the file is missing or unreadable."""
    try:
        return await probe(path)
    except ProbeError as exc:
        message = missing if not Path(path).is_file() else damaged
        raise ComposeError(message, part=part, detail=str(exc)) from None


async def check_clip(path: Path) -> MediaInfo:
    """The clip's facts, or ComposeError(part="clip") with a sentence a person understands."""
    info = await _probe(path, "clip", missing="The video clip is missing; please pick or generate the clip again.",
                        damaged="The video clip is damaged and cannot be read; please generate the clip again.")
    if not info.has_video or not info.duration_s or info.duration_s <= 0:
        raise ComposeError("The video clip has no pictures in it; please generate the clip again.",
                           part="clip", detail=f"probe: {info.model_dump()}")
    if await asyncio.to_thread(_iso_bmff_truncated, Path(path)):
        raise ComposeError("The video clip is incomplete (the file was cut off); please generate the clip again.",
                           part="clip", detail=f"{path}: a box runs past the end of the file")
    return info


async def check_music(path: Path) -> MediaInfo:
    """The music's facts, or ComposeError(part="music")."""
    info = await _probe(path, "music", missing="The music file is missing.",
                        damaged="The music file is damaged and cannot be played.")
    if not info.has_audio or not info.duration_s or info.duration_s <= 0.05:
        raise ComposeError("The music file is damaged: it has no sound in it.", part="music",
                           detail=f"probe: {info.model_dump()}")
    return info
