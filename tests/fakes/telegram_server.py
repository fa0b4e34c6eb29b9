"""A local fake of the Telegram Bot API, spoken to over real HTTP.

python-telegram-bot talks to it exactly as to api.telegram.org::

    async with FakeTelegramServer() as tg:
        app = (ApplicationBuilder().token(tg.token)
               .base_url(f"{tg.url}/bot").base_file_url(f"{tg.url}/file/bot").build())

It answers with the real envelope (`{"ok": true, "result": ...}` /
`{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`),
builds real Message objects, keeps the current state of every message (edits,
deletions, pins), and enforces the limits a real server enforces (text 4096,
caption 1024, callback_data 64 bytes, HTML entities, "message is not
modified", unknown message ids, stale callback queries, album size, upload
size). Every call is recorded in `calls`.

Tests inject what a person does (`inject_message`, `inject_command`,
`inject_callback`, `press`) and faults (`fail_next`, `drop_connection_next`,
`latency`). For benchmarks: `listeners` are called with each finished call
(one wake-up per call instead of polling `calls`), and `keep_upload_bytes`
keeps only the first N bytes of each uploaded file (its size is still the
whole size), so thousands of uploaded videos do not pile up in memory. Updates are served by long polling (`getUpdates`) or, once a
webhook is set, POSTed to it.

Wording of errors follows the real server where known; a few (noted inline)
are this fake's own where Telegram's exact text is not documented.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import secrets
import struct
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
MAX_KEYBOARD_BUTTONS = 100
PLACEHOLDER_LIMIT = 64
DOWNLOAD_LIMIT = 20 * 1024 * 1024
DEFAULT_UPLOAD_LIMIT = 50 * 1024 * 1024

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
CONFLICT_POLLING = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CHAT_ACTIONS = {
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
}  # fmt: skip

# Parameters that are plain strings on the wire; everything else sent as a form
# field is JSON-encoded by clients (numbers, booleans, objects, arrays).
STRING_PARAMS = {
    "text", "caption", "parse_mode", "callback_query_id", "action", "url", "secret_token", "file_id",
    "language_code", "photo", "video", "document", "audio", "animation", "voice", "thumbnail", "cover",
    "inline_message_id", "emoji", "business_connection_id", "message_effect_id", "title", "description",
    "name", "ip_address", "performer", "query", "short_description", "chat_id", "from_chat_id",
}  # fmt: skip

_METHODS = [
    "getMe", "getUpdates", "setMyCommands", "deleteMyCommands", "getMyCommands", "sendMessage",
    "editMessageText", "editMessageReplyMarkup", "editMessageCaption", "deleteMessage", "pinChatMessage",
    "unpinChatMessage", "unpinAllChatMessages", "answerCallbackQuery", "sendChatAction", "sendPhoto",
    "sendVideo", "sendDocument", "sendAudio", "sendMediaGroup", "setWebhook", "deleteWebhook",
    "getWebhookInfo", "getFile", "close", "logOut", "getChat",
]  # fmt: skip
METHODS = {m.lower(): m for m in _METHODS}

# HTML parse mode: tag -> entity type
_HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "code": "code", "pre": "pre",
    "a": "text_link", "tg-spoiler": "spoiler", "span": "spoiler", "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}  # fmt: skip
_TOKEN = re.compile(r"<(/?)([a-zA-Z][\w-]*)((?:\s[^<>]*)?)>|&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);|<|[^<&]+|&")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML parse mode: (plain text, entities with UTF-16 offsets).
    Raises ApiError 400 "can't parse entities" like the real server."""
    plain: list[str] = []
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, dict[str, Any]]] = []  # (tag, utf16 start, extra)
    pos16 = 0
    byte_offset = 0
    for m in _TOKEN.finditer(text):
        token = m.group(0)
        if m.group(2):  # a tag
            closing, tag, attrs = m.group(1), m.group(2).lower(), m.group(3) or ""
            if not closing:
                if tag not in _HTML_TAGS:
                    raise _bad(f'can\'t parse entities: Unsupported start tag "{tag}" at byte offset {byte_offset}')
                extra: dict[str, Any] = {}
                if tag == "a":
                    href = re.search(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)'|(\S+))""", attrs)
                    if href:
                        extra["url"] = (href.group(1) or href.group(2) or href.group(3) or "").replace("&amp;", "&")
                if tag == "span" and "tg-spoiler" not in attrs:
                    raise _bad(
                        f'can\'t parse entities: Tag "span" must have class "tg-spoiler" at byte offset {byte_offset}'
                    )
                stack.append((tag, pos16, extra))
            else:
                if not stack or stack[-1][0] != tag:
                    expected = f'"</{stack[-1][0]}>"' if stack else "no end tag"
                    raise _bad(
                        f"can't parse entities: Unmatched end tag at byte offset {byte_offset}, "
                        f'expected {expected}, found "</{tag}>"'
                    )
                open_tag, start, extra = stack.pop()
                if pos16 > start:
                    entity = {"type": _HTML_TAGS[open_tag], "offset": start, "length": pos16 - start}
                    if open_tag == "a":
                        if "url" not in extra:
                            entity = {}
                        else:
                            entity["url"] = extra["url"]
                    if entity:
                        entities.append(entity)
        elif m.group(4):  # an entity
            name = m.group(4)
            if name.startswith("#x"):
                char = chr(int(name[2:], 16))
            elif name.startswith("#"):
                char = chr(int(name[1:]))
            else:
                char = _NAMED_ENTITIES.get(name, token)
            plain.append(char)
            pos16 += utf16_len(char)
        elif token == "<":
            raise _bad(f"can't parse entities: Unexpected end of name token at byte offset {byte_offset}")
        else:
            plain.append(token)
            pos16 += utf16_len(token)
        byte_offset += len(token.encode("utf-8"))
    if stack:
        raise _bad(f'can\'t parse entities: Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(plain), entities


def _tiny_png(width: int = 8, height: int = 8) -> bytes:
    """A valid PNG (solid colour) so a bot can download and open an injected photo."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\xb0\x80" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _image_size(content: bytes | None) -> tuple[int, int]:
    if content and content.startswith(b"\x89PNG") and len(content) >= 24:
        return struct.unpack(">II", content[16:24])
    if content and content[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(content):
            if content[i] != 0xFF:
                break
            marker, seg_len = content[i + 1], struct.unpack(">H", content[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                h, w = struct.unpack(">HH", content[i + 5 : i + 9])
                return w, h
            i += 2 + seg_len
    return 1280, 720


@dataclass
class UploadedFile:
    field: str  # the multipart part name
    filename: str | None
    size: int
    content_type: str | None
    content: bytes | None = field(default=None, repr=False)  # None when over the upload limit


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    time: float  # time.monotonic() when the request arrived
    status: int = 200
    result: Any = None
    error: str | None = None
    recorded: bool = field(default=False, repr=False, compare=False)  # in `calls` already

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class FileRecord:
    file_id: str
    file_unique_id: str
    kind: str
    size: int
    filename: str | None = None
    mime_type: str | None = None
    content: bytes | None = field(default=None, repr=False)
    local_path: str | None = None
    file_path: str | None = None


@dataclass
class _MessageState:
    message: dict[str, Any]
    from_bot: bool
    markup: dict[str, Any] | None = None  # the reply_markup as sent (incl. ForceReply)
    deleted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Fault:
    status: int
    description: str | None
    retry_after: int | None
    drop: bool = False


class FakeTelegramServer:
    """See the module docstring. All public helpers are meant to be called from
    the test's event loop (the same loop the server runs on)."""

    def __init__(
        self,
        token: str = "4242:fake-test-token",  # not token-shaped: never mistaken for a real one
        *,
        bot_username: str = "ccbot_test_bot",
        bot_name: str = "CC Test Bot",
        upload_limit: int = DEFAULT_UPLOAD_LIMIT,
        callback_answer_timeout: float = 15.0,
        host: str = "127.0.0.1",
        port: int = 0,
        keep_upload_bytes: int | None = None,
    ) -> None:
        self.token = token
        self.keep_upload_bytes = keep_upload_bytes  # None: keep whole uploads
        self.listeners: list[Callable[[Call], None]] = []  # called with every finished call
        self.host = host
        self.port = port
        self.upload_limit = upload_limit
        self.callback_answer_timeout = callback_answer_timeout
        self.latency: float = 0.0  # seconds added before answering each API call
        self.latency_methods: set[str] | None = None  # None: every method
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 123456789
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.calls: list[Call] = []
        self.webhook: dict[str, Any] = {}
        self.webhook_deliveries: list[tuple[int, int | None]] = []  # (update_id, HTTP status or None)
        self.webhook_in_flight: dict[int, str] = {}  # update_id -> the URL it is being posted to now
        self._webhook_tail: dict[int, asyncio.Future[None]] = {}  # per chat: the last delivery queued
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.pinned: dict[int | str, list[int]] = defaultdict(list)
        self.blocked_users: set[int] = set()

        self._users: dict[int, dict[str, Any]] = {}
        self._chats: dict[int | str, dict[str, Any]] = {}
        self._messages: dict[tuple[int | str, int], _MessageState] = {}
        self._next_message_id: dict[int | str, int] = defaultdict(lambda: 1)
        self._updates: list[dict[str, Any]] = []  # not yet confirmed
        self.injected: list[dict[str, Any]] = []  # every update ever queued, in update_id order
        self._next_update_id = 10_000
        self._allowed_updates: list[str] | None = None
        self._poll_waiter: asyncio.Future[str] | None = None
        self._callbacks: dict[str, dict[str, Any]] = {}
        self._files: dict[str, FileRecord] = {}
        self._file_counter = 0
        self.file_downloads: list[str] = []  # file paths fetched through /file/bot<token>/..., in order
        self.hold_downloads: asyncio.Event | None = None  # set: downloads wait until the event is set
        self._media_group_counter = 0
        self._faults: dict[str, list[_Fault]] = defaultdict(list)
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._session: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For `ApplicationBuilder().base_url(...)`."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For `ApplicationBuilder().base_file_url(...)`."""
        return f"{self.url}/file/bot"

    async def start(self) -> FakeTelegramServer:
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self._stopping.set()
        self._notify()
        if self._poll_waiter and not self._poll_waiter.done():
            self._poll_waiter.set_result("stop")
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # webhook deliveries end before their session
        if self._session:
            await self._session.close()
            self._session = None
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegramServer:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    # ------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int | None = 1,
        count: int = 1,
        description: str | None = None,
    ) -> None:
        """The next `count` calls of `method` fail with `status` (429 carries
        `parameters.retry_after`; 500/502/400... carry `description`)."""
        for _ in range(count):
            self._faults[method.lower()].append(_Fault(status, description, retry_after if status == 429 else None))

    def drop_connection_next(self, method: str = "getUpdates", count: int = 1) -> None:
        """The next `count` calls of `method` get their connection closed with no response."""
        for _ in range(count):
            self._faults[method.lower()].append(_Fault(0, None, None, drop=True))

    def set_latency(self, seconds: float, methods: list[str] | None = None) -> None:
        """Delay every answer (or only these methods') by `seconds`."""
        self.latency = seconds
        self.latency_methods = {m.lower() for m in methods} if methods else None

    def block_user(self, user_id: int) -> None:
        """Sends to this user's private chat fail with 403 "bot was blocked by the user"."""
        self.blocked_users.add(user_id)

    # ------------------------------------------------------------- injection

    def add_user(self, user_id: int, first_name: str | None = None, username: str | None = None) -> dict[str, Any]:
        user = self._users.get(user_id) or {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name or f"User {user_id}",
            "username": username or f"user{user_id}",
            "language_code": "en",
        }
        if first_name:
            user["first_name"] = first_name
        if username:
            user["username"] = username
        self._users[user_id] = user
        return user

    proxy_targets: list[str] = []  # see _deliver_webhook

    def inject_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (its update_id is assigned here)."""
        update = dict(update)
        update["update_id"] = self._next_update_id
        self._next_update_id += 1
        self._updates.append(update)
        self.injected.append(update)
        if self._poll_waiter and not self._poll_waiter.done():
            self._poll_waiter.set_result("update")
        if self.webhook.get("url"):
            self._spawn(self._deliver_webhook(update))
        self._notify()
        return update

    def inject_message(
        self,
        user_id: int,
        text: str | None = "",
        chat_id: int | None = None,
        chat_type: str = "private",
        reply_to_message_id: int | None = None,
        sticker: bool = False,
        document: bool = False,
        photo: bool = False,
        video: bool = False,
        *,
        file_bytes: bytes | None = None,
        file_name: str | None = None,
        voice: bool = False,
        audio: bool = False,
        duration: int = 3,
        file_size: int | None = None,
        mime_type: str | None = None,
    ) -> dict[str, Any]:
        """A person sends a message; returns the Update (dict). A text starting
        with "/" gets a bot_command entity, as real clients add. With
        sticker/document/photo/video/voice/audio the text becomes the caption (if
        any); a voice note or audio file lasts `duration` seconds. `file_size`
        announces another size than the bytes have (a 40 MB file without 40 MB of
        bytes; default: their real size); `mime_type` is what the sender's client
        claims. The bytes can be fetched with getFile and the file URL."""
        user = self.add_user(user_id)
        if chat_id is None:
            chat_id = user_id if chat_type == "private" else -user_id
        chat = self._chat(chat_id, chat_type)
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat["id"]),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
        }
        if sticker:
            record = self._new_file("sticker", file_bytes or b"RIFF-fake-webp", "sticker.webp", "image/webp")
            message["sticker"] = {
                "file_id": record.file_id,
                "file_unique_id": record.file_unique_id,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "😺",
                "file_size": record.size,
            }
        elif photo:
            content = file_bytes or _tiny_png()
            record = self._new_file("photo", content, file_name or "photo.png", "image/png", file_size)
            message["photo"] = self._photo_sizes(record)
        elif document:
            content = file_bytes if file_bytes is not None else b"%PDF-1.4 fake document\n"
            record = self._new_file("document", content, file_name or "file.pdf",
                                    mime_type or "application/octet-stream", file_size)
            message["document"] = self._document_object(record)
        elif voice or audio:
            content = file_bytes if file_bytes is not None else b"OggS\x00fake voice"
            name = file_name or ("voice.ogg" if voice else "recording.mp3")
            mime = "audio/ogg" if voice else "audio/mpeg"
            record = self._new_file("voice" if voice else "audio", content, name, mime, size=file_size)
            body: dict[str, Any] = {"file_id": record.file_id, "file_unique_id": record.file_unique_id,
                                    "duration": duration, "mime_type": mime, "file_size": record.size}
            if audio:
                body["file_name"] = name
            message["voice" if voice else "audio"] = body
        elif video:
            content = file_bytes if file_bytes is not None else b"\x00\x00\x00\x18ftypmp42" + bytes(64)
            record = self._new_file("video", content, file_name or "video.mp4", mime_type or "video/mp4", file_size)
            message["video"] = {"file_id": record.file_id, "file_unique_id": record.file_unique_id, "width": 720,
                                "height": 1280, "duration": 3, "mime_type": record.mime_type,
                                "file_size": record.size}
        media = sticker or photo or document or video or voice or audio
        if text:
            key = "caption" if media else "text"
            message[key] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities" if not media else "caption_entities"] = [
                    {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
                ]
        if reply_to_message_id is not None:
            replied = self._messages.get((chat["id"], reply_to_message_id))
            if replied is not None:
                message["reply_to_message"] = copy.deepcopy(replied.message)
        self._messages[(chat["id"], message["message_id"])] = _MessageState(copy.deepcopy(message), from_bot=False)
        return self.inject_update({"message": message})

    def inject_command(
        self, user_id: int, command: str, chat_id: int | None = None, chat_type: str = "private"
    ) -> dict[str, Any]:
        """`/start`, `/new ...`: a message with a bot_command entity."""
        if not command.startswith("/"):
            command = "/" + command
        return self.inject_message(user_id, command, chat_id=chat_id, chat_type=chat_type)

    def inject_callback(self, user_id: int, message_id: int, data: str, chat_id: int | None = None) -> str:
        """A person taps an inline button; returns the callback query id."""
        user = self.add_user(user_id)
        chat_key: int | str = chat_id if chat_id is not None else user_id
        state = self._messages.get((chat_key, message_id))
        if state is not None and not state.deleted:
            message = copy.deepcopy(state.message)
        else:  # an inaccessible message, as Telegram sends it
            message = {"message_id": message_id, "date": 0, "chat": self._chat(chat_key)}
        query_id = str(secrets.randbits(63))
        self._callbacks[query_id] = {"answered": False, "created": time.monotonic(), "answer": None}
        self.inject_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "message": message,
                    "chat_instance": str(abs(hash((chat_key, self.bot_user["id"])))),
                    "data": data,
                }
            }
        )
        return query_id

    def press(self, user_id: int, text: str, chat_id: int | None = None) -> str:
        """Tap the button whose text contains `text` on the newest bot message
        showing one; returns the callback query id."""
        chat_key = chat_id if chat_id is not None else user_id
        for message in reversed(self.bot_messages(chat_key)):
            for label, data in self.buttons_of(message):
                if text in label and data is not None:
                    return self.inject_callback(user_id, message["message_id"], data, chat_id=chat_id)
        raise LookupError(f"no bot message in chat {chat_key} has a button containing {text!r}")

    # -------------------------------------------------------------- queries

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def mark(self) -> int:
        """The current call count, for `wait_for_call(..., after=mark)`."""
        return len(self.calls)

    def messages_for(self, chat_id: int | str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """The current state (after edits) of every message in a chat, by message id."""
        states = [s for (c, _), s in self._messages.items() if c == chat_id and (include_deleted or not s.deleted)]
        return [copy.deepcopy(s.message) for s in sorted(states, key=lambda s: s.message["message_id"])]

    def bot_messages(self, chat_id: int | str) -> list[dict[str, Any]]:
        states = [s for (c, _), s in self._messages.items() if c == chat_id and s.from_bot and not s.deleted]
        return [copy.deepcopy(s.message) for s in sorted(states, key=lambda s: s.message["message_id"])]

    def message(self, chat_id: int | str, message_id: int) -> dict[str, Any] | None:
        state = self._messages.get((chat_id, message_id))
        return copy.deepcopy(state.message) if state else None

    def message_history(self, chat_id: int | str, message_id: int) -> list[dict[str, Any]]:
        """Every earlier version of a message, oldest first (the current one excluded)."""
        state = self._messages.get((chat_id, message_id))
        return copy.deepcopy(state.history) if state else []

    def sent_markup(self, chat_id: int | str, message_id: int) -> dict[str, Any] | None:
        """The reply_markup as the bot sent it (ForceReply included, which Telegram does not echo)."""
        state = self._messages.get((chat_id, message_id))
        return copy.deepcopy(state.markup) if state else None

    @staticmethod
    def buttons_of(message: dict[str, Any]) -> list[tuple[str, str | None]]:
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        return [(b.get("text", ""), b.get("callback_data")) for row in rows for b in row]

    def unanswered_callbacks(self) -> list[str]:
        return [qid for qid, q in self._callbacks.items() if not q["answered"]]

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        """The answerCallbackQuery params given for a query, or None."""
        return copy.deepcopy(self._callbacks.get(query_id, {}).get("answer"))

    def pending_updates(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._updates)

    def file_content(self, file_id: str) -> bytes | None:
        record = self._files.get(file_id)
        return record.content if record else None

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until `predicate()` is truthy (re-checked on every call or injection
        and every 50 ms); returns its value; TimeoutError after `timeout` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = ", ".join(f"{c.method}({c.status})" for c in self.calls[-12:])
                raise TimeoutError(f"condition not met within {timeout} s; recent calls: {recent or 'none'}")
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), min(remaining, 0.05))
            except TimeoutError:
                pass

    async def wait_for_call(
        self, method: str, predicate: Callable[[Call], bool] | None = None, timeout: float = 5.0, after: int = 0
    ) -> Call:
        """The first call of `method` (from index `after` in `calls`) matching `predicate`."""

        def find() -> Call | None:
            for call in self.calls[after:]:
                if call.method.lower() == method.lower() and (predicate is None or predicate(call)):
                    return call
            return None

        return await self.wait_for(find, timeout)

    async def post_update_to(
        self, webhook_url: str, update: dict[str, Any], secret_token: str | None = None
    ) -> int:
        """POST an update to a bot's webhook like Telegram does; returns the HTTP status."""
        if "update_id" not in update:
            update = {**update, "update_id": self._next_update_id}
            self._next_update_id += 1
        headers = {"Content-Type": "application/json"}
        if secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.post(webhook_url, data=json.dumps(update), headers=headers) as resp:
            await resp.read()
            return resp.status

    # -------------------------------------------------------------- internals

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _chat(self, chat_id: int | str, chat_type: str | None = None) -> dict[str, Any]:
        if isinstance(chat_id, str) and re.fullmatch(r"-?\d+", chat_id):
            chat_id = int(chat_id)
        if chat_id in self._chats:
            return copy.deepcopy(self._chats[chat_id])
        if isinstance(chat_id, str):
            chat_number = -(10**12) - len(self._chats)
            chat = {"id": chat_number, "type": "channel", "title": chat_id, "username": chat_id.lstrip("@")}
        elif (chat_type or ("private" if chat_id > 0 else "group")) == "private":
            user = self.add_user(chat_id)
            chat = {"id": chat_id, "type": "private", "first_name": user["first_name"], "username": user["username"]}
        else:
            chat = {"id": chat_id, "type": chat_type or "group", "title": f"Group {chat_id}"}
        self._chats[chat_id] = chat
        return copy.deepcopy(chat)

    def _new_message_id(self, chat_id: int | str) -> int:
        message_id = self._next_message_id[chat_id]
        self._next_message_id[chat_id] += 1
        return message_id

    def _new_file(
        self,
        kind: str,
        content: bytes | None,
        filename: str | None,
        mime: str | None,
        size: int | None = None,
        local_path: str | None = None,
    ) -> FileRecord:
        self._file_counter += 1
        n = self._file_counter
        record = FileRecord(
            file_id=f"BQACAgI{n:06d}{secrets.token_hex(12)}",
            file_unique_id=f"AgAD{n:06d}",
            kind=kind,
            size=size if size is not None else len(content or b""),
            filename=filename,
            mime_type=mime,
            content=content,
            local_path=local_path,
        )
        ext = os.path.splitext(filename or "")[1] or ".bin"
        record.file_path = f"{kind}s/file_{n}{ext}"
        self._files[record.file_id] = record
        return record

    def _photo_sizes(self, record: FileRecord) -> list[dict[str, Any]]:
        width, height = _image_size(record.content)
        scale = max(1, max(width, height) // 90)
        return [
            {
                "file_id": record.file_id + "_s",
                "file_unique_id": record.file_unique_id + "s",
                "width": max(1, width // scale),
                "height": max(1, height // scale),
                "file_size": max(1, record.size // 20),
            },
            {
                "file_id": record.file_id,
                "file_unique_id": record.file_unique_id,
                "width": width,
                "height": height,
                "file_size": record.size,
            },
        ]

    @staticmethod
    def _document_object(record: FileRecord) -> dict[str, Any]:
        doc = {"file_id": record.file_id, "file_unique_id": record.file_unique_id, "file_size": record.size}
        if record.filename:
            doc["file_name"] = record.filename
        if record.mime_type:
            doc["mime_type"] = record.mime_type
        return doc

    # ------------------------------------------------------------- HTTP layer

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        ctype = request.content_type or ""
        if ctype == "application/json":
            raw = await request.read()
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise _bad("request body must be a JSON object")  # the fake's wording
            params.update(body)
            return params, files
        if ctype.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part is None:
                    break
                if part.filename is not None:  # type: ignore[union-attr]
                    size = kept = 0
                    keep = self.upload_limit if self.keep_upload_bytes is None else self.keep_upload_bytes
                    chunks: list[bytes] = []
                    while True:
                        chunk = await part.read_chunk(256 * 1024)  # type: ignore[union-attr]
                        if not chunk:
                            break
                        size += len(chunk)
                        if size <= self.upload_limit and kept < keep:
                            chunks.append(chunk[: keep - kept])
                            kept += len(chunks[-1])
                    name = part.name or "file"
                    files[name] = UploadedFile(
                        field=name,
                        filename=part.filename,  # type: ignore[union-attr]
                        size=size,
                        content_type=part.headers.get("Content-Type"),
                        content=b"".join(chunks) if size <= self.upload_limit else None,
                    )
                else:
                    params[part.name or ""] = (await part.read()).decode("utf-8")  # type: ignore[union-attr]
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                params[key] = value if isinstance(value, str) else str(value)
        # form values are JSON-encoded unless they are plain strings
        for key, value in list(params.items()):
            if isinstance(value, str) and key not in STRING_PARAMS:
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    pass
            elif key in ("chat_id", "from_chat_id") and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
                params[key] = int(value)
        for key in ("reply_markup", "media", "commands", "scope", "allowed_updates", "reply_parameters", "entities"):
            if isinstance(params.get(key), str):
                try:
                    params[key] = json.loads(params[key])
                except ValueError:
                    pass
        return params, files

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method_raw = request.match_info["method"]
        method = METHODS.get(method_raw.lower(), method_raw)
        call = Call(method=method, params={}, files={}, time=time.monotonic())
        if request.match_info["token"] != self.token:
            await request.read()
            return self._respond(call, ApiError(401, "Unauthorized"))
        if self.latency and (self.latency_methods is None or method.lower() in self.latency_methods):
            await asyncio.sleep(self.latency)
        try:
            params, files = await self._read_params(request)
        except ApiError as exc:
            return self._respond(call, exc)
        call.params, call.files = params, files
        self.calls.append(call)
        call.recorded = True

        faults = self._faults.get(method.lower())
        if faults:
            fault = faults.pop(0)
            if fault.drop:
                call.status, call.error = 0, "connection dropped"
                self._notify()
                if request.transport is not None:
                    request.transport.close()
                raise asyncio.CancelledError  # aiohttp: no response is written
            if fault.status == 429:
                error = ApiError(
                    429, fault.description or f"Too Many Requests: retry after {fault.retry_after}",
                    {"retry_after": fault.retry_after},
                )
            else:
                phrases = {500: "Internal Server Error", 502: "Bad Gateway", 400: "Bad Request"}
                default = phrases.get(fault.status, "Error")
                error = ApiError(fault.status, fault.description or default)
            return self._respond(call, error)

        if method.lower() not in METHODS:
            return self._respond(call, ApiError(404, "Not Found"))
        if any(f.size > self.upload_limit for f in files.values()):
            return self._respond(call, ApiError(413, "Request Entity Too Large"))
        handler = getattr(self, f"_m_{method}")
        try:
            if method == "getUpdates":
                result = await handler(params)
            else:
                result = handler(params, files)
        except ApiError as exc:
            return self._respond(call, exc)
        return self._respond(call, result=result)

    def _respond(self, call: Call, error: ApiError | None = None, result: Any = None) -> web.Response:
        if not call.recorded:  # (a linear `in` over thousands of calls was the fake's main cost under load)
            self.calls.append(call)
            call.recorded = True
        if error is not None:
            call.status, call.error = error.status, error.description
            response = web.json_response(error.envelope(), status=error.status)
        else:
            call.result = result
            response = web.json_response({"ok": True, "result": result})
        for listener in self.listeners:
            listener(call)
        self._notify()
        return response

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        path = request.match_info["path"]
        self.file_downloads.append(path)
        self._notify()
        if self.hold_downloads is not None:  # a test holds file downloads (e.g. to kill the bot mid-download)
            await self.hold_downloads.wait()
        for record in self._files.values():
            if record.file_path == path:
                content = record.content
                if content is None and record.local_path and os.path.exists(record.local_path):
                    content = await asyncio.to_thread(lambda: open(record.local_path or "", "rb").read())
                if content is None:
                    break
                return web.Response(body=content, content_type=record.mime_type or "application/octet-stream")
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    # ------------------------------------------------------- shared checks

    def _target_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        if "chat_id" not in params or params["chat_id"] in ("", None):
            raise _bad("chat_id is empty")
        chat = self._chat(params["chat_id"])
        if chat["type"] == "private" and chat["id"] in self.blocked_users:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _text_and_entities(self, text: Any, parse_mode: Any, entities: Any) -> tuple[str, list[dict[str, Any]]]:
        text = "" if text is None else str(text)
        if isinstance(parse_mode, str) and parse_mode.lower() == "html":
            return parse_html(text)
        return text, list(entities) if isinstance(entities, list) else []

    def _check_markup(self, markup: Any) -> dict[str, Any] | None:
        if markup in (None, ""):
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
            count = 0
            for row in rows:
                for button in row:
                    count += 1
                    if not isinstance(button, dict) or not str(button.get("text") or "").strip():
                        raise _bad("text buttons are unallowed in the inline keyboard")
                    data = button.get("callback_data")
                    if data is not None:
                        size = len(str(data).encode("utf-8"))
                        if size < 1 or size > CALLBACK_DATA_LIMIT:
                            raise _bad("BUTTON_DATA_INVALID")
                    elif not any(k in button for k in ("url", "web_app", "login_url", "switch_inline_query",
                                                        "switch_inline_query_current_chat", "callback_game", "pay",
                                                        "copy_text", "switch_inline_query_chosen_chat")):
                        raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline "
                                   "keyboard")
            if count > MAX_KEYBOARD_BUTTONS:
                raise _bad("REPLY_MARKUP_TOO_LONG")
        if markup.get("force_reply"):
            placeholder = markup.get("input_field_placeholder")
            if placeholder is not None and not 1 <= len(str(placeholder)) <= PLACEHOLDER_LIMIT:
                raise _bad("input field placeholder must be 1-64 characters")  # the fake's wording
        return markup

    @staticmethod
    def _echo_markup(markup: dict[str, Any] | None) -> dict[str, Any] | None:
        """Telegram echoes only inline keyboards in Message objects."""
        if markup and "inline_keyboard" in markup:
            return {
                "inline_keyboard": [
                    [{k: v for k, v in b.items() if v is not None} for b in row] for row in markup["inline_keyboard"]
                ]
            }
        return None

    def _reply_to(self, chat: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
        reply = params.get("reply_parameters")
        message_id = reply.get("message_id") if isinstance(reply, dict) else params.get("reply_to_message_id")
        if message_id in (None, ""):
            return None
        allow = (reply or {}).get("allow_sending_without_reply") if isinstance(reply, dict) else params.get(
            "allow_sending_without_reply"
        )
        state = self._messages.get((chat["id"], int(message_id)))
        if state is None or state.deleted:
            if allow:
                return None
            raise _bad("message to be replied not found")
        replied = copy.deepcopy(state.message)
        replied.pop("reply_to_message", None)
        return replied

    def _store_bot_message(self, chat: dict[str, Any], body: dict[str, Any], markup: dict[str, Any] | None,
                           params: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
        }
        replied = self._reply_to(chat, params)
        if replied:
            message["reply_to_message"] = replied
        message.update(body)
        echoed = self._echo_markup(markup)
        if echoed:
            message["reply_markup"] = echoed
        self._messages[(chat["id"], message["message_id"])] = _MessageState(copy.deepcopy(message), True, markup)
        return message

    def _existing(self, params: dict[str, Any], not_found: str) -> _MessageState:
        if params.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        chat = self._target_chat(params)
        try:
            message_id = int(params.get("message_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _bad("message identifier is not specified") from None
        state = self._messages.get((chat["id"], message_id))
        if state is None or state.deleted:
            raise _bad(not_found)
        return state

    # ------------------------------------------------------------- methods

    def _m_getMe(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return dict(self.bot_user)

    def _m_close(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return True

    def _m_logOut(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return True

    def _m_getChat(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._target_chat(params)
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": {
            "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False, "premium_subscription": False}}

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook.get("url"):
            raise ApiError(409, CONFLICT_WEBHOOK)
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        if "allowed_updates" in params and params["allowed_updates"] is not None:
            self._allowed_updates = list(params["allowed_updates"]) or None
        if offset < 0:
            self._updates = self._updates[offset:]
        elif offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if self._poll_waiter and not self._poll_waiter.done():
            self._poll_waiter.set_result("conflict")

        def ready() -> list[dict[str, Any]]:
            allowed = self._allowed_updates
            picked = [u for u in self._updates if not allowed or any(k in u for k in allowed)]
            return copy.deepcopy(picked[:limit])

        result = ready()
        if result or timeout <= 0 or self._stopping.is_set():
            return result
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not result:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            waiter: asyncio.Future[str] = loop.create_future()
            self._poll_waiter = waiter
            try:
                reason = await asyncio.wait_for(asyncio.shield(waiter), remaining)
            except TimeoutError:
                break
            finally:
                if self._poll_waiter is waiter:
                    self._poll_waiter = None
            if reason == "conflict":
                raise ApiError(409, CONFLICT_POLLING)
            if reason == "stop":
                break
            result = ready()
        return result

    def _m_setWebhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        url = str(params.get("url") or "")
        if url and not re.match(r"https?://", url):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if not url:
            self.webhook = {}
            return True
        self.webhook = {
            "url": url,
            "secret_token": params.get("secret_token"),
            "max_connections": int(params.get("max_connections") or 40),
            "allowed_updates": params.get("allowed_updates"),
            "ip_address": params.get("ip_address"),
        }
        if self._poll_waiter and not self._poll_waiter.done():
            self._poll_waiter.set_result("conflict")
        for update in list(self._updates):
            self._spawn(self._deliver_webhook(update))
        return True

    def _m_deleteWebhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        self.webhook = {}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _m_getWebhookInfo(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook.get("url"):
            info["max_connections"] = self.webhook.get("max_connections", 40)
            if self.webhook.get("allowed_updates"):
                info["allowed_updates"] = self.webhook["allowed_updates"]
            if self.webhook.get("last_error_date"):
                info["last_error_date"] = self.webhook["last_error_date"]
                info["last_error_message"] = self.webhook["last_error_message"]
        return info

    @staticmethod
    def _queue_of(update: dict[str, Any]) -> int:
        """Whose updates one delivery queue holds: the chat's (else the sender's)."""
        for kind, body in update.items():
            if isinstance(body, dict):
                chat = body.get("chat") or (body.get("message") or {}).get("chat") or body.get("from") or {}
                if "id" in chat:
                    return int(chat["id"])
        return 0

    async def _deliver_webhook(self, update: dict[str, Any]) -> None:
        """One chat's updates one at a time, in order (as the Bot API server's
        WebhookActor keeps one queue per chat: the next update of a queue is sent
        once the one before it was confirmed or given up)."""
        queue = self._queue_of(update)
        before = self._webhook_tail.get(queue)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._webhook_tail[queue] = mine
        try:
            if before is not None:
                await asyncio.shield(before)
            await self._post_until_confirmed(update)
        finally:
            if not mine.done():
                mine.set_result(None)
            if self._webhook_tail.get(queue) is mine:
                del self._webhook_tail[queue]

    async def _post_until_confirmed(self, update: dict[str, Any]) -> None:
        """Post an update to the webhook until it answers 200 (as Telegram does).
        With `proxy_targets` set (a test's stand-in for a reverse proxy in front of
        several bot processes), each attempt goes to the next target in turn."""
        attempts = 60 if self.proxy_targets else 5
        for attempt in range(attempts):
            url = self.webhook.get("url")
            if not url or update not in self._updates:
                return
            if self.proxy_targets:
                url = self.proxy_targets[(update["update_id"] + attempt) % len(self.proxy_targets)]
            status: int | None
            self.webhook_in_flight[update["update_id"]] = url
            try:
                status = await self.post_update_to(url, update, self.webhook.get("secret_token"))
            except (aiohttp.ClientError, OSError) as exc:
                status = None
                self.webhook["last_error_message"] = f"Connection failed: {exc}"
            finally:
                self.webhook_in_flight.pop(update["update_id"], None)
            self.webhook_deliveries.append((update["update_id"], status))
            if status == 200:
                if update in self._updates:
                    self._updates.remove(update)
                self._notify()
                return
            self.webhook["last_error_date"] = int(time.time())
            self.webhook.setdefault("last_error_message", f"Wrong response from the webhook: {status}")
            self._notify()
            await asyncio.sleep(0.2 * (attempt + 1))

    def _m_setMyCommands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", "")).lstrip("/")):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = [
            {"command": str(c["command"]).lstrip("/"), "description": c["description"]} for c in commands
        ]
        return True

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _m_deleteMyCommands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _m_getMyCommands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    def _m_sendMessage(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._target_chat(params)
        text, entities = self._text_and_entities(params.get("text"), params.get("parse_mode"), params.get("entities"))
        if not text.strip():
            raise _bad("message text is empty")
        if len(text) > TEXT_LIMIT:
            raise _bad("message is too long")
        markup = self._check_markup(params.get("reply_markup"))
        body: dict[str, Any] = {"text": text}
        if entities:
            body["entities"] = entities
        if isinstance(params.get("link_preview_options"), dict):
            body["link_preview_options"] = params["link_preview_options"]
        return self._store_bot_message(chat, body, markup, params)

    def _edit(self, state: _MessageState, changes: dict[str, Any], markup: dict[str, Any] | None) -> dict[str, Any]:
        new = copy.deepcopy(state.message)
        for key, value in changes.items():
            if value in (None, [], ""):
                new.pop(key, None)
            else:
                new[key] = value
        echoed = self._echo_markup(markup)
        if echoed:
            new["reply_markup"] = echoed
        else:
            new.pop("reply_markup", None)
        compare = ("text", "entities", "caption", "caption_entities", "reply_markup")
        if all(new.get(k) == state.message.get(k) for k in compare):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        state.history.append(copy.deepcopy(state.message))
        new["edit_date"] = int(time.time())
        state.message = new
        state.markup = markup
        return copy.deepcopy(new)

    def _m_editMessageText(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        state = self._existing(params, "message to edit not found")
        if not state.from_bot:
            raise _bad("message can't be edited")
        if "text" not in state.message:
            raise _bad("there is no text in the message to edit")
        text, entities = self._text_and_entities(params.get("text"), params.get("parse_mode"), params.get("entities"))
        if not text.strip():
            raise _bad("message text is empty")
        if len(text) > TEXT_LIMIT:
            raise _bad("message is too long")
        markup = self._check_markup(params.get("reply_markup"))
        return self._edit(state, {"text": text, "entities": entities}, markup)

    def _m_editMessageCaption(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        state = self._existing(params, "message to edit not found")
        if not state.from_bot:
            raise _bad("message can't be edited")
        if "text" in state.message:
            raise _bad("there is no caption in the message to edit")
        caption, entities = self._text_and_entities(
            params.get("caption"), params.get("parse_mode"), params.get("caption_entities")
        )
        if len(caption) > CAPTION_LIMIT:
            raise _bad("message caption is too long")
        markup = self._check_markup(params.get("reply_markup"))
        return self._edit(state, {"caption": caption, "caption_entities": entities}, markup)

    def _m_editMessageReplyMarkup(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        state = self._existing(params, "message to edit not found")
        if not state.from_bot:
            raise _bad("message can't be edited")
        markup = self._check_markup(params.get("reply_markup"))
        return self._edit(state, {}, markup)

    def _m_deleteMessage(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        state = self._existing(params, "message to delete not found")
        state.deleted = True
        return True

    def _m_pinChatMessage(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        state = self._existing(params, "message to pin not found")
        chat_id = state.message["chat"]["id"]
        if state.message["message_id"] not in self.pinned[chat_id]:
            self.pinned[chat_id].append(state.message["message_id"])
        return True

    def _m_unpinChatMessage(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._target_chat(params)
        pins = self.pinned[chat["id"]]
        if params.get("message_id"):
            if int(params["message_id"]) in pins:
                pins.remove(int(params["message_id"]))
        elif pins:
            pins.pop()
        return True

    def _m_unpinAllChatMessages(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        self.pinned[self._target_chat(params)["id"]].clear()
        return True

    def _m_answerCallbackQuery(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        query = self._callbacks.get(str(params.get("callback_query_id", "")))
        if query is None or query["answered"]:
            raise _bad(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        if time.monotonic() - query["created"] > self.callback_answer_timeout:
            query["answered"] = True  # it can never be answered now
            raise _bad(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        if len(str(params.get("text") or "")) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        query["answered"] = True
        query["answer"] = {k: v for k, v in params.items() if k != "callback_query_id"}
        return True

    def _m_sendChatAction(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        self._target_chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    # media

    def _resolve_media(self, value: Any, field_name: str, files: dict[str, UploadedFile], kind: str,
                       used: set[str] | None = None) -> FileRecord:
        upload: UploadedFile | None = None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://"):])
            if upload is None:
                raise _bad(f"wrong HTTP URL specified: {value} was not found in the request")  # the fake's wording
        elif value in (None, ""):
            upload = files.get(field_name)
        if upload is not None:
            if used is not None:
                used.add(upload.field)
            if upload.size == 0:
                raise _bad("file must be non-empty")
            if kind == "photo" and upload.size > 10 * 1024 * 1024:
                raise _bad("PHOTO_INVALID_DIMENSIONS")  # Telegram refuses photos over 10 MB
            return self._new_file(kind, upload.content, upload.filename, upload.content_type, upload.size)
        if not isinstance(value, str):
            raise _bad(f"there is no {field_name} in the request")
        if value in self._files or value.removesuffix("_s") in self._files:
            return self._files[value.removesuffix("_s")]
        if value.startswith("file://"):
            path = value[len("file://"):]
            if not os.path.isfile(path):
                raise _bad("wrong file identifier/HTTP URL specified")
            return self._new_file(kind, None, os.path.basename(path), None, os.path.getsize(path), local_path=path)
        if re.match(r"https?://", value):
            return self._new_file(kind, None, value.rsplit("/", 1)[-1] or None, None, 0)
        raise _bad("wrong file identifier/HTTP URL specified")

    def _media_body(self, kind: str, record: FileRecord, params: dict[str, Any]) -> dict[str, Any]:
        if kind == "photo":
            return {"photo": self._photo_sizes(record)}
        obj = self._document_object(record)
        if kind == "video":
            obj.update(
                width=int(params.get("width") or 0),
                height=int(params.get("height") or 0),
                duration=int(params.get("duration") or 0),
            )
            obj.setdefault("mime_type", "video/mp4")
        if kind == "audio":
            obj["duration"] = int(params.get("duration") or 0)
            for key in ("performer", "title"):
                if params.get(key):
                    obj[key] = params[key]
        return {kind: obj}

    def _caption(self, params: dict[str, Any]) -> dict[str, Any]:
        caption, entities = self._text_and_entities(
            params.get("caption"), params.get("parse_mode"), params.get("caption_entities")
        )
        if len(caption) > CAPTION_LIMIT:
            raise _bad("message caption is too long")
        body: dict[str, Any] = {}
        if caption:
            body["caption"] = caption
        if entities:
            body["caption_entities"] = entities
        return body

    def _send_media(self, kind: str, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._target_chat(params)
        body = self._caption(params)
        markup = self._check_markup(params.get("reply_markup"))
        record = self._resolve_media(params.get(kind), kind, files, kind)
        body.update(self._media_body(kind, record, params))
        if params.get("has_spoiler"):
            body["has_media_spoiler"] = True
        return self._store_bot_message(chat, body, markup, params)

    def _m_sendPhoto(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._send_media("photo", params, files)

    def _m_sendVideo(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._send_media("video", params, files)

    def _m_sendDocument(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._send_media("document", params, files)

    def _m_sendAudio(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._send_media("audio", params, files)

    def _m_sendMediaGroup(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._target_chat(params)
        media = params.get("media")
        if not isinstance(media, list):
            raise _bad("can't parse media JSON object")
        if len(media) < 2:
            raise _bad("there must be at least 2 media in a media group")  # the fake's wording
        if len(media) > 10:
            raise _bad("too many media in a media group: at most 10")  # the fake's wording
        kinds = {m.get("type") for m in media if isinstance(m, dict)}
        for lonely in ("document", "audio"):
            if lonely in kinds and kinds != {lonely}:
                raise _bad(f"{lonely} can't be mixed with other media types")  # the fake's wording
        if not kinds <= {"photo", "video", "document", "audio"}:
            raise _bad("wrong type of the media in a media group")  # the fake's wording
        self._media_group_counter += 1
        group_id = str(10**12 + self._media_group_counter)
        bodies = []
        for item in media:  # validate everything before sending anything
            body = self._caption(item)
            record = self._resolve_media(item.get("media"), "media", files, item["type"])
            body.update(self._media_body(item["type"], record, item))
            body["media_group_id"] = group_id
            bodies.append(body)
        return [self._store_bot_message(chat, body, None, params) for body in bodies]

    def _m_getFile(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        file_id = str(params.get("file_id") or "")
        record = self._files.get(file_id.removesuffix("_s"))
        if record is None:
            raise _bad("invalid file_id")
        if record.size > DOWNLOAD_LIMIT:
            raise _bad("file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": record.size,
            "file_path": record.file_path,
        }
