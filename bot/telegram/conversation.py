"""Messages that are not commands or buttons: typed answers and feedback,
words at any step (understood by the engine, see `talk.py`), voice notes
(`voice.py`), and everything else (stickers, files...), which gets a hint and
the question again."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.render import OutMessage
from bot.telegram import talk
from bot.telegram.ccbot import CCBot
from bot.telegram.tap import owner_of
from engine.errors import InvalidResponse
from engine.protocol import InteractionResponse, RunStatus, TextInputDisplay
from engine.understanding import is_no

FEEDBACK_LIMIT = 2000


class Conversation:
    def __init__(self, bot: CCBot) -> None:
        self.bot = bot

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        owner = owner_of(update.effective_user.id)
        async with self.bot.locks.hold(owner):
            await self.handle(update.effective_user.id, update.effective_chat.id, update.effective_message.text or "")

    async def handle(self, user_id: int, chat: int, text: str) -> None:
        """Words from the person (typed, or a voice note's transcript); their lock is held."""
        bot, owner = self.bot, owner_of(user_id)
        session = await bot.sessions.of_owner(owner)
        view = await bot.engine.get_run(session.run_id) if session is not None else None
        if session is None or view is None or view.status != RunStatus.ACTIVE:
            await talk.no_run(bot, user_id, chat, text)
            return
        req = view.pending
        session.focus(req.interaction_id if req else None)
        if req is not None and session.feedback_option:
            if is_no(text):  # changed their mind about a new version
                session.feedback_option = None
                await bot.sessions.save(session)
                await bot.outbox.send(chat, OutMessage(text="OK, no new version.", parse_mode=None), urgent=True)
                return
            if len(text) > FEEDBACK_LIMIT:
                await bot.outbox.send(chat, OutMessage(
                    text=f"That is {len(text)} characters; please keep it under {FEEDBACK_LIMIT}.",
                    force_reply=True, parse_mode=None), urgent=True)
                return
            await bot.respond(session, InteractionResponse(
                interaction_id=req.interaction_id, retry_requested=True, retry_feedback=text,
                retry_option_id=session.feedback_option), urgent=True)
            return
        if req is not None and isinstance(req.display_data, TextInputDisplay):
            try:
                await bot.respond(session, InteractionResponse(interaction_id=req.interaction_id, value=text),
                                  urgent=True)
            except InvalidResponse as exc:
                reason = str(exc)
                await bot.outbox.send(chat, OutMessage(
                    text=f"⚠️ {reason[:1].upper()}{reason[1:]}. Please send your answer again.",
                    force_reply=True, parse_mode=None), urgent=True)
            return
        await talk.on_text(bot, session, view, text)

    async def other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        bot, owner, chat = self.bot, owner_of(update.effective_user.id), update.effective_chat.id
        async with bot.locks.hold(owner):
            session = await bot.sessions.of_owner(owner)
            view = await bot.engine.get_run(session.run_id) if session is not None else None
            if session is None or view is None or view.status != RunStatus.ACTIVE:
                await bot.outbox.send(chat, OutMessage(
                    text="I only understand buttons and text. /new starts a video.", parse_mode=None), urgent=True)
                return
            session.focus(view.pending.interaction_id if view.pending else None)
            if view.pending is not None and session.feedback_option:  # a feedback prompt is open: it wants words
                await bot.outbox.send(chat, OutMessage(
                    text="✏️ Please type what should be different, as a text message.", force_reply=True,
                    parse_mode=None), urgent=True)
                return
            if view.pending is not None and isinstance(view.pending.display_data, TextInputDisplay):
                await self.hint(session, view, "✏️ Please type your answer as a text message. Here is the question again:")
            else:
                await self.hint(session, view, "👆 Please use the buttons (or type what you want). Here it is again:")

    async def hint(self, session, view, text: str) -> None:  # noqa: ANN001 - Session, RunView
        await self.bot.outbox.send(session.chat_id, OutMessage(text=text, parse_mode=None), urgent=True)
        await self.bot.show(view, session, again=True)
