"""Photos and files a person sends: the answer to a file question, or the start of a run.

- At a file question (`FileInputDisplay`): what can be checked before fetching
  is checked (a video or an animation instead of a photo, a file over the
  question's or the Bot API's size limit); then the file is written into the
  session (`Session.pending_file`) BEFORE it is fetched, fetched into the run's
  own folder (`Engine.incoming_path`) and handed to the engine, which checks the
  bytes and keeps its own copy. A restart in between finds the pending file and
  fetches it again (`resume_pending_file`, called by the catch-up): the person
  is not asked to send it again, and nothing is paid before the question is
  answered.
- With no run open (e.g. right after /start), a photo starts a run with it.
- At a question that takes no file, the photo is kept (`Session.offered_file`)
  and the person is asked whether to start over with it.

Nothing here logs a caption, a file name or a path.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import render
from bot.render import OutMessage
from bot.telegram.ccbot import CCBot
from bot.telegram.conversation import Conversation
from bot.telegram.session import Session
from bot.telegram.tap import Tap, owner_of
from engine.errors import EngineError, InvalidResponse
from engine.protocol import FileAnswer, FileInputDisplay, InteractionResponse, RunStatus, RunView

log = logging.getLogger(__name__)

PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".gif")
NOT_A_PHOTO = {"video": "That is a video. Please send a still photo of your pet instead.",
               "animation": "That is an animation (a GIF). Please send a still photo of your pet instead.",
               "audio": "That is a sound, not a photo. Please send a photo of your pet."}


@dataclass
class Incoming:
    """A file in a message, as Telegram describes it (nothing fetched yet)."""

    kind: str  # photo, document, video, animation, audio
    file_id: str
    unique_id: str
    size: int | None
    name: str | None
    mime: str | None
    caption: str

    @classmethod
    def of(cls, message: Message) -> Incoming | None:
        caption = message.caption or ""
        if message.photo:
            largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
            return cls("photo", largest.file_id, largest.file_unique_id, largest.file_size, None, "image/jpeg",
                       caption)
        for kind, media in (("animation", message.animation), ("video", message.video),
                            ("video", message.video_note), ("audio", message.audio), ("audio", message.voice)):
            if media is not None:
                return cls(kind, media.file_id, media.file_unique_id, media.file_size, None, None, caption)
        if message.document is not None:
            doc = message.document
            return cls("document", doc.file_id, doc.file_unique_id, doc.file_size, doc.file_name, doc.mime_type,
                       caption)
        return None

    @property
    def looks_like_picture(self) -> bool:
        """Worth offering as a photo (the engine decides from the bytes when it is asked)."""
        if self.kind == "photo":
            return True
        return self.kind == "document" and ((self.mime or "").startswith("image/")
                                            or (self.name or "").lower().endswith(PICTURE_SUFFIXES))

    def problem(self, display: FileInputDisplay, download_limit: int) -> str | None:
        """What is wrong before fetching anything: the wrong kind, or too large."""
        if self.kind in NOT_A_PHOTO:
            return NOT_A_PHOTO[self.kind]
        if self.kind == "document" and (self.mime or "").startswith(("video/", "audio/")):
            return NOT_A_PHOTO["video" if self.mime.startswith("video/") else "audio"]  # type: ignore[union-attr]
        largest = min(display.max_bytes, download_limit) if download_limit else display.max_bytes
        if self.size is not None and self.size > largest:
            return (f"That file is {render.size_text(self.size)}; the most I can take is "
                    f"{render.size_text(largest)}. Please send a smaller copy (a photo sent as a photo, "
                    "not as a file, is always small enough).")
        return None


class Photos:
    def __init__(self, bot: CCBot, conversation: Conversation) -> None:
        self.bot = bot
        self.conversation = conversation

    async def received(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        incoming = Incoming.of(message) if message is not None else None
        if incoming is None:
            await self.conversation.other(update, context)
            return
        if not await self._handled(update, incoming):
            await self.conversation.other(update, context)  # not a photo, not a file question: as before

    async def _handled(self, update: Update, incoming: Incoming) -> bool:
        bot, user, chat = self.bot, update.effective_user.id, update.effective_chat.id
        owner = owner_of(user)
        async with bot.locks.hold(owner):
            session = await bot.sessions.of_owner(owner)
            view = await bot.engine.get_run(session.run_id) if session is not None else None
            if session is None or view is None or view.status != RunStatus.ACTIVE:
                if incoming.looks_like_picture:
                    await start_with(bot, user, chat, incoming)
                else:
                    await say(bot, chat, "That is not a photo. Send a photo of your pet to make a video with it, "
                                         "or /new to start one.")
                return True
            session.focus(view.pending.interaction_id if view.pending else None)
            if view.pending is not None and isinstance(view.pending.display_data, FileInputDisplay):
                await take(bot, session, view, incoming)
                return True
            if not incoming.looks_like_picture or (view.pending is not None and session.feedback_option):
                return False
            session.offered_file = asdict(incoming)
            await bot.sessions.save(session)
            step = render.esc(view.current_step_name or "a later step")
            text = (f"📸 Lovely photo! This video is already past the photo question (it is at {step}), so it "
                    "cannot use it any more. Start over with this photo? The current video will be stopped.")
            buttons = [[bot.presenter.button("📸 Start over with this photo", "photo-new", view.run_id),
                        bot.presenter.button("▶️ Keep going", "photo-keep", view.run_id)]]
            await bot.outbox.send(chat, OutMessage(text=text, buttons=buttons), urgent=True)
            return True


async def say(bot: CCBot, chat_id: int, text: str) -> None:
    await bot.outbox.send(chat_id, OutMessage(text=text, parse_mode=None), urgent=True)


async def take(bot: CCBot, session: Session, view: RunView, incoming: Incoming) -> None:
    """A file for the open file question (the person's lock held)."""
    assert view.pending is not None and isinstance(view.pending.display_data, FileInputDisplay)
    display = view.pending.display_data
    problem = incoming.problem(display, bot.outbox.download_limit)
    if problem is not None:  # refused before fetching anything
        await refuse(bot, session, display, problem)
        return
    session.pending_file = {**asdict(incoming), "interaction_id": view.pending.interaction_id}
    await bot.sessions.save(session)  # first: a restart during the download fetches it again
    await resume_pending_file(bot, session, view)


async def refuse(bot: CCBot, session: Session, display: FileInputDisplay, reason: str) -> None:
    skip = f", or tap {display.skip_label}" if display.allow_skip else ""
    await say(bot, session.chat_id, f"⚠️ {reason.rstrip('.')}. Nothing was used or paid for: please send "
                                    f"another photo{skip}.")


async def resume_pending_file(bot: CCBot, session: Session, view: RunView) -> bool:
    """Fetch the session's pending file and answer the file question with it (lock held).
    False when there is nothing to do (no pending file, or its question is gone)."""
    pending = session.pending_file
    req = view.pending
    if not pending:
        return False
    if req is None or req.interaction_id != pending.get("interaction_id") \
            or not isinstance(req.display_data, FileInputDisplay):
        session.pending_file = None  # answered before a restart, or the run moved on
        await bot.sessions.save(session)
        return False
    incoming = Incoming(**{k: v for k, v in pending.items() if k != "interaction_id"})
    path = await bot.engine.incoming_path(view.run_id, Path(incoming.name or "").suffix.lower()[:6])
    try:
        try:
            await bot.outbox.download(incoming.file_id, path)
        except TelegramError as exc:
            log.warning("could not fetch a file for run %s: %s", view.run_id, type(exc).__name__)
            session.pending_file = None
            await bot.sessions.save(session)
            await say(bot, session.chat_id, "⚠️ I could not fetch that file from Telegram. Please send it again.")
            return True
        answer = FileAnswer(path=str(path), name=incoming.name, mime_type=incoming.mime, size=incoming.size,
                            caption=incoming.caption or None)
        try:
            await bot.respond(session, InteractionResponse(interaction_id=req.interaction_id, file=answer),
                              urgent=True)
        except InvalidResponse as exc:
            session.pending_file = None
            await bot.sessions.save(session)
            await refuse(bot, session, req.display_data, str(exc))
            return True
    finally:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)  # the engine keeps its own upright copy
    session.pending_file = None
    await bot.sessions.save(session)
    return True


async def start_with(bot: CCBot, user_id: int, chat_id: int, incoming: Incoming | dict[str, Any]) -> None:
    """A new run whose file question is answered with this file (lock held)."""
    if isinstance(incoming, dict):
        incoming = Incoming(**{k: v for k, v in incoming.items() if k != "interaction_id"})
    owner = owner_of(user_id)
    view = await bot.engine.start_run(owner, origin={"chat_id": chat_id})
    session = Session(run_id=view.run_id, owner=owner, chat_id=chat_id)
    if view.pending is None or not isinstance(view.pending.display_data, FileInputDisplay):
        await say(bot, chat_id, "This video does not start with a photo, so here are the buttons instead.")
        await bot.show(view, session, urgent=True)
        return
    session.focus(view.pending.interaction_id)
    await bot.presenter.status(view, session)  # the pinned status first, as for any new run
    await take(bot, session, view, incoming)
    now = await bot.engine.get_run(view.run_id)
    if now.pending is not None and now.pending.interaction_id == view.pending.interaction_id:
        await bot.show(now, session, urgent=True)  # refused: the question (with Skip) is there to answer


# ----------------------------------------------------------------- buttons
async def skip(bot: CCBot, tap: Tap) -> None:
    disp = tap.question.display_data
    if not isinstance(disp, FileInputDisplay) or not disp.allow_skip:
        raise InvalidResponse("This button does nothing here.")
    await tap.answer_choice()
    assert tap.session is not None
    tap.session.pending_file = None
    await bot.respond(tap.session, InteractionResponse(interaction_id=tap.question.interaction_id), urgent=True,
                      announced=tap.announced, carry=tap.carry("✓ No photo"))


async def start_over(bot: CCBot, tap: Tap) -> None:
    session = await bot.sessions.of_owner(tap.owner)
    if session is None or not session.offered_file or not tap.data.matches(session.run_id):
        await tap.answer("This choice is no longer open.")
        return
    await tap.answer("Starting over with your photo…")
    offered = session.offered_file
    try:
        await bot.end_run(session.run_id, tap.owner)
    except EngineError:
        pass  # it ended in the meantime: start the new one all the same
    await start_with(bot, tap.user_id, tap.chat_id, offered)


async def keep_going(bot: CCBot, tap: Tap) -> None:
    session = await bot.sessions.of_owner(tap.owner)
    if session is None or not tap.data.matches(session.run_id):
        await tap.answer("This choice is no longer open.")
        return
    await tap.answer("OK, keeping your video as it is.")
    session.offered_file = None
    await bot.show(await bot.engine.get_run(session.run_id), session, again=True, urgent=True)


ON_QUESTION = {"file-skip": skip}
ON_MENU = {"photo-new": start_over, "photo-keep": keep_going}
