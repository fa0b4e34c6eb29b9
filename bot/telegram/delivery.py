"""Sending files to Telegram within its limits: a video over the upload limit
is re-encoded smaller, else sent as a document, else announced with its size,
never silently dropped. Files are uploaded from disk, never sent by URL, and
streamed: python-telegram-bot would read each whole into memory first, and a
crowd's clips, videos and albums in flight at once added up to tens of MB."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import IO, Any

from telegram import Bot, InlineKeyboardMarkup, InputFile, Message
from telegram.constants import ParseMode

from engine.media.ffmpeg import FFmpegError, run_ffmpeg

log = logging.getLogger(__name__)

PHOTO_LIMIT = 10 * 1024 * 1024


def streamed(handle: IO[bytes], name: str, attach: bool = False) -> InputFile:
    """An upload read from the open `handle` in chunks as it is sent (keep it open until then);
    `attach` for the media of an album."""
    return InputFile(handle, filename=name, attach=attach, read_file_handle=False)


async def shrink_video(path: Path, limit_bytes: int, duration_s: float | None) -> Path | None:
    """Re-encode to fit under the limit (bitrate from the duration); None if it cannot."""
    target = path.with_name(f"{path.stem}.small.mp4")
    seconds = max(1.0, duration_s or 15.0)
    kbps = int(limit_bytes * 8 * 0.9 / seconds / 1000) - 128  # keep 10% headroom, 128k audio
    if kbps < 150:
        return None
    try:
        await run_ffmpeg([
            "-i", str(path), "-vf", "scale='min(720,iw)':-2", "-c:v", "libx264", "-preset", "veryfast",
            "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k",
            "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(target),
        ], timeout=600)
    except FFmpegError as exc:
        log.warning("could not shrink %s: %s", path.name, exc)
        return None
    size = await asyncio.to_thread(lambda: target.stat().st_size)
    return target if size <= limit_bytes else None


async def send_file(
    bot: Bot,
    chat_id: int,
    kind: str,
    path: str | Path,
    *,
    caption: str = "",
    markup: InlineKeyboardMarkup | None = None,
    limit_bytes: int,
    duration_s: float | None = None,
    width: int | None = None,
    height: int | None = None,
) -> Message:
    path = Path(path)
    size = await asyncio.to_thread(lambda: path.stat().st_size)
    common: dict[str, Any] = {"caption": caption or None, "parse_mode": ParseMode.HTML, "reply_markup": markup}
    if kind == "video" and size > limit_bytes:
        smaller = await shrink_video(path, limit_bytes, duration_s)
        if smaller is not None:
            path, size = smaller, await asyncio.to_thread(lambda: smaller.stat().st_size)
    if size > limit_bytes:
        mb = size / 1_048_576
        text = f"{caption}\n\n⚠️ This file is {mb:.0f} MB, above Telegram's upload limit; it is saved at {path.name}."
        return await bot.send_message(chat_id, text.strip(), parse_mode=ParseMode.HTML, reply_markup=markup)
    with path.open("rb") as handle:
        upload = streamed(handle, path.name)
        if kind == "video":
            return await bot.send_video(chat_id, upload, supports_streaming=True, duration=int(duration_s or 0) or None,
                                        width=width, height=height, **common)
        if kind == "photo" and size <= PHOTO_LIMIT:
            return await bot.send_photo(chat_id, upload, **common)
        if kind == "audio":
            return await bot.send_audio(chat_id, upload, **common)
        return await bot.send_document(chat_id, upload, **common)
