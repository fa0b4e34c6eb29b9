"""Start-up wiring: settings -> logging -> store -> engine -> front end.
`cli.py` only parses the command line and calls these."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import sys
from pathlib import Path

from engine.api import Engine
from engine.settings import Settings

log = logging.getLogger(__name__)


def configure_logging(settings: Settings, quiet: bool = False) -> None:
    level = logging.ERROR if quiet else getattr(logging, settings.ccbot_log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2", "aiosqlite", "telegram.ext.Updater"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def limit_malloc_arenas(arenas: int = 1) -> None:
    """glibc gives threads their own malloc arenas, and an arena keeps its
    high-water mark: each worker thread that once drew an offline picture
    (~90 MB while drawn) kept ~90 MB resident. One arena keeps the bot near
    its real use. Best called before threads start; a no-op off glibc."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


async def open_engine(settings: Settings, workflow: Path | None = None) -> Engine:
    """The engine on the configured providers, store and workflows."""
    from engine.catalogue import discover_workflows
    from engine.providers.live import build_registry

    registry = build_registry(settings)
    registry.log_summary()
    folders = [workflow] if workflow else None
    if folders is None and settings.ccbot_workflows_dir:
        folders = discover_workflows(settings.ccbot_workflows_dir)
    return await Engine.open(db_path=settings.db_path, media_root=settings.media_root, providers=registry,
                             workflow_dirs=folders, budget_usd=settings.ccbot_user_budget_usd,
                             usd_per_credit=settings.ccbot_leonardo_usd_per_credit, settings=settings)


def run_bot(settings: Settings, webhook: bool = False) -> int:
    """`ccbot run`: the Telegram bot, by long polling or webhook, until stopped."""
    from bot.telegram.app import build_application

    limit_malloc_arenas()  # before the engine's threads start
    if settings.telegram_bot_token is None:
        print("TELEGRAM_BOT_TOKEN is not set: get one from @BotFather (see README). "
              "`ccbot demo` runs the workflow without Telegram.")
        return 2
    if webhook and not settings.webhook_url:
        print("--webhook needs WEBHOOK_URL (the public https address Telegram posts to).")
        return 2
    if not settings.allowed_user_ids:
        log.warning("CCBOT_ALLOWED_USERS is empty: everyone is refused (and told their user id)")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    engine = loop.run_until_complete(open_engine(settings))
    app, _ = build_application(settings, engine)
    try:
        if webhook:
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
        loop.close()
    return 0
