"""The Telegram bot: python-telegram-bot wiring around the shared engine.

Every screen comes from `bot.render` (driven by the interaction protocol and
the display schema's `_ux` hints), every answer goes to the engine, and the
engine's events (job progress, finished clips, errors) come back here to be
shown. Per-user locks keep one person's taps in order; different people run
side by side.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import logging
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from telegram import (
    BotCommand,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import callbacks, render
from bot.delivery import send_file
from bot.render import Button, OutMessage
from bot.ui_store import UIStore
from engine.errors import InvalidResponse
from engine.protocol import (
    EngineEvent,
    InteractionRequest,
    InteractionResponse,
    MediaDisplay,
    RunView,
    SelectDisplay,
    SubActionRequest,
    TextInputDisplay,
)
from engine.api import Engine
from engine.errors import EngineError, StaleInteraction
from engine.settings import Settings

log = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("start", "what this bot does"),
    BotCommand("new", "start a new pet video"),
    BotCommand("status", "where your video is, and what it cost"),
    BotCommand("cancel", "stop the current video"),
    BotCommand("history", "your finished videos"),
    BotCommand("help", "how it works"),
]
HELP = (
    "I make short cute-pet videos with you, step by step: pet and mood, a scene, a picture, "
    "what moves, a clip, a caption, a title and music.\n\n"
    "Tap the buttons to choose. 🔄 asks for a new version (you can say what to change), "
    "↩️ goes back. You can leave at any time and come back later: /status shows where you are.\n\n"
    "/new start a video · /status where am I · /cancel stop · /history finished videos"
)
FEEDBACK_LIMIT = 2000
SORRY = "😿 Something went wrong on my side. Your progress is saved: /status shows where you are."
PROGRESS_EDIT_EVERY_S = 2.0
CHAT_ACTION_EVERY_S = 4.0
TYPING_AFTER_S = 0.8


def callback_secret(settings: Settings) -> bytes:
    """Stable across restarts (old buttons keep working), secret (derived from the token)."""
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else "offline"
    return hashlib.sha256(b"ccbot callback v1|" + token.encode()).digest()


def owner_of(user_id: int) -> str:
    return f"tg:{user_id}"


def markup(rows: list[list[Button]]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.text, callback_data=b.callback_data) for b in row] for row in rows]
    )


class CCBot:
    def __init__(self, engine: Engine, ui: UIStore, settings: Settings) -> None:
        self.engine = engine
        self.ui = ui
        self.settings = settings
        self.secret = callback_secret(settings)
        self.allowed = settings.allowed_user_ids
        self.app: Application | None = None
        self.upload_limit = settings.telegram_upload_limit_mb * 1024 * 1024
        self._user_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._last_progress_edit: dict[str, float] = {}
        self._last_chat_action: dict[int, float] = {}
        self._answered: set[str] = set()
        self._status_texts: dict[str, str] = {}  # run id -> the status text last shown
        self._module_progress_texts: dict[str, str] = {}  # the text of each module progress message
        self._module_progress_messages: dict[str, int] = {}  # callback queries answered during their handling
        engine.subscribe(self.on_engine_event)

    @property
    def bot(self):  # noqa: ANN201 - telegram.Bot
        assert self.app is not None
        return self.app.bot

    # ------------------------------------------------------------ wiring
    def install(self, app: Application) -> None:
        self.app = app
        app.add_handler(TypeHandler(Update, self.gate), group=-1)
        app.add_handler(CommandHandler("start", self.cmd_start))
        app.add_handler(CommandHandler("help", self.cmd_help))
        app.add_handler(CommandHandler("new", self.cmd_new))
        app.add_handler(CommandHandler("status", self.cmd_status))
        app.add_handler(CommandHandler("cancel", self.cmd_cancel))
        app.add_handler(CommandHandler("history", self.cmd_history))
        app.add_handler(CallbackQueryHandler(self.on_callback))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.on_text))
        app.add_handler(MessageHandler(filters.ALL & ~filters.TEXT & ~filters.COMMAND, self.on_other))
        app.add_handler(MessageHandler(filters.COMMAND, self.on_unknown_command))
        app.add_error_handler(self.on_error)

    async def post_init(self, app: Application) -> None:
        try:
            await app.bot.set_my_commands(COMMANDS)
        except TelegramError as exc:
            log.warning("could not register commands: %s", exc)
        for view in await self.engine.resume_all():  # jobs in flight are polled again; clips arrive once
            await self.catch_up(view)
        for row in await self.engine.services.store.list_runs(status="completed", limit=20):
            if await self.ui.get(f"finished:{row.run_id}") is None:  # finished as the process died
                await self.catch_up(await self.engine.get_run(row.run_id))

    async def catch_up(self, view: RunView) -> None:
        """After a restart, show what the last process could not: results of jobs
        that finished unseen, and the pending question (or error, or finished
        video) unless it was shown in full before. Each at most once."""
        if await self.ui.chat_of(view.run_id) is None:
            chat_id = await self.ui.get(f"starting:{view.owner}")  # died between starting and binding it
            if chat_id is None:
                return
            await self.ui.bind_run(view.run_id, view.owner, int(chat_id))
        if view.pending is not None and isinstance(view.pending.display_data, MediaDisplay):
            for job in view.pending.display_data.jobs:
                if job.status in ("completed", "failed"):
                    await self.job_finished(await self.ui.chat_of(view.run_id) or 0, EngineEvent(
                        run_id=view.run_id, owner=view.owner, type=f"job_{job.status}",
                        data={"job_id": job.job_id, "error": job.error}))
        async with self._user_locks[view.owner]:
            view = await self.engine.get_run(view.run_id)
            if await self.ui.get(f"screen:{view.run_id}") != self.screen_key(view):
                await self.present(view)

    @staticmethod
    def screen_key(view: RunView) -> str:
        """What `present` shows for this view: its question, or its error."""
        return view.pending.interaction_id if view.pending is not None else f"error:{view.updated_at}"

    # ------------------------------------------------------------ access
    async def gate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Default deny: unknown users get their id and a polite no; no engine, no provider call."""
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
                await update.callback_query.answer("This is a private bot.", show_alert=False)
            elif update.effective_chat and update.effective_chat.type == "private":
                await update.effective_chat.send_message(text)
        except TelegramError:
            pass
        raise ApplicationHandlerStop

    def lock_for(self, user_id: int) -> asyncio.Lock:
        return self._user_locks[owner_of(user_id)]

    # ---------------------------------------------------------- commands
    async def cmd_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        offline = self.engine.services.providers.all_offline
        lines = [
            "🐾 Hi! I help you make a short cute-pet video, one tap at a time.",
            "You pick pet, mood and scene; I make the picture, the clip, the caption and the music.",
        ]
        if offline:
            lines.append("ℹ️ Demo mode: no provider keys are set, so pictures, clips and music are made offline.")
        active = await self.engine.active_run(owner_of(update.effective_user.id))
        buttons = [[Button("🎬 Start a new video", callbacks.encode("new", "menu", "", self.secret))]]
        if active:
            buttons.insert(0, [Button("▶️ Continue my video", callbacks.encode("resume", "menu", "", self.secret))])
        await update.effective_chat.send_message("\n".join(lines), reply_markup=markup(buttons))

    async def cmd_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_chat.send_message(HELP)

    async def cmd_new(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        async with self.lock_for(update.effective_user.id):
            await self.start_new(update.effective_user.id, update.effective_chat.id, force=False)

    async def cmd_status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        view = await self.engine.active_run(owner_of(update.effective_user.id))
        if view is None:
            await update.effective_chat.send_message("No video in progress. /new starts one; /history shows finished ones.")
            return
        text = render.render_status(await self.engine.status_fields(view.run_id), view.current_step_name or "")
        text += f"\n💰 Spent so far: <b>{render.esc(view.spent)}</b>"
        if view.error:
            text += f"\n⚠️ {render.esc(view.error)}"
        buttons = [[Button("▶️ Show the current question", callbacks.encode("resume", "menu", "", self.secret))]]
        await update.effective_chat.send_message(text, parse_mode=ParseMode.HTML, reply_markup=markup(buttons))

    async def cmd_cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        owner = owner_of(update.effective_user.id)
        async with self.lock_for(update.effective_user.id):
            await self.ui.delete(f"feedback:{owner}")
            view = await self.engine.active_run(owner)
            if view is None:
                await update.effective_chat.send_message("Nothing to cancel.")
                return
            await self.engine.cancel_run(view.run_id, owner)
            await self.refresh_status(view.run_id)
        await update.effective_chat.send_message("Stopped. /new starts a fresh video.")

    async def cmd_history(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        runs = await self.engine.list_runs(owner_of(update.effective_user.id), "completed", limit=10)
        if not runs:
            await update.effective_chat.send_message("No finished videos yet. /new starts one.")
            return
        rows = []
        for view in runs:
            state = await self.engine.state(view.run_id)
            title = state.get("selected_title") or (state.get("selected_scene") or {}).get("title") or view.run_id[-6:]
            when = time.strftime("%d %b", time.gmtime(view.updated_at))
            rows.append([Button(render.shorten(f"🎬 {when} · {title}", 48),
                                callbacks.encode("hist", view.run_id, "", self.secret))])
        await update.effective_chat.send_message("Your finished videos: tap one to get it again.", reply_markup=markup(rows))

    async def on_unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_chat.send_message("I don't know that command. " + HELP.split("\n\n")[-1])

    # ------------------------------------------------------------- runs
    async def start_new(self, user_id: int, chat_id: int, force: bool) -> None:
        owner = owner_of(user_id)
        active = await self.engine.active_run(owner)
        if active and not force:
            text = (f"You have a video in progress ({render.esc(active.current_step_name or '')}). "
                    "Start over? The current one will be stopped.")
            # names the run it stops: once that run is over, the button is stale
            buttons = [[Button("🆕 Start over", callbacks.encode("new", active.run_id, "", self.secret)),
                        Button("▶️ Keep going", callbacks.encode("resume", "menu", "", self.secret))]]
            await self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup(buttons))
            return
        if active:
            await self.engine.cancel_run(active.run_id, owner)
        await self.ui.delete(f"feedback:{owner}")
        await self.ui.put(f"starting:{owner}", chat_id)  # where the run lives, should we die before binding it
        view = await self.engine.start_run(owner)
        await self.ui.bind_run(view.run_id, owner, chat_id)
        await self.present(view)

    async def present(self, view: RunView, *, resend_contents: bool = False) -> None:
        """Show the run's pending question (or its error, or its end)."""
        chat_id = await self.ui.chat_of(view.run_id)
        if chat_id is None:
            return
        await self.refresh_status(view.run_id)
        if view.status.value == "completed":
            await self.deliver_finished(view, chat_id)
            return
        if view.status.value != "active":
            return
        if view.pending is None:
            text = f"⚠️ {render.esc(view.error or 'This step stopped.')}"
            buttons = [[Button("🔁 Try again", callbacks.encode("resume", "retry", "", self.secret))]]
            for option in view.error_options:  # e.g. "Finish without music"
                buttons.append([Button(render.shorten(option.get("label", "?"), 48),
                                       callbacks.encode("resume", "retry", option.get("id", ""), self.secret))])
            await self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup(buttons))
            await self.ui.put(f"screen:{view.run_id}", self.screen_key(view))  # shown in full (see catch_up)
            return
        req = view.pending
        if isinstance(req.display_data, MediaDisplay):
            await self.send_contents(req, chat_id, only_new=not resend_contents)
        elif isinstance(req.display_data, SelectDisplay):  # e.g. the finished video, before "happy with it?"
            for preview in render.preview_media(req.display_data.data, req.display_data.display_schema):
                if resend_contents or await self.ui.claim(f"preview:{req.interaction_id}:{preview.path}"):
                    await send_file(self.bot, chat_id, preview.kind, preview.path,
                                    caption=render.esc(preview.label), limit_bytes=self.upload_limit)
        chosen = set(await self.ui.get(f"chosen:{req.interaction_id}", []))
        params = await self.ui.get(f"params:{req.interaction_id}", {})
        for out in render.render_request(req, self.secret, chosen=chosen, param_choices=params):
            await self.send_out(chat_id, out)
        await self.ui.put(f"screen:{view.run_id}", self.screen_key(view))  # shown in full (see catch_up)

    async def send_out(self, chat_id: int, out: OutMessage) -> Message | None:
        if out.kind == "text":
            reply_markup: Any = markup(out.buttons)
            if out.force_reply:
                reply_markup = ForceReply(selective=True, input_field_placeholder=out.placeholder)
            return await self.bot.send_message(chat_id, out.text, parse_mode=out.parse_mode, reply_markup=reply_markup)
        for path in out.media_paths:
            return await send_file(self.bot, chat_id, out.kind, path, caption=out.text, markup=markup(out.buttons),
                                   limit_bytes=self.upload_limit)
        return None

    async def send_contents(self, req: InteractionRequest, chat_id: int, only_new: bool) -> None:
        """Each generated file once (claimed before sending: a restart never sends it twice)."""
        disp = req.display_data
        assert isinstance(disp, MediaDisplay)
        items = {c.content_id: c for c in render.generated_contents(disp)}
        files = [c for c in items.values() if c.item and c.item.local_path]  # as render_contents lists them
        for out, shown in zip(render.render_contents(req, self.secret), files, strict=True):
            if only_new and not await self.ui.claim(f"delivered:{shown.content_id}"):
                continue
            item = shown.item
            kind = {"video": "video", "image": "photo", "audio": "audio"}.get(item.media_type, "document")
            if kind == "video":
                await self.chat_action(chat_id, ChatAction.UPLOAD_VIDEO, force=True)
            try:
                await send_file(self.bot, chat_id, kind, item.local_path, caption=out.text,
                                markup=markup(out.buttons), limit_bytes=self.upload_limit,
                                duration_s=item.duration_s, width=item.width, height=item.height)
            except TelegramError:
                if only_new:  # not delivered after all: the next showing may send it
                    await self.ui.delete(f"delivered:{shown.content_id}")
                raise

    async def refresh_status(self, run_id: str) -> None:
        """The pinned status message: created once per run, then edited."""
        chat_id = await self.ui.chat_of(run_id)
        if chat_id is None:
            return
        view = await self.engine.get_run(run_id)
        step = view.current_step_name or ("Finished 🎉" if view.status.value == "completed" else view.status.value)
        text = render.render_status(await self.engine.status_fields(run_id), step)
        if self._status_texts.get(run_id) == text:  # unchanged: an edit would only spend the rate limit
            return
        message_id = await self.ui.status_message(run_id)
        if message_id is not None:
            try:
                await self.bot.edit_message_text(text, chat_id, message_id, parse_mode=ParseMode.HTML)
                self._status_texts[run_id] = text
                return
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    self._status_texts[run_id] = text
                    return
                log.info("status message gone, sending a new one: %s", exc)
            except TelegramError as exc:  # a 5xx or a network error: keep the old one, try next time
                log.warning("could not update the status message: %s", exc)
                return
        message = await self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, disable_notification=True)
        await self.ui.set_status_message(run_id, message.message_id)
        self._status_texts[run_id] = text
        try:
            await self.bot.pin_chat_message(chat_id, message.message_id, disable_notification=True)
        except TelegramError as exc:  # no right to pin in this group: the message still works
            log.info("could not pin the status message: %s", exc)

    async def deliver_finished(self, view: RunView, chat_id: int, again: bool = False) -> None:
        if not again and not await self.ui.claim(f"finished:{view.run_id}"):
            return
        state = await self.engine.state(view.run_id)
        final = state.get("final_video") or {}
        video = final.get("local_path") or (state.get("selected_video_data") or {}).get("local_path")
        title = state.get("selected_title") or ""
        description = state.get("selected_description") or {}
        body = " ".join(str(description.get(k, "")) for k in ("text", "emojis") if description.get(k))
        tags = " ".join(description.get("hashtags") or [])
        caption = "\n\n".join(p for p in (f"<b>{render.esc(title)}</b>" if title else "", render.esc(body),
                                          render.esc(tags)) if p)
        short, rest = render.fit_caption(caption)
        if video and Path(video).is_file():
            await self.chat_action(chat_id, ChatAction.UPLOAD_VIDEO, force=True)
            await send_file(self.bot, chat_id, "video", video, caption=short, limit_bytes=self.upload_limit,
                            duration_s=final.get("duration_s"))
        if rest.strip():
            for part in render.split_text(rest):
                await self.bot.send_message(chat_id, part, parse_mode=ParseMode.HTML)
        buttons = [[Button("🎬 Make another", callbacks.encode("new", view.run_id, "", self.secret))]]
        summary = state.get("summary_file_path")
        if summary and Path(summary).is_file():
            buttons.insert(0, [Button("📄 Summary as a file", callbacks.encode("hist", view.run_id, "summary",
                                                                              self.secret))])
        await self.bot.send_message(chat_id, "✨ Done! Your video is ready to post.", reply_markup=markup(buttons))

    # ---------------------------------------------------------- callbacks
    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        user_id = update.effective_user.id
        data = callbacks.decode(query.data or "", self.secret)
        if data is None:
            await self.answer(query, "This button is not valid.")
            self._answered.discard(query.id)
            return
        lock = self.lock_for(user_id)
        if lock.locked():  # still busy with this person's last tap or a delivery: stop the spinner now
            await self.answer(query, None)
        async with lock:
            try:
                await self.handle_callback(update, data)
            except StaleInteraction:
                await self.answer(query, "This choice is no longer open.")
            except (InvalidResponse, EngineError) as exc:
                await self.answer(query, str(exc)[:190], alert=True)
            finally:
                await self.answer(query, None)  # every callback query is answered, once
                self._answered.discard(query.id)

    async def answer(self, query: Any, text: str | None, alert: bool = False) -> None:
        if query.id in self._answered:
            return
        self._answered.add(query.id)
        try:
            await query.answer(text, show_alert=alert)
        except BadRequest:
            pass  # too old to answer: nothing to do
        except TelegramError as exc:  # a 5xx or a network error: the spinner stays, the tap still counts
            log.warning("could not answer a button tap: %s", exc)

    async def handle_callback(self, update: Update, data: callbacks.CallbackData) -> None:
        query = update.callback_query
        user_id, chat_id = update.effective_user.id, update.effective_chat.id
        owner = owner_of(user_id)
        if data.action == "new":
            force = not data.matches("menu")  # "Start over" / "Make another" name a run
            if force:
                active = await self.engine.active_run(owner)
                if active is not None and not data.matches(active.run_id):  # never stop a run it did not name
                    await self.answer(query, "This choice is no longer open.")
                    return
            await self.answer(query, None)
            await self.start_new(user_id, chat_id, force=force)
            return
        if data.action == "hist":
            await self.resend_history(query, owner, chat_id, data)
            return
        view = await self.engine.active_run(owner)
        if data.action == "resume":
            if view is None:
                await self.answer(query, "No video in progress: /new starts one.")
                return
            await self.answer(query, None)
            if data.matches("retry") and view.pending is None:
                view = await self.engine.retry_failed(view.run_id, owner, data.arg or None)
            await self.present(view, resend_contents=True)
            return
        req = view.pending if view else None
        if req is None or not data.matches(req.interaction_id):
            if await self.belongs_to_someone_else(chat_id, owner, data):
                await self.answer(query, "Only the person who started this video can use its buttons.")
            else:
                await self.answer(query, "This choice is no longer open.")
            return
        await self.dispatch(query, view, req, data)

    async def belongs_to_someone_else(self, chat_id: int, owner: str, data: callbacks.CallbackData) -> bool:
        for run_id, run_owner in await self.ui.runs_in_chat(chat_id):
            if run_owner == owner:
                continue
            try:
                other = await self.engine.get_run(run_id)
            except EngineError:
                continue
            if other.pending and data.matches(other.pending.interaction_id):
                return True
        return False

    async def dispatch(self, query: Any, view: RunView, req: InteractionRequest, data: callbacks.CallbackData) -> None:
        disp = req.display_data
        iid = req.interaction_id
        owner = view.owner
        action = data.action
        if action == "pick" and isinstance(disp, SelectDisplay):
            index = (data.int_args() or [-1])[0]
            await self.answer(query, None)
            await self.respond(view, InteractionResponse(
                interaction_id=iid, selected_indices=render.selection_indices(req, [index])))
        elif action == "toggle" and isinstance(disp, SelectDisplay):
            index = (data.int_args() or [-1])[0]
            items = render.selectable_items(disp.data, disp.display_schema)
            if not 0 <= index < len(items):
                raise InvalidResponse("That option does not exist.")
            chosen = set(await self.ui.get(f"chosen:{iid}", []))
            chosen ^= {index}
            if disp.max_selections is not None and len(chosen) > disp.max_selections:
                await self.answer(query, f"You can pick at most {disp.max_selections}.", alert=True)
                return
            await self.ui.put(f"chosen:{iid}", sorted(chosen))
            await self.answer(query, None)
            await self.redraw(query, req, chosen=chosen)
        elif action == "confirm" and isinstance(disp, SelectDisplay):
            chosen = set(await self.ui.get(f"chosen:{iid}", []))
            if disp.mode == "review":
                response = InteractionResponse(interaction_id=iid, selected_indices=[])
            else:
                low, high = disp.min_selections, disp.max_selections
                if len(chosen) < low or (high is not None and len(chosen) > high):
                    want = f"between {low} and {high}" if high is not None else f"at least {low}"
                    await self.answer(query, f"Please pick {want} (you have {len(chosen)}).", alert=True)
                    return
                response = InteractionResponse(interaction_id=iid, selected_indices=render.selection_indices(req, chosen))
            await self.answer(query, None)
            await self.respond(view, response)
        elif action == "opt":
            await self.take_option(query, view, req, data)
        elif action in ("text-default", "skip") and isinstance(disp, TextInputDisplay):
            await self.answer(query, None)
            value = disp.default_value if action == "text-default" else ""
            await self.respond(view, InteractionResponse(interaction_id=iid, value=value))
        elif action == "param" and isinstance(disp, MediaDisplay):
            args = data.int_args() or []
            if len(args) < 2 or not 0 <= args[0] < len(disp.panels):
                raise InvalidResponse("That setting does not exist.")
            params = await self.ui.get(f"params:{iid}", {})
            panel = disp.panels[args[0]]
            value_index = args[2] if len(args) > 2 else None
            params[panel.prompt_key] = render.next_param_choice(panel, args[1], params.get(panel.prompt_key), value_index)
            await self.ui.put(f"params:{iid}", params)
            await self.answer(query, None)
            await self.redraw(query, req, params=params)
        elif action == "gen" and isinstance(disp, MediaDisplay):
            await self.generate(query, view, req, data)
        elif action == "choose" and isinstance(disp, MediaDisplay):
            match = next((c for c in render.generated_contents(disp) if c.key == data.arg), None)
            if match is None:
                raise InvalidResponse("That result is not available.")
            await self.answer(query, f"Picked #{match.number}")
            await self.respond(view, InteractionResponse(interaction_id=iid, selected_content_id=match.content_id))
        elif action == "page" and isinstance(disp, SelectDisplay):
            page = (data.int_args() or [0])[0]
            await self.answer(query, None)
            last = render.render_select(req, set(await self.ui.get(f"chosen:{iid}", [])), self.secret, page=page)[-1]
            try:
                await query.edit_message_text(last.text, parse_mode=last.parse_mode, reply_markup=markup(last.buttons))
            except BadRequest as exc:
                if "not modified" not in str(exc).lower():
                    raise
        elif action == "cancel":
            await self.ui.delete(f"feedback:{owner}")
            await self.answer(query, "OK")
        else:
            await self.answer(query, "This button does nothing here.")

    async def take_option(self, query: Any, view: RunView, req: InteractionRequest, data: callbacks.CallbackData) -> None:
        disp = req.display_data
        retryable = getattr(disp, "retryable", None)
        args = data.args()
        index = int(args[0]) if args and args[0].isdigit() else -1
        if retryable is None or not 0 <= index < len(retryable.options):
            raise InvalidResponse("That option does not exist.")
        option = retryable.options[index]
        iid = req.interaction_id
        if option.mode == "continue":
            await self.answer(query, None)
            await self.respond(view, InteractionResponse(interaction_id=iid, selected_indices=[]))
        elif option.mode == "jump":
            await self.answer(query, "Going back…")
            await self.respond(view, InteractionResponse(interaction_id=iid, jump_back_requested=True,
                                                         jump_back_target=option.id))
        elif option.feedback and option.feedback.enabled and (len(args) < 2 or args[1] != "d"):
            await self.answer(query, None)
            await self.ui.put(f"feedback:{view.owner}", {"run_id": view.run_id, "interaction_id": iid,
                                                         "option_id": option.id})
            default = option.feedback.default_message
            await self.bot.send_message(
                query.message.chat_id, f"🔄 {render.esc(option.feedback.prompt)}\nReply with a few words.",
                parse_mode=ParseMode.HTML,
                reply_markup=ForceReply(selective=True, input_field_placeholder=render.shorten(default, 60) or None))
            if default:
                buttons = [[Button(render.shorten(f"Just: {default}", 56),
                                   callbacks.encode("opt", iid, f"{index}.d", self.secret))]]
                await self.bot.send_message(query.message.chat_id, "…or use the default:", reply_markup=markup(buttons))
        else:
            await self.answer(query, "Making a new version…")
            await self.ui.delete(f"feedback:{view.owner}")
            await self.respond(view, InteractionResponse(interaction_id=iid, retry_requested=True,
                                                         retry_option_id=option.id))

    async def generate(self, query: Any, view: RunView, req: InteractionRequest, data: callbacks.CallbackData) -> None:
        disp = req.display_data
        assert isinstance(disp, MediaDisplay)
        args = data.args()
        index = int(args[0]) if args and args[0].isdigit() else -1
        if not 0 <= index < len(disp.panels):
            raise InvalidResponse("That provider does not exist.")
        panel = disp.panels[index]
        params = (await self.ui.get(f"params:{req.interaction_id}", {})).get(panel.prompt_key, {})
        effective = render.panel_params(panel, params)
        if len(args) > 1 and args[1] != render.params_signature(effective):
            raise InvalidResponse("The settings changed: please tap Generate again.")
        changed = {k: v for k, v in params.items() if k in {f.name for f in panel.fields}}
        # the message id + button make the idempotency key: a double tap is one job
        key = f"{query.message.message_id}:{data.arg}"
        job = await self.engine.start_sub_action(view.run_id, SubActionRequest(
            interaction_id=req.interaction_id, prompt_key=panel.prompt_key, params=changed, request_key=key), view.owner)
        if job.status == "completed":  # a replayed tap on a finished job: nothing new is made or paid
            await self.answer(query, "Already made: the results are above.")
        else:
            await self.answer(query, f"Started {panel.label} ({job.cost})")
        if await self.ui.claim(f"progress:{job.job_id}", None):
            message = await self.bot.send_message(
                query.message.chat_id, render.render_job_progress(job, panel.label), parse_mode=ParseMode.HTML)
            await self.ui.put(f"progress:{job.job_id}", message.message_id)
        await self.chat_action(query.message.chat_id, self.action_for(job.action_type), force=True)

    @staticmethod
    def action_for(action_type: str) -> str:
        return {"img2vid": ChatAction.UPLOAD_VIDEO, "txt2img": ChatAction.UPLOAD_PHOTO,
                "txt2audio": ChatAction.UPLOAD_VOICE}.get(action_type, ChatAction.TYPING)

    async def redraw(self, query: Any, req: InteractionRequest, *, chosen: set[int] | None = None,
                     params: dict[str, Any] | None = None) -> None:
        """Edit the keyboard message in place (multi-select ticks, media settings)."""
        if chosen is None:
            chosen = set(await self.ui.get(f"chosen:{req.interaction_id}", []))
        if params is None:
            params = await self.ui.get(f"params:{req.interaction_id}", {})
        last = render.render_request(req, self.secret, chosen=chosen, param_choices=params)[-1]
        try:
            await query.edit_message_text(last.text, parse_mode=last.parse_mode, reply_markup=markup(last.buttons))
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise

    async def respond(self, view: RunView, response: InteractionResponse) -> None:
        # "typing…" only when the answer takes a while (an LLM call): most steps answer in
        # milliseconds, and every chat action spends the bot-wide rate limit
        typing = asyncio.create_task(self.typing_after(await self.ui.chat_of(view.run_id) or 0, TYPING_AFTER_S))
        try:
            new_view = await self.engine.respond(view.run_id, response, view.owner)
        finally:
            typing.cancel()
        await self.ui.delete(f"feedback:{view.owner}")
        await self.present(new_view)

    async def resend_history(self, query: Any, owner: str, chat_id: int, data: callbacks.CallbackData) -> None:
        for view in await self.engine.list_runs(owner, "completed", limit=50):
            if data.matches(view.run_id):
                summary = (await self.engine.state(view.run_id)).get("summary_file_path")
                if data.arg == "summary" and summary and Path(summary).is_file():
                    await self.answer(query, None)
                    await send_file(self.bot, chat_id, "document", summary,
                                    caption="Everything you picked, ready to copy.", limit_bytes=self.upload_limit)
                    return
                await self.answer(query, "Sending it again…")
                await self.deliver_finished(view, chat_id, again=True)
                return
        await self.answer(query, "That video is no longer available.")

    # -------------------------------------------------------------- text
    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user_id = update.effective_user.id
        owner = owner_of(user_id)
        text = update.effective_message.text or ""
        async with self.lock_for(user_id):
            view = await self.engine.active_run(owner)
            if view is None:
                await update.effective_chat.send_message("No video in progress. /new starts one.")
                return
            req = view.pending
            feedback = await self.ui.get(f"feedback:{owner}")
            if req is not None and feedback and feedback.get("interaction_id") == req.interaction_id:
                if len(text) > FEEDBACK_LIMIT:
                    await update.effective_message.reply_text(
                        f"That is {len(text)} characters; please keep it under {FEEDBACK_LIMIT}.",
                        reply_markup=ForceReply(selective=True))
                    return
                await self.respond(view, InteractionResponse(interaction_id=req.interaction_id, retry_requested=True,
                                                             retry_feedback=text, retry_option_id=feedback["option_id"]))
                return
            if req is not None and isinstance(req.display_data, TextInputDisplay):
                try:
                    await self.respond(view, InteractionResponse(interaction_id=req.interaction_id, value=text))
                except InvalidResponse as exc:
                    reason = str(exc)
                    await update.effective_message.reply_text(
                        f"⚠️ {reason[:1].upper()}{reason[1:]}. Please send your answer again.",
                        reply_markup=ForceReply(selective=True))
                return
            await self.hint(update, view)

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        owner = owner_of(update.effective_user.id)
        async with self.lock_for(update.effective_user.id):
            view = await self.engine.active_run(owner)
            if view is None:
                await update.effective_chat.send_message("I only understand buttons and text. /new starts a video.")
                return
            feedback = await self.ui.get(f"feedback:{owner}")
            if view.pending and feedback and feedback.get("interaction_id") == view.pending.interaction_id:
                await update.effective_chat.send_message(  # a feedback prompt is open: it wants words
                    "✏️ Please type what should be different, as a text message.",
                    reply_markup=ForceReply(selective=True))
                return
            await self.hint(update, view)

    async def hint(self, update: Update, view: RunView) -> None:
        if view.pending is not None and isinstance(view.pending.display_data, TextInputDisplay):
            text = "✏️ Please type your answer as a text message. Here is the question again:"
        else:
            text = "👆 Please use the buttons for this step. Here it is again:"
        await update.effective_chat.send_message(text)
        await self.present(view)

    # ------------------------------------------------------- engine events
    async def on_engine_event(self, event: EngineEvent) -> None:
        if self.app is None:
            return
        chat_id = await self.ui.chat_of(event.run_id)
        if chat_id is None:
            return
        try:
            if event.type == "job_progress":
                await self.show_progress(chat_id, event)
            elif event.type == "module_progress":
                await self.show_module_progress(chat_id, event)
            elif event.type in ("job_completed", "job_failed"):
                await self.job_finished(chat_id, event)
        except TelegramError as exc:
            log.warning("could not show %s for run %s: %s", event.type, event.run_id, exc)
            if event.type in ("job_completed", "job_failed") and not isinstance(exc, Forbidden):
                try:  # the person would otherwise wait for results that never come
                    await self.bot.send_message(chat_id, SORRY)
                except TelegramError:
                    pass

    async def show_progress(self, chat_id: int, event: EngineEvent) -> None:
        job_id = event.data["job_id"]
        await self.chat_action(chat_id, ChatAction.UPLOAD_VIDEO if event.data.get("provider") else ChatAction.TYPING)
        now = time.monotonic()
        if now - self._last_progress_edit.get(job_id, 0) < PROGRESS_EDIT_EVERY_S:
            return
        self._last_progress_edit[job_id] = now
        message_id = await self.ui.get(f"progress:{job_id}")
        view = await self.engine.get_run(event.run_id)
        job = next((j for j in (view.pending.display_data.jobs if view.pending and isinstance(
            view.pending.display_data, MediaDisplay) else []) if j.job_id == job_id), None)
        if job is None or not isinstance(message_id, int):
            return
        try:
            await self.bot.edit_message_text(render.render_job_progress(job), chat_id, message_id,
                                             parse_mode=ParseMode.HTML)
        except BadRequest:
            pass

    async def show_module_progress(self, chat_id: int, event: EngineEvent) -> None:
        """A long module (the final render) edits one progress message as it goes."""
        key = f"{event.run_id}:{event.data.get('module')}"
        now = time.monotonic()
        percent = float(event.data.get("progress") or 0)
        if 0 < percent < 100 and now - self._last_progress_edit.get(key, 0) < PROGRESS_EDIT_EVERY_S:
            return
        self._last_progress_edit[key] = now
        await self.chat_action(chat_id, ChatAction.UPLOAD_VIDEO)
        text = f"🎬 {render.esc(event.data.get('message') or 'Working')}… {percent:.0f}%"
        message_id = self._module_progress_messages.get(key)
        if message_id is None:
            message = await self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, disable_notification=True)
            self._module_progress_messages[key] = message.message_id
            self._module_progress_texts[key] = text
            return
        if self._module_progress_texts.get(key) != text:  # 99.6% and 100% both read "100%": one edit
            try:
                await self.bot.edit_message_text(text, chat_id, message_id, parse_mode=ParseMode.HTML)
            except BadRequest:
                pass
            self._module_progress_texts[key] = text
        if percent >= 100:
            self._module_progress_messages.pop(key, None)
            self._module_progress_texts.pop(key, None)

    async def job_finished(self, chat_id: int, event: EngineEvent) -> None:
        owner = event.owner
        user_lock = self._user_locks[owner]
        async with user_lock:
            view = await self.engine.get_run(event.run_id)
            if event.type == "job_failed":
                if not await self.ui.claim(f"failed:{event.data['job_id']}"):
                    return
                error = render.esc(event.data.get("error") or "The provider could not make this one.")
                await self.bot.send_message(chat_id, f"⚠️ {error}", parse_mode=ParseMode.HTML)
            if view.status.value == "active" and view.pending and isinstance(view.pending.display_data, MediaDisplay):
                if not await self.ui.claim(f"shown:{event.data['job_id']}"):
                    return
                await self.finish_progress(chat_id, view.pending, event.data["job_id"])
                await self.present(view)  # new files once, then the controls with Pick buttons

    async def finish_progress(self, chat_id: int, req: InteractionRequest, job_id: str) -> None:
        """The job's "⏳ queued…" line becomes "✅ done" (or the failure): progress
        events stop before the end, so nothing else would ever update it."""
        message_id = await self.ui.get(f"progress:{job_id}")
        disp = req.display_data
        job = next((j for j in disp.jobs if j.job_id == job_id), None) if isinstance(disp, MediaDisplay) else None
        if job is None or not isinstance(message_id, int):
            return
        label = next((p.label for p in disp.panels if p.prompt_key == job.prompt_key), None)
        try:
            await self.bot.edit_message_text(render.render_job_progress(job, label), chat_id, message_id,
                                             parse_mode=ParseMode.HTML)
        except BadRequest:
            pass  # already says so, or the message is gone

    async def typing_after(self, chat_id: int, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await self.chat_action(chat_id, ChatAction.TYPING, force=True)

    async def chat_action(self, chat_id: int, action: str, force: bool = False) -> None:
        if not chat_id:
            return
        now = time.monotonic()
        if not force and now - self._last_chat_action.get(chat_id, 0) < CHAT_ACTION_EVERY_S:
            return
        self._last_chat_action[chat_id] = now
        try:
            await self.bot.send_chat_action(chat_id, action)
        except TelegramError:
            pass

    # ------------------------------------------------------------ errors
    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("update failed: %s", context.error, exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat and not isinstance(context.error, Forbidden):
            try:
                await update.effective_chat.send_message(SORRY)
            except TelegramError:
                pass


def limit_malloc_arenas(arenas: int = 1) -> None:
    """glibc gives threads their own malloc arenas, and an arena keeps its
    high-water mark: each worker thread that once drew an offline picture
    (~90 MB while drawn) kept ~90 MB resident. One arena keeps the bot near
    its real use (measured: 30 people at once, 313 -> ~185 MB peak RSS).
    Best called before threads start; a no-op off glibc."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def build_application(settings: Settings, engine: Engine, ui: UIStore) -> tuple[Application, CCBot]:
    if settings.telegram_bot_token is None:
        raise SystemExit("TELEGRAM_BOT_TOKEN is not set: get one from @BotFather (see README).")
    limit_malloc_arenas()
    bot = CCBot(engine, ui, settings)
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .rate_limiter(AIORateLimiter(max_retries=5))
        .concurrent_updates(64)
        .media_write_timeout(300)
        .read_timeout(30)
        .post_init(bot.post_init)
    )
    if settings.telegram_api_base_url:
        builder = builder.base_url(settings.telegram_api_base_url)
    if settings.telegram_api_file_url:
        builder = builder.base_file_url(settings.telegram_api_file_url)
    if settings.telegram_local_mode:
        builder = builder.local_mode(True)
    app = builder.build()
    bot.install(app)
    return app, bot


def run_bot(settings: Settings, webhook: bool = False) -> int:
    from bot.cli import open_engine

    limit_malloc_arenas()  # before the engine's threads start

    if settings.telegram_bot_token is None:
        print("TELEGRAM_BOT_TOKEN is not set: get one from @BotFather (see README). "
              "`ccbot demo` runs the workflow without Telegram.")
        return 2
    if not settings.allowed_user_ids:
        log.warning("CCBOT_ALLOWED_USERS is empty: everyone is refused (and told their user id)")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    engine = loop.run_until_complete(open_engine(settings))
    ui = loop.run_until_complete(UIStore.open(settings.db_path))
    app, _ = build_application(settings, engine, ui)
    try:
        if webhook:
            if not settings.webhook_url:
                print("--webhook needs WEBHOOK_URL (the public https address Telegram posts to).")
                return 2
            app.run_webhook(
                listen=settings.webhook_listen,
                port=settings.webhook_port,
                url_path="telegram",
                webhook_url=settings.webhook_url,
                secret_token=settings.webhook_secret.get_secret_value() if settings.webhook_secret else None,
                close_loop=False,
            )
        else:
            app.run_polling(close_loop=False)
    finally:
        loop.run_until_complete(engine.close())
        loop.run_until_complete(ui.close())
        loop.close()
    return 0
