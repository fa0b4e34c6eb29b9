"""The handler table: which update goes where, behind the access gate.

Every button tap is answered exactly once; a tap while the same person's last
update is still being handled is answered at once (its work waits its turn).
"""

from __future__ import annotations

import asyncio
import time
import logging
from typing import Any

from telegram import Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot import callbacks
from bot.render import OutMessage
from bot.telegram.access import Access, Gate
from bot.telegram.admin import ADMIN_COMMANDS, Admin
from bot.telegram.actions import ON_MENU, ON_QUESTION
from bot.telegram.catchup import catch_up, catch_up_run
from bot.telegram.ccbot import CCBot, callback_secret
from bot.telegram.commands import COMMANDS, Commands
from bot.telegram.conversation import Conversation
from bot.telegram.flood import FloodGate
from bot.telegram.outbox import Outbox
from bot.telegram.photos import ON_MENU as PHOTO_ON_MENU
from bot.telegram.photos import ON_QUESTION as PHOTO_ON_QUESTION
from bot.telegram.photos import Photos
from bot.telegram.presenter import Presenter
from bot.telegram.progress import SORRY, Progress
from bot.telegram.session import Sessions
from bot.telegram.tap import CUT_SHORT, NotYours, PersonLocks, Tap, owner_of
from bot.telegram.voice import Voice
from engine.api import Engine
from engine.errors import EngineError, InvalidResponse, StaleInteraction
from engine.protocol import EngineEvent
from engine.providers.http import shared_tls
from engine.settings import Settings

log = logging.getLogger(__name__)
QUESTION_ACTIONS = {**ON_QUESTION, **PHOTO_ON_QUESTION}
MENU_ACTIONS = {**ON_MENU, **PHOTO_ON_MENU}
FILES = filters.PHOTO | filters.Document.ALL | filters.VIDEO | filters.ANIMATION | filters.VIDEO_NOTE | \
    filters.AUDIO | filters.VOICE

HOUSEKEEPING_EVERY_S = 3600.0
CLAIMS_KEPT_S = 2 * 86400.0  # Telegram keeps (and redelivers) an update for at most 24 hours


class TelegramFront:
    """The bot's rooms wired together: handlers, the gate, progress, catch-up."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.app: Application | None = None
        flood = FloodGate(settings.ccbot_overall_per_s, settings.ccbot_chat_per_s, settings.ccbot_chat_burst,
                          processes=settings.ccbot_bot_processes)
        outbox = Outbox(lambda: self._app().bot, flood, settings.telegram_upload_limit_mb * 1024 * 1024,
                        settings.telegram_download_limit_mb * 1024 * 1024,
                        sole_sender=settings.ccbot_bot_processes == 1)
        sessions = Sessions(engine.services.store, sole_writer=settings.ccbot_bot_processes == 1)
        presenter = Presenter(engine, sessions, outbox, callback_secret(settings))
        self.bot = CCBot(engine, sessions, outbox, presenter, settings, PersonLocks(engine.services.store))
        self.access = Access(engine.services.store, settings.allowed_user_ids, settings.admin_user_ids)
        self.gate = Gate(self.access, outbox)
        self.commands = Commands(self.bot)
        self.admin = Admin(self.bot, self.access, self.commands.unknown)
        self.retention_days = settings.ccbot_retention_days
        self._housekeeping: asyncio.Task[None] | None = None
        self._access_reader: asyncio.Task[None] | None = None
        self.conversation = Conversation(self.bot)
        self.voice = Voice(self.conversation)
        self.photos = Photos(self.bot, self.conversation)
        self.progress = Progress(self.bot, lambda coro: self._app().create_task(coro))
        engine.subscribe(self.progress.on_event)

    def _app(self) -> Application:
        assert self.app is not None, "the Application is not built yet"
        return self.app

    def install(self, app: Application) -> None:
        self.app = app
        c = self.commands
        app.add_handler(TypeHandler(Update, self.gate), group=-1)
        a = self.admin
        for name, handler in (("start", c.start), ("help", c.help), ("new", c.new), ("status", c.status),
                              ("cancel", c.cancel), ("history", c.history), ("forget", c.forget),
                              ("spend", a.spend), ("allow", a.allow), ("deny", a.deny), ("budget", a.budget)):
            app.add_handler(CommandHandler(name, handler))
        app.add_handler(CallbackQueryHandler(self.on_callback))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.conversation.text))
        app.add_handler(MessageHandler(filters.VOICE | filters.AUDIO, self.voice.handle))
        app.add_handler(MessageHandler(FILES, self.photos.received))
        app.add_handler(MessageHandler(filters.ALL & ~filters.TEXT & ~filters.COMMAND, self.conversation.other))
        app.add_handler(MessageHandler(filters.COMMAND, c.unknown))
        app.add_error_handler(self.on_error)

    async def post_init(self, app: Application) -> None:
        await self.access.refresh(force=True)
        await self.bot.outbox.set_commands(COMMANDS)
        for admin in sorted(self.access.admins):  # only an admin's own chat lists the admin commands
            await self.bot.outbox.set_commands(COMMANDS + ADMIN_COMMANDS, chat_id=admin)
        store = self.bot.engine.services.store
        if store.shared:  # what workers report reaches one of the bot processes
            await store.listen(self.on_remote_event)
        await catch_up(self.bot, self.progress)
        self._housekeeping = asyncio.create_task(self.housekeeping(), name="housekeeping")
        self._access_reader = asyncio.create_task(self.access.keep_fresh(), name="access lists")

    async def catch_up_person(self, user_id: int) -> None:
        """After an update whose process died mid-way was handled again: the person's chat
        gets what that process did not show (the open question, results), each once."""
        view = await self.bot.engine.active_run(owner_of(user_id))
        if view is not None:
            await catch_up_run(self.bot, self.progress, view)

    async def on_remote_event(self, message: dict[str, Any]) -> None:
        """An engine event from another process (a worker): handled by exactly one bot process."""
        event_id = str(message.get("id") or "")
        if not event_id or not (await self.bot.sessions.claim([f"event:{event_id}"]))[0]:
            return
        await self.progress.on_event(EngineEvent.model_validate(message["event"]))

    async def post_stop(self, app: Application) -> None:
        for task in (self._housekeeping, self._access_reader):
            if task is not None:
                task.cancel()

    async def housekeeping(self) -> None:
        """Now and then once an hour: forget handled update and event ids older than
        Telegram redelivers (a day), and delete media past CCBOT_RETENTION_DAYS."""
        engine = self.bot.engine
        while True:
            try:
                pruned = await engine.services.store.prune_claims(time.time() - CLAIMS_KEPT_S)
                if pruned:
                    log.info("forgot %d handled update/event id(s)", pruned)
                if self.retention_days:
                    cleaned = await engine.expire_media(self.retention_days)
                    if cleaned:
                        log.info("deleted the media of %d run(s) past %d days", len(cleaned), self.retention_days)
            except Exception:  # keep trying next hour; never take the bot down
                log.exception("housekeeping failed")
            await asyncio.sleep(HOUSEKEEPING_EVERY_S)

    # ----------------------------------------------------------- callbacks
    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        bot = self.bot
        data = callbacks.decode(query.data or "", bot.secret)
        chat_id = update.effective_chat.id if update.effective_chat else update.effective_user.id
        # a tap handled again after its process died mid-way was answered by that process (it answers
        # first thing while it holds the person): the engine ignores the repeated choice, and this
        # handling says nothing more ("no longer open" would be wrong for a choice that was taken)
        tap = Tap(query, data or callbacks.CallbackData("noop", ""), update.effective_user.id, chat_id, bot.outbox,
                  answered=CUT_SHORT.get())
        if data is None:
            await tap.answer("This button is not valid.")
            return
        owner = owner_of(tap.user_id)
        if bot.locks.busy(owner):  # still busy with this person's last tap or a delivery: stop the spinner now
            await tap.answer()
        async with bot.locks.hold(owner):
            try:
                if data.action in QUESTION_ACTIONS:
                    await tap.resolve(bot.sessions, bot.engine)
                    await QUESTION_ACTIONS[data.action](bot, tap)
                elif data.action in MENU_ACTIONS:
                    await MENU_ACTIONS[data.action](bot, tap)
                else:
                    await tap.answer("This button does nothing here.")
            except (StaleInteraction, NotYours) as exc:
                await tap.answer(str(exc))
            except (InvalidResponse, EngineError) as exc:
                await tap.answer(str(exc)[:190], alert=True)
            finally:
                await tap.answer()  # every callback query is answered, once

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("update failed: %s", context.error, exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat and not isinstance(context.error, Forbidden):
            try:
                await self.bot.outbox.send(update.effective_chat.id, OutMessage(text=SORRY, parse_mode=None))
            except TelegramError:
                pass


def build_application(settings: Settings, engine: Engine, **builder_options: Any) -> tuple[Application, TelegramFront]:
    """The python-telegram-bot Application with our handlers (no client-side rate
    limiter: the outbox keeps Telegram's limits itself, urgent calls first)."""
    if settings.telegram_bot_token is None:
        raise SystemExit("TELEGRAM_BOT_TOKEN is not set: get one from @BotFather (see README).")
    front = TelegramFront(engine, settings)
    # PTB's defaults (256 connections, 1 for getUpdates), on the providers' TLS context:
    # each client would load the CA bundle into one of its own (~1.2 MB apiece)
    tls = {"verify": shared_tls()}
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .concurrent_updates(256)
        .request(HTTPXRequest(connection_pool_size=256, read_timeout=30, media_write_timeout=300, httpx_kwargs=tls))
        .get_updates_request(HTTPXRequest(connection_pool_size=1, httpx_kwargs=tls))
        .post_init(front.post_init)
        .post_stop(front.post_stop)
    )
    if settings.telegram_api_base_url:
        builder = builder.base_url(settings.telegram_api_base_url)
    if settings.telegram_api_file_url:
        builder = builder.base_file_url(settings.telegram_api_file_url)
    if settings.telegram_local_mode:
        builder = builder.local_mode(True)
    for name, value in builder_options.items():
        builder = getattr(builder, name)(value)
    app = builder.build()
    front.install(app)
    return app, front
