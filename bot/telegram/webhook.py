"""Webhooks for one or several identical bot processes behind one URL.

Any process may get any update. Each update is handled inside the person's
lock (shared across processes on PostgreSQL) and answered 200 only once it
was handled. The lock keeps one person's updates apart, their order comes from
Telegram: the Bot API server posts one chat's updates one at a time (the next
once the one before it was answered 200 or given up), so answering only once
handled keeps them in order across processes. It also means that an update
whose process died mid-way is delivered again by Telegram to another one. An
update id already handled (a redelivery) is answered 200 and not handled twice.

An update whose handling began and never ended (`update-begun:` claimed, not
`update:`) was cut short by its process's death, somewhere: it is handled
again with CUT_SHORT set (a tap is not answered twice; the engine ignores an
answer it already has), then the person's chat is caught up with what the
dead process did not show.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import tornado.httpserver
import tornado.web
from telegram import Update
from telegram.ext import Application

from bot.telegram.ccbot import CCBot
from bot.telegram.tap import CUT_SHORT, owner_of

log = logging.getLogger(__name__)

PATH = "/telegram"
MAX_BODY = 1_000_000  # an update is a few kB


class Inbox:
    """What the route does with one update: dedupe, the person's lock, handling."""

    def __init__(self, bot: CCBot, app: Application,
                 catch_up: Callable[[int], Awaitable[None]] | None = None) -> None:
        self.bot = bot
        self.app = app
        self.catch_up = catch_up  # (user id): show the person what a dead process did not

    async def handle(self, data: dict[str, Any]) -> None:
        update = Update.de_json(data, self.app.bot)
        store = self.bot.engine.services.store
        done = f"update:{update.update_id}"
        user = update.effective_user
        if user is None:
            await self.app.process_update(update)
            return
        async with self.bot.locks.hold(owner_of(user.id)):
            if await store.claimed(done):
                log.info("update %s came again: already handled", update.update_id)
                return
            cut_short = not (await store.claim([f"update-begun:{update.update_id}"]))[0]
            if cut_short:
                log.warning("update %s came again after its handling was cut short: handled again",
                            update.update_id)
            token = CUT_SHORT.set(cut_short)
            try:
                await self.app.process_update(update)
                if cut_short and self.catch_up is not None:
                    await self.catch_up(user.id)
            finally:
                CUT_SHORT.reset(token)
            await store.claim([done])


class _Route(tornado.web.RequestHandler):
    def initialize(self, inbox: Inbox, secret: str | None) -> None:
        self.inbox = inbox
        self.secret = secret

    async def post(self) -> None:
        given = self.request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if self.secret and not hmac.compare_digest(given, self.secret):
            self.set_status(403)
            return
        if len(self.request.body) > MAX_BODY:
            self.set_status(413)
            return
        try:
            data = json.loads(self.request.body)
        except ValueError:
            self.set_status(400)
            return
        await self.inbox.handle(data)  # errors inside go to the bot's error handler, not here
        self.set_status(200)


class WebhookServer:
    def __init__(self, bot: CCBot, app: Application, secret: str | None,
                 catch_up: Callable[[int], Awaitable[None]] | None = None) -> None:
        self.inbox = Inbox(bot, app, catch_up)
        self.secret = secret
        self._server: tornado.httpserver.HTTPServer | None = None

    def start(self, listen: str, port: int) -> None:
        routes = tornado.web.Application([(PATH, _Route, {"inbox": self.inbox, "secret": self.secret})])
        self._server = tornado.httpserver.HTTPServer(routes, max_body_size=MAX_BODY)
        self._server.listen(port, address=listen)
        log.info("webhook listening on %s:%d%s", listen, port, PATH)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
