"""Voice notes and audio files: refused politely when too long or too big
(before anything is downloaded), or when no transcriber is configured;
otherwise downloaded, transcribed by the engine, shown back ("🎙 I heard:
…") and handled exactly like the same words typed."""

from __future__ import annotations

import logging
import tempfile
import warnings
from datetime import timedelta
from pathlib import Path

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.render import OutMessage
from bot.render.talk import VOICE_EMPTY, VOICE_FAILED, VOICE_OFFLINE, VOICE_TOO_BIG, VOICE_TOO_LONG, render_heard
from bot.telegram.conversation import Conversation
from bot.telegram.tap import owner_of
from engine.errors import EngineError
from engine.protocol import RunStatus

log = logging.getLogger(__name__)

VOICE_LIMIT_S = 120
VOICE_LIMIT_BYTES = 20 * 1024 * 1024  # what a bot may download through getFile
SUFFIXES = {"audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/mp4": ".m4a", "audio/m4a": ".m4a",
            "audio/x-m4a": ".m4a", "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/webm": ".webm",
            "audio/flac": ".flac"}


def _seconds(media: object) -> int:
    """The recording's length (PTB 22 warns that `duration` becomes a timedelta: either is fine here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = getattr(media, "duration", 0) or 0
    return int(value.total_seconds() if isinstance(value, timedelta) else value)


def _suffix(media: object, voice: bool) -> str:
    name = getattr(media, "file_name", None) or ""
    if Path(name).suffix:
        return Path(name).suffix.lower()[:8]
    return ".ogg" if voice else SUFFIXES.get(str(getattr(media, "mime_type", "") or ""), ".audio")


class Voice:
    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.bot = conversation.bot

    async def say(self, chat: int, text: str) -> None:
        await self.bot.outbox.send(chat, OutMessage(text=text, parse_mode=None), urgent=True)

    async def handle(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        media = message.voice or message.audio
        user_id, chat = update.effective_user.id, update.effective_chat.id
        owner = owner_of(user_id)
        async with self.bot.locks.hold(owner):
            seconds = _seconds(media)
            size = int(getattr(media, "file_size", 0) or 0)
            if seconds > VOICE_LIMIT_S:
                await self.say(chat, VOICE_TOO_LONG.format(length=f"{seconds // 60}:{seconds % 60:02d} min"))
                return
            if size > VOICE_LIMIT_BYTES:
                await self.say(chat, VOICE_TOO_BIG.format(size=f"{size / 1024 / 1024:.0f}"))
                return
            if not self.bot.engine.can_transcribe:
                await self.say(chat, VOICE_OFFLINE)
                return
            text = await self.transcribe(owner, chat, media, message.voice is not None, seconds)
            if text is None:
                return
            if not text.strip():
                await self.say(chat, VOICE_EMPTY)
                return
            await self.bot.outbox.send(chat, render_heard(text), urgent=True)
            await self.conversation.handle(user_id, chat, text)

    async def transcribe(self, owner: str, chat: int, media: object, voice: bool, seconds: int) -> str | None:
        """The recording's words (None when it failed, and the person was told)."""
        bot = self.bot
        session = await bot.sessions.of_owner(owner)
        run_id = None
        if session is not None and (await bot.engine.get_run(session.run_id)).status == RunStatus.ACTIVE:
            run_id = session.run_id
        with tempfile.TemporaryDirectory(prefix="ccbot-voice-") as folder:
            path = Path(folder) / f"recording{_suffix(media, voice)}"
            try:
                await bot.outbox.download(str(getattr(media, "file_id", "")), path)
            except TelegramError as exc:
                log.warning("could not download a voice note: %s", exc)
                await self.say(chat, VOICE_FAILED.format(why="it could not be downloaded"))
                return None
            try:
                return await bot.engine.transcribe(path, owner, run_id, float(seconds) if seconds else None)
            except EngineError as exc:
                await self.say(chat, VOICE_FAILED.format(why=str(exc).rstrip(".")))
                return None
