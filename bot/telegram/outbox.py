"""The outbox: the only code that calls Telegram.

- every call that names a chat goes through the flood gate (order per chat,
  urgent first reactions ahead of bulk traffic, 429s waited out);
- a message is edited only when what it shows changed (`MessageRef.shown`),
  and "message is not modified" is never an error;
- every callback query is answered once, at once;
- chat actions are throttled and dropped rather than queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from telegram import Bot, BotCommandScopeChat, ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError

from bot.render import Button, OutMessage
from bot.telegram.delivery import send_file, streamed
from bot.telegram.flood import FloodGate
from bot.telegram.session import MessageRef

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRIES_AFTER_429 = 3
CHAT_ACTION_EVERY_S = 4.0
NEWEST_KEPT = 20_000  # chats whose newest message is remembered
_GONE = ("message to edit not found", "message can't be edited", "there is no text in the message to edit")


def markup(rows: list[list[Button]]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.text, callback_data=b.callback_data) for b in row] for row in rows]
    )


def digest(out: OutMessage) -> str:
    """What a message shows, as 12 hex chars: equal digests mean an edit would change nothing."""
    body = json.dumps([out.text, [[(b.text, b.callback_data) for b in row] for row in out.buttons],
                       out.force_reply], ensure_ascii=False)
    return hashlib.sha1(body.encode("utf-8")).hexdigest()[:12]


def _seconds(wait: Any) -> float:
    return wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)


def _reply_markup(out: OutMessage) -> Any:
    if out.force_reply:
        return ForceReply(selective=True, input_field_placeholder=out.placeholder)
    return markup(out.buttons)


class Outbox:
    def __init__(self, bot: Callable[[], Bot], flood: FloodGate, upload_limit_bytes: int,
                 download_limit_bytes: int = 20 * 1024 * 1024, *, sole_sender: bool = True) -> None:
        self._bot = bot
        self.flood = flood
        self.upload_limit = upload_limit_bytes
        self.download_limit = download_limit_bytes  # getFile: 20 MB on the cloud Bot API
        self._last_action: dict[int, float] = {}
        self.calls: dict[str, int] = {}  # Bot API calls by method (benchmarks and tests read it)
        # The newest message id seen per chat (ours and the person's; ids grow within a chat).
        # Trusted only when this process is the bot's only one: another would send unseen.
        self.sole_sender = sole_sender
        self._newest: dict[int, int] = {}

    # ----------------------------------------------------- newest message
    def saw(self, chat_id: int, message_id: int) -> None:
        """A message in this chat, the person's or ours."""
        if message_id > self._newest.get(chat_id, 0):
            self._newest[chat_id] = message_id
            if len(self._newest) > NEWEST_KEPT:  # forget the chats seen first (a forgotten chat just gets new messages)
                self._newest = dict(list(self._newest.items())[NEWEST_KEPT // 2:])

    def is_newest(self, chat_id: int, message_id: int) -> bool:
        """True when nothing was said in the chat after this message, as far as this process can know."""
        return self.sole_sender and self._newest.get(chat_id) == message_id

    def _saw_sent(self, chat_id: int, result: object) -> None:
        for message in result if isinstance(result, (list, tuple)) else [result]:
            if isinstance(getattr(message, "message_id", None), int):
                self.saw(chat_id, message.message_id)

    @property
    def bot(self) -> Bot:
        return self._bot()

    async def _call(self, method: str, chat_id: int, make: Callable[[], Awaitable[T]], urgent: bool = False) -> T:
        for attempt in range(RETRIES_AFTER_429 + 1):
            async with self.flood.slot(chat_id, urgent):
                self.calls[method] = self.calls.get(method, 0) + 1
                try:
                    result = await make()
                    if method.startswith("send"):
                        self._saw_sent(chat_id, result)
                    return result
                except RetryAfter as exc:
                    if attempt == RETRIES_AFTER_429:
                        raise
                    seconds = _seconds(exc.retry_after)
                    log.warning("Telegram asked to wait %.1f s (%s)", seconds, method)
                    self.flood.pause(seconds + 0.1)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------ answers
    async def answer(self, query: Any, text: str | None = None, alert: bool = False) -> None:
        """Stop a button's spinner (callers answer each query once). Not a chat
        message, so no flood slot; a 429 is waited out like any other."""
        for attempt in range(RETRIES_AFTER_429 + 1):
            self.calls["answerCallbackQuery"] = self.calls.get("answerCallbackQuery", 0) + 1
            try:
                await query.answer(text[:190] if text else None, show_alert=alert)
                return
            except RetryAfter as exc:
                if attempt == RETRIES_AFTER_429:
                    log.warning("could not answer a button tap: %s", exc)
                    return
                await asyncio.sleep(_seconds(exc.retry_after) + 0.1)
            except BadRequest:
                return  # too old to answer: nothing to do
            except TelegramError as exc:  # a 5xx or a network error: the spinner stays, the tap still counts
                log.warning("could not answer a button tap: %s", exc)
                return

    # ----------------------------------------------------------- messages
    async def send(self, chat_id: int, out: OutMessage, *, urgent: bool = False, quiet: bool = False) -> Message:
        return await self._call("sendMessage", chat_id, lambda: self.bot.send_message(
            chat_id, out.text, parse_mode=out.parse_mode, reply_markup=_reply_markup(out),
            disable_notification=quiet or None), urgent)

    async def show(self, chat_id: int, ref: MessageRef | None, out: OutMessage, *, urgent: bool = False,
                   quiet: bool = False) -> MessageRef:
        """The message `ref` made to show `out`: edited when it differs, sent
        anew when there is none (or it can no longer be edited)."""
        shown = digest(out)
        if ref is not None and ref.shown == shown:
            return ref
        if ref is not None and not out.force_reply:
            try:
                if ref.caption:  # a photo or video carrying the question: its caption is the text
                    await self._call("editMessageCaption", chat_id, lambda: self.bot.edit_message_caption(
                        chat_id, ref.message_id, caption=out.text, parse_mode=out.parse_mode,
                        reply_markup=markup(out.buttons)), urgent)
                else:
                    await self._call("editMessageText", chat_id, lambda: self.bot.edit_message_text(
                        out.text, chat_id, ref.message_id, parse_mode=out.parse_mode,
                        reply_markup=markup(out.buttons)), urgent)
                return MessageRef(message_id=ref.message_id, shown=shown, caption=ref.caption)
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    return MessageRef(message_id=ref.message_id, shown=shown, caption=ref.caption)
                if not any(reason in str(exc).lower() for reason in _GONE):
                    raise
                log.info("message %s can no longer be edited; sending a new one", ref.message_id)
        message = await self.send(chat_id, out, urgent=urgent, quiet=quiet)
        return MessageRef(message_id=message.message_id, shown=shown)

    async def set_commands(self, commands: list[Any], chat_id: int | None = None) -> None:
        """The command menu Telegram shows (once at start-up): everyone's, or one chat's."""
        scope = BotCommandScopeChat(chat_id) if chat_id is not None else None
        try:
            await self.bot.set_my_commands(commands, scope=scope)
        except TelegramError as exc:
            log.warning("could not register commands: %s", exc)

    async def set_webhook(self, url: str, secret: str | None) -> None:
        """Where Telegram posts updates (every process of a scaled bot says the same)."""
        await self.bot.set_webhook(url, secret_token=secret, allowed_updates=Update.ALL_TYPES)

    async def pin(self, chat_id: int, message_id: int) -> None:
        try:
            await self._call("pinChatMessage", chat_id, lambda: self.bot.pin_chat_message(
                chat_id, message_id, disable_notification=True))
        except TelegramError as exc:  # no right to pin in this group: the message still works
            log.info("could not pin the status message: %s", exc)

    async def send_file(self, chat_id: int, kind: str, path: str | Path, *, caption: str = "",
                        buttons: list[list[Button]] | None = None, file_id: str | None = None,
                        duration_s: float | None = None, width: int | None = None,
                        height: int | None = None) -> Message:
        """A file from disk (or again by its Telegram file id: no second upload)."""
        method = {"video": "sendVideo", "photo": "sendPhoto", "audio": "sendAudio"}.get(kind, "sendDocument")
        if file_id:
            send: Any = {"video": self.bot.send_video, "photo": self.bot.send_photo,
                         "audio": self.bot.send_audio}.get(kind, self.bot.send_document)
            extra: dict[str, Any] = {"supports_streaming": True} if kind == "video" else {}
            return await self._call(method, chat_id, lambda: send(
                chat_id, file_id, caption=caption or None, parse_mode=ParseMode.HTML,
                reply_markup=markup(buttons or []), **extra))
        return await self._call(method, chat_id, lambda: send_file(
            self.bot, chat_id, kind, path, caption=caption, markup=markup(buttons or []), limit_bytes=self.upload_limit,
            duration_s=duration_s, width=width, height=height))

    async def send_bytes(self, chat_id: int, data: Any, filename: str, caption: str = "") -> Message:
        """A small file made in memory (e.g. a CSV report) as a document."""
        return await self._call("sendDocument", chat_id, lambda: self.bot.send_document(
            chat_id, data, filename=filename, caption=caption or None))

    async def send_album(self, chat_id: int, photos: list[tuple[str, str]]) -> list[Message]:
        """2 to 10 pictures as one message group (one call), each with its caption."""
        async def send() -> tuple[Message, ...]:
            # opened only once the flood slot is ours, and streamed as sent (not read whole)
            handles = [Path(path).open("rb") for path, _ in photos]  # noqa: SIM115 - closed below
            try:
                media = [InputMediaPhoto(streamed(h, Path(path).name, attach=True), caption=caption or None,
                                         parse_mode=ParseMode.HTML)
                         for h, (path, caption) in zip(handles, photos, strict=True)]
                return await self.bot.send_media_group(chat_id, media)
            finally:
                for handle in handles:
                    handle.close()

        return list(await self._call("sendMediaGroup", chat_id, send))

    async def download(self, file_id: str, dest: Path) -> Path:
        """A file a person sent, into `dest` (a temporary name, then renamed: a cut-off
        download never looks whole). Not a chat message, so no flood slot; 429s are waited out."""
        part = dest.with_name(f".{dest.name}.part")
        for attempt in range(RETRIES_AFTER_429 + 1):
            self.calls["getFile"] = self.calls.get("getFile", 0) + 1
            try:
                file = await self.bot.get_file(file_id)
                await file.download_to_drive(part)
                break
            except RetryAfter as exc:
                if attempt == RETRIES_AFTER_429:
                    raise
                await asyncio.sleep(_seconds(exc.retry_after) + 0.1)
        await asyncio.to_thread(part.replace, dest)
        return dest

    async def chat_action(self, chat_id: int, action: str, force: bool = False) -> None:
        """"typing…" and the like: cosmetic, so throttled and never queued."""
        now = time.monotonic()
        if not chat_id or (not force and now - self._last_action.get(chat_id, 0) < CHAT_ACTION_EVERY_S):
            return
        if not self.flood.try_slot(chat_id):
            return
        self._last_action[chat_id] = now
        if len(self._last_action) > 5000:
            self._last_action = {k: v for k, v in self._last_action.items() if now - v < CHAT_ACTION_EVERY_S}
        self.calls["sendChatAction"] = self.calls.get("sendChatAction", 0) + 1
        try:
            await self.bot.send_chat_action(chat_id, action)
        except TelegramError:
            pass

    async def chat_action_after(self, chat_id: int, action: str, delay_s: float) -> None:
        """A chat action only when an answer takes a while (cancel the task when it came)."""
        await asyncio.sleep(delay_s)
        await self.chat_action(chat_id, action, force=True)

    @contextlib.asynccontextmanager
    async def acting(self, chat_id: int, action: str, after_s: float) -> AsyncIterator[None]:
        """"typing…" / "sending a video…" only if what runs inside takes longer than `after_s`."""
        task = asyncio.create_task(self.chat_action_after(chat_id, action, after_s))
        try:
            yield
        finally:
            task.cancel()
