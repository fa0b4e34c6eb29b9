"""The slash commands: /start /help /new /status /cancel /history."""

from __future__ import annotations

import time

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot import render
from bot.render import OutMessage
from bot.telegram.ccbot import CCBot
from bot.telegram.tap import owner_of

COMMANDS = [
    BotCommand("start", "what this bot does"),
    BotCommand("new", "start a new pet video"),
    BotCommand("status", "where your video is, and what it cost"),
    BotCommand("cancel", "stop the current video"),
    BotCommand("history", "your finished videos"),
    BotCommand("forget", "delete everything you made or sent here"),
    BotCommand("help", "how it works"),
]
HELP = (
    "I make short cute-pet videos with you, step by step: pet and mood, a scene, a picture, "
    "what moves, a clip, a caption, a title and music.\n\n"
    "Tap the buttons to choose. 🔄 asks for a new version (you can say what to change), "
    "↩️ goes back. Or just type (or say, in a voice note) what you want: “2”, “the cozy one”, "
    "“make it sillier”, “go back to the pictures”; I say what I understood and ask before anything "
    "that costs. You can leave at any time and come back later: /status shows where you are.\n\n"
    "/new start a video · /status where am I · /cancel stop · /history finished videos · /forget delete my data"
)


class Commands:
    def __init__(self, bot: CCBot) -> None:
        self.bot = bot

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        bot = self.bot
        lines = [
            "🐾 Hi! I help you make a short cute-pet video, one tap at a time.",
            "You pick pet, mood and scene; I make the picture, the clip, the caption and the music.",
            "You can also just describe the video you’d like, e.g. “a corgi chasing bubbles in the garden”, "
            "and type (or say) what you want at any step.",
        ]
        budget = await bot.engine.spending.budget(owner_of(update.effective_user.id))
        if budget.limit_usd == 0:
            lines.append("ℹ️ Your budget here is $0, so nothing paid is made for you: your videos use offline "
                         "stand-ins (free), to show how it all works.")
        elif bot.engine.services.providers.all_offline:
            lines.append("ℹ️ Demo mode: no provider keys are set, so pictures, clips and music are made offline.")
        buttons = [[bot.presenter.button("🎬 Start a new video", "new", "menu")]]
        if await bot.sessions.of_owner(owner_of(update.effective_user.id)) is not None:
            buttons.insert(0, [bot.presenter.button("▶️ Continue my video", "resume", "menu")])
        await bot.outbox.send(update.effective_chat.id, OutMessage(text="\n".join(lines), buttons=buttons,
                                                                   parse_mode=None), urgent=True)

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.bot.outbox.send(update.effective_chat.id, OutMessage(text=HELP, parse_mode=None), urgent=True)

    async def new(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        async with self.bot.locks.hold(owner_of(update.effective_user.id)):
            await self.bot.start_new(update.effective_user.id, update.effective_chat.id, force=False)

    async def status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        bot, chat = self.bot, update.effective_chat.id
        session = await bot.sessions.of_owner(owner_of(update.effective_user.id))
        view = await bot.engine.get_run(session.run_id) if session is not None else None
        if view is None or view.status.value != "active":
            await bot.outbox.send(chat, OutMessage(
                text="No video in progress. /new starts one; /history shows finished ones.", parse_mode=None),
                urgent=True)
            return
        text = render.render_status(await bot.engine.status_fields(view.run_id), view.current_step_name or "")
        text += f"\n💰 Spent so far: <b>{render.esc(view.spent)}</b>"
        text += f"\n📅 {render.esc((await bot.engine.spending.budget(view.owner)).describe())}"
        if view.error:
            text += f"\n⚠️ {render.esc(view.error)}"
        buttons = [[bot.presenter.button("▶️ Show the current question", "resume", "menu")]]
        await bot.outbox.send(chat, OutMessage(text=text, buttons=buttons, parse_mode=ParseMode.HTML), urgent=True)

    async def cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        bot, owner, chat = self.bot, owner_of(update.effective_user.id), update.effective_chat.id
        async with bot.locks.hold(owner):
            view = await bot.engine.active_run(owner)
            if view is None:
                await bot.outbox.send(chat, OutMessage(text="Nothing to cancel.", parse_mode=None), urgent=True)
                return
            await bot.end_run(view.run_id, owner)
        await bot.outbox.send(chat, OutMessage(text="Stopped. /new starts a fresh video.", parse_mode=None))

    async def history(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        bot, chat = self.bot, update.effective_chat.id
        runs = await bot.engine.list_runs(owner_of(update.effective_user.id), "completed", limit=10)
        if not runs:
            await bot.outbox.send(chat, OutMessage(text="No finished videos yet. /new starts one.", parse_mode=None),
                                  urgent=True)
            return
        rows = []
        gone = [v for v in runs if v.result is not None and v.result.media_deleted]
        runs = [v for v in runs if v not in gone]
        for view in runs:
            title = (view.result.title if view.result else "") or view.run_id[-6:]
            when = time.strftime("%d %b", time.gmtime(view.updated_at))
            rows.append([bot.presenter.button(render.shorten(f"🎬 {when} · {title}", 48), "hist", view.run_id)])
        note = f"\n({len(gone)} older one(s) were deleted after the keeping period.)" if gone else ""
        text = ("Your finished videos: tap one to get it again." if rows else "Your older videos were deleted.") + note
        await bot.outbox.send(chat, OutMessage(text=text, buttons=rows, parse_mode=None), urgent=True)

    async def forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Ask first: this deletes everything of the person's (the accounting of what they spent stays)."""
        text = ("🗑 This deletes everything you made or sent here: your videos, pictures, clips, music, photos and "
                "words, and your history. It stops a video in progress. What was spent stays in the operator's "
                "accounting (dates, providers and amounts, nothing else).")
        buttons = [[self.bot.presenter.button("🗑 Delete everything", "forget", "menu", "yes"),
                    self.bot.presenter.button("Keep it", "forget", "menu", "no")]]
        await self.bot.outbox.send(update.effective_chat.id, OutMessage(text=text, buttons=buttons, parse_mode=None),
                                   urgent=True)

    async def unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.bot.outbox.send(update.effective_chat.id, OutMessage(
            text="I don't know that command. " + HELP.split("\n\n")[-1], parse_mode=None), urgent=True)
