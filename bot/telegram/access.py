"""Who may use the bot, and who runs it. Default deny: an unknown person gets
their id and a polite no; nothing reaches the engine or a provider.

The starting lists come from the settings (CCBOT_ALLOWED_USERS,
CCBOT_ADMIN_USERS); what an admin changes (/allow, /deny) is stored and
applies at once in this process, and within `REFRESH_S` in any other (read in
the background, never in the way of an update).
"""

from __future__ import annotations

import asyncio
import logging
import time

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.render import OutMessage
from bot.telegram.flood import expect_first_reaction
from bot.telegram.outbox import Outbox
from bot.telegram.tap import owner_of
from engine.store import Store

log = logging.getLogger(__name__)

REFRESH_S = 5.0


class Access:
    def __init__(self, store: Store, allowed: set[int], admins: set[int]) -> None:
        self.store = store
        self.starting = set(allowed)
        self.admins = set(admins)
        self._changed: dict[int, bool] = {}  # what admins decided, over the starting list
        self._loaded_at = 0.0

    async def keep_fresh(self) -> None:
        """Read what admins decided every REFRESH_S, until cancelled: in the background,
        so that no person's update waits for the read (one in ~150 did, at 30 people)."""
        while True:
            await asyncio.sleep(REFRESH_S)
            try:
                await self.refresh(force=True)
            except Exception:  # the store is down for a moment: keep the last lists, try again
                log.warning("could not read the access lists; keeping the last ones", exc_info=True)

    async def refresh(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._loaded_at < REFRESH_S:
            return
        self._loaded_at = time.monotonic()
        changed = {}
        for person in await self.store.people():
            if person.allowed is not None and person.owner.startswith("tg:"):
                changed[int(person.owner[3:])] = person.allowed
        self._changed = changed

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.admins

    def allows(self, user_id: int) -> bool:
        if user_id in self.admins:
            return True
        return self._changed.get(user_id, user_id in self.starting)

    async def set_allowed(self, user_id: int, allowed: bool, budget_usd: float | None = None) -> None:
        await self.store.save_person(owner_of(user_id), allowed=allowed, budget_usd=budget_usd)
        self._changed[user_id] = allowed

    async def set_budget(self, user_id: int, budget_usd: float) -> None:
        await self.store.save_person(owner_of(user_id), budget_usd=budget_usd)


class Gate:
    def __init__(self, access: Access, outbox: Outbox) -> None:
        self.access = access
        self.outbox = outbox

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        if user is None:
            raise ApplicationHandlerStop
        if self.access.allows(user.id):
            message, chat = update.effective_message, update.effective_chat
            if message is not None and chat is not None:
                self.outbox.saw(chat.id, message.message_id)  # the person's words are below our last message
            if update.message is not None:  # not a tap: its answer is its first reaction, and needs no slot
                expect_first_reaction()
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
