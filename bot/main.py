"""Start-up wiring: settings -> logging -> store -> engine -> front end.
`cli.py` only parses the command line and calls these."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import signal
import sys
from pathlib import Path

from engine.api import Engine
from engine.settings import Settings
from engine.store import open_store

log = logging.getLogger(__name__)


def configure_logging(settings: Settings, quiet: bool = False) -> None:
    level = logging.ERROR if quiet else getattr(logging, settings.ccbot_log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2", "aiosqlite", "telegram.ext.Updater"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # mallopt's parameter numbers (malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, kept fixed


def tune_malloc(arenas: int = 1, mmap_threshold: int = MMAP_THRESHOLD) -> None:
    """Keep glibc malloc from holding on to memory the bot no longer uses. A no-op off glibc;
    best called before threads start.

    - Arenas: glibc gives threads their own, and an arena keeps its high-water mark: each
      worker thread that once drew an offline picture (~90 MB while drawn) kept ~90 MB
      resident. One arena keeps the bot near its real use.
    - Large blocks: glibc raises its mmap threshold to the largest block freed so far, so
      after the first 2 MB picture or base64 answer, later ones came from the heap, where
      freed they stayed resident (~30 MB for 30 people after the picture step). A fixed
      threshold maps every large block on its own and gives it back when freed."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_ARENA_MAX, arenas)
        libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
    except (OSError, AttributeError):
        pass


def freeze_start_up_heap() -> None:
    """Everything made while starting (modules, the SDKs' models, the workflows, the
    engine) lives as long as the process: out of the collector's sight, so that a full
    collection walks only what came after. Each one walked all of it, stopping the event
    loop ~100 ms at a time (4 times in a 30-person bot_load run)."""
    gc.collect()
    gc.freeze()


SWITCH_INTERVAL_S = 0.001


def favour_the_event_loop() -> None:
    """The event loop shares the GIL with worker threads (SQLite's, the image worker's,
    file writes): when one of them holds it, the loop waits until the interpreter's switch
    interval has passed, 5 ms by default. At 1 ms a tap's answer waits less behind them:
    bot_load at 30 people, two runs each, alternated: p95 7 and 7 ms against 9 and 8 ms,
    the worst first reaction 24 and 18 ms against 35 and 36 ms."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


async def open_engine(settings: Settings, workflow: Path | None = None) -> Engine:
    """The engine on the configured providers, store and workflows."""
    from engine.catalogue import discover_workflows
    from engine.providers.live import build_registry
    from engine.services import FetchPolicy

    registry = build_registry(settings)
    registry.log_summary()
    folders = [workflow] if workflow else None
    if folders is None and settings.ccbot_workflows_dir:
        folders = discover_workflows(settings.ccbot_workflows_dir)
    fetch = FetchPolicy(settings.fetch_allowed_hosts, settings.ccbot_fetch_timeout_s, settings.ccbot_fetch_max_bytes)
    store = await open_store(settings.database)
    try:
        return await Engine.open(store=store, media_root=settings.media_root, providers=registry,
                                 workflow_dirs=folders, budget_usd=settings.ccbot_user_budget_usd,
                                 usd_per_credit=settings.ccbot_leonardo_usd_per_credit, fetch_policy=fetch,
                                 settings=settings)
    except BaseException:  # e.g. a workflow with problems: the store is not left open behind it
        await store.close()
        raise


def run_bot(settings: Settings, webhook: bool = False) -> int:
    """`ccbot run`: the Telegram bot, by long polling or webhook, until stopped."""
    from bot.telegram.app import build_application

    tune_malloc()  # before the engine's threads start
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
    try:
        engine = loop.run_until_complete(open_engine(settings))
    except BaseException:  # e.g. a workflow with problems: the caller says which
        loop.close()
        raise
    freeze_start_up_heap()
    favour_the_event_loop()
    try:
        if webhook:
            loop.run_until_complete(serve_webhook(settings, engine))
        else:
            app, _ = build_application(settings, engine)
            app.run_polling(close_loop=False)
    finally:
        loop.run_until_complete(engine.close())
        loop.close()
    return 0


def run_worker(settings: Settings) -> int:
    """`ccbot worker`: runs the generation jobs and final renders that bot processes
    (CCBOT_ROLE=bot) enqueue, until SIGTERM or Ctrl-C. Needs CCBOT_JOBS=dbos and the
    bots' PostgreSQL; several workers share the queues and take over a dead one's work."""
    if settings.ccbot_jobs != "dbos":
        print("ccbot worker needs CCBOT_JOBS=dbos (with the task runner each bot runs its own jobs).")
        return 2
    settings = settings.model_copy(update={"ccbot_role": "worker"})
    tune_malloc()

    async def serve() -> None:
        engine = await open_engine(settings)
        freeze_start_up_heap()
        favour_the_event_loop()
        try:
            await serve_worker(engine)
        finally:
            await engine.close()

    asyncio.run(serve())
    return 0


async def serve_worker(engine: Engine) -> None:
    """A worker's life on an open engine (the caller closes it): jobs and renders until
    SIGTERM or Ctrl-C; an error of the work itself is raised."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    work = asyncio.create_task(engine.serve_forever(), name="worker")
    log.info("worker %s: running jobs and renders", engine.durable.config.executor_id if engine.durable else "?")
    try:
        await asyncio.wait([work, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    finally:
        work.cancel()
    if work.done() and not work.cancelled() and work.exception() is not None:
        raise work.exception()  # type: ignore[misc]


async def serve_webhook(settings: Settings, engine: Engine) -> None:
    """One of possibly several identical processes behind one URL: our own route
    answers Telegram only once an update was handled (bot/telegram/webhook.py)."""
    from bot.telegram.app import build_application
    from bot.telegram.webhook import WebhookServer

    app, front = build_application(settings, engine, updater=None)
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await app.initialize()
    await front.post_init(app)
    await app.start()
    server = WebhookServer(front.bot, app, secret, front.catch_up_person)
    server.start(settings.webhook_listen, settings.webhook_port)
    assert settings.webhook_url
    await front.bot.outbox.set_webhook(settings.webhook_url, secret)
    try:
        await stop.wait()
    finally:
        await server.stop()
        await front.post_stop(app)
        await app.stop()
        await app.shutdown()
