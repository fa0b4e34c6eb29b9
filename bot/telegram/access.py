"""Who may use the bot: default deny. An unknown person gets their id and a
polite no; nothing reaches the engine or a provider."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.render import OutMessage
from bot.telegram.outbox import Outbox

log = logging.getLogger(__name__)


class Gate:
    def __init__(self, allowed: set[int], outbox: Outbox) -> None:
        self.allowed = allowed
        self.outbox = outbox

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        if user is None:
            raise ApplicationHandlerStop
        if user.id in self.allowed:
            return
        log.info("refused unknown user %s", user.id)
        text = (f"Sorry, this is a private bot. Your Telegram user id is {user.id}: "
                "ask the owner to add it to CCBOT_ALLOWED_USERS.")
        try:
            if update.callback_query:
                await self.outbox.answer(update.callback_query, "This is a private bot.")
            elif update.effective_chat and update.effective_chat.type == "private":
                await self.outbox.send(update.effective_chat.id, OutMessage(text=text, parse_mode=None), urgent=True)
        except TelegramError:
            pass
        raise ApplicationHandlerStop
