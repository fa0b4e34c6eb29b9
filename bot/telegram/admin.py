"""The operator's commands: /spend, /allow, /deny, /budget. For everyone who is
not an admin they do not exist (the same answer as any unknown command)."""

from __future__ import annotations

import io

from telegram import BotCommand, Update
from telegram.ext import ContextTypes

from bot import render
from bot.render import OutMessage
from bot.telegram.access import Access
from bot.telegram.ccbot import CCBot
from bot.telegram.tap import owner_of
from engine.spend_report import spend_report

ADMIN_COMMANDS = [
    BotCommand("spend", "this month's spend per person and provider"),
    BotCommand("allow", "/allow <user id> [budget USD]: let someone in"),
    BotCommand("deny", "/deny <user id>: shut someone out"),
    BotCommand("budget", "/budget <user id> <USD>: someone's monthly budget"),
]
USAGE = {
    "allow": "/allow <user id> [monthly budget in USD]",
    "deny": "/deny <user id>",
    "budget": "/budget <user id> <monthly budget in USD>",
}


def _user_id(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _usd(text: str) -> float | None:
    try:
        value = float(text.strip().lstrip("$"))
    except ValueError:
        return None
    return value if 0 <= value < 1_000_000 else None


class Admin:
    def __init__(self, bot: CCBot, access: Access, not_found) -> None:  # noqa: ANN001 - the unknown-command handler
        self.bot = bot
        self.access = access
        self.not_found = not_found

    async def _refuse(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
        if self.access.is_admin(update.effective_user.id):
            return False
        await self.not_found(update, context)  # no hint that the command exists
        return True

    async def spend(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self._refuse(update, context):
            return
        args = context.args or []
        report = await spend_report(self.bot.engine.services.store, args[0] if args else None)
        chat = update.effective_chat.id
        await self.bot.outbox.send(chat, OutMessage(text=f"<pre>{render.esc(report.table())}</pre>"), urgent=True)
        await self.bot.outbox.send_bytes(chat, io.BytesIO(report.csv().encode("utf-8")), f"spend-{report.month}.csv",
                                         caption="The same, one line per paid call.")

    async def allow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._people(update, context, "allow")

    async def deny(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._people(update, context, "deny")

    async def budget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._people(update, context, "budget")

    async def _people(self, update: Update, context: ContextTypes.DEFAULT_TYPE, command: str) -> None:
        if await self._refuse(update, context):
            return
        args = context.args or []
        user = _user_id(args[0]) if args else None
        usd = _usd(args[1]) if len(args) > 1 else None
        wrong = user is None or (command == "budget" and usd is None) or (len(args) > 1 and usd is None)
        chat = update.effective_chat.id
        if wrong:
            await self.bot.outbox.send(chat, OutMessage(text=f"Usage: {USAGE[command]}", parse_mode=None), urgent=True)
            return
        assert user is not None
        if command == "allow":
            await self.access.set_allowed(user, True, usd)
            text = f"{user} may use the bot now" + (f", with ${usd:.2f} a month." if usd is not None else ".")
        elif command == "deny":
            await self.access.set_allowed(user, False)
            text = f"{user} can no longer use the bot."
        else:
            assert usd is not None
            await self.access.set_budget(user, usd)
            text = f"{user}'s monthly budget is ${usd:.2f} now."
        self.bot.engine.spending.forget(owner_of(user))  # the next Generate is checked against the new budget
        await self.bot.outbox.send(chat, OutMessage(text=text, parse_mode=None), urgent=True)
