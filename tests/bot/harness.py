"""The real bot (python-telegram-bot Application over real HTTP) against the
fake Bot API server, with the engine on offline providers and a temp SQLite."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from telegram.ext import Application

from bot.telegram.app import TelegramFront, build_application
from engine.providers.base import (
    Cost,
    FetchedFile,
    GenerationRequest,
    JobStatus,
    LLMProvider,
    LLMRequest,
    LLMResult,
    MediaProvider,
    SubmitResult,
)
from engine.providers.registry import ProviderRegistry, offline_registry
from engine.api import Engine
from engine.settings import Settings
from tests.databases import store_for
from tests.fakes.telegram_server import FakeTelegramServer

ROOT = Path(__file__).resolve().parents[2]
CC = ROOT / "workflows" / "cc"
ALICE, BOB, MALLORY = 1001, 1002, 6666
NO_PHOTO = "No photo: imagine a pet"  # the CC workflow's first question: your own pet's photo, or not
GROUP = -4242  # a group chat both ALICE and BOB are in


# ------------------------------------------------------------------ providers


class RecordingLLM(LLMProvider):
    """Wraps an LLM: every request is kept (to see what reached the model)."""

    def __init__(self, inner: LLMProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.live = inner.live
        self.requests: list[LLMRequest] = []

    async def complete(self, request: LLMRequest) -> LLMResult:
        self.requests.append(request)
        return await self.inner.complete(request)

    def user_texts(self, request: LLMRequest | None = None) -> list[str]:
        """The user-role texts of one request (default: the last)."""
        request = request or self.requests[-1]
        return [m.text or "" for m in request.messages if m.role == "user"]


class CountingMedia(MediaProvider):
    """Wraps a media provider and counts submit/poll/fetch calls (shared `counts`
    survive a bot restart when the same dict is passed to both registries)."""

    def __init__(self, inner: MediaProvider, counts: dict[str, int]) -> None:
        self.inner = inner
        self.counts = counts
        self.name = inner.name
        self.live = inner.live
        self.actions = inner.actions
        self.poll_interval_s = inner.poll_interval_s
        self.timeout_s = inner.timeout_s
        self.price: Cost | None = None  # a list price, as a paid provider would quote

    def estimate_cost(self, request: GenerationRequest) -> Cost:
        return self.price if self.price is not None else self.inner.estimate_cost(request)

    def validate(self, request: GenerationRequest) -> None:
        self.inner.validate(request)

    async def submit(self, request: GenerationRequest, out_dir: Path) -> SubmitResult:
        self.counts["submit"] = self.counts.get("submit", 0) + 1
        by_action = f"submit:{request.action_type}"
        self.counts[by_action] = self.counts.get(by_action, 0) + 1
        return await self.inner.submit(request, out_dir)

    async def poll(self, job_id: str, provider_data: dict[str, Any]) -> JobStatus:
        self.counts["poll"] = self.counts.get("poll", 0) + 1
        return await self.inner.poll(job_id, provider_data)

    async def fetch(self, job_id: str, status: JobStatus, out_dir: Path) -> list[FetchedFile]:
        self.counts["fetch"] = self.counts.get("fetch", 0) + 1
        return await self.inner.fetch(job_id, status, out_dir)

    async def cancel(self, job_id: str, provider_data: dict[str, Any]) -> bool:
        return await self.inner.cancel(job_id, provider_data)


@dataclass
class CountingRegistry:
    """offline_registry() with every provider wrapped: `llm.requests` and
    `counts` (submit/poll/fetch over all media providers)."""

    registry: ProviderRegistry
    llm: RecordingLLM
    counts: dict[str, int]

    @property
    def provider_calls(self) -> int:
        return len(self.llm.requests) + sum(self.counts.values())


def counting_registry(delay_s: float = 0.0, *, slow: dict[tuple[str, str], float] | None = None,
                      counts: dict[str, int] | None = None,
                      prices: dict[str, float] | None = None) -> CountingRegistry:
    """Offline providers, counted. `slow` gives single (provider, action) pairs
    their own delay (e.g. a slow video and fast everything else); `prices` gives
    an action type (img2vid, txt2img...) a list price in dollars, as paid providers quote."""
    from engine.providers.offline import OfflineVideoProvider

    registry = offline_registry(delay_s)
    llm = RecordingLLM(registry.llm_default)
    registry.llm_default = llm
    registry.llms = {name: llm for name in registry.llms}
    counts = counts if counts is not None else {}
    for key, impl in list(registry.media_providers.items()):
        if slow and key in slow and isinstance(impl, OfflineVideoProvider):
            impl = OfflineVideoProvider(impl.name, delay_s=slow[key])
        counted = CountingMedia(impl, counts)
        if prices and key[1] in prices:
            counted.price = Cost(usd=prices[key[1]])
        registry.media_providers[key] = counted
    return CountingRegistry(registry, llm, counts)


@dataclass
class BotUnderTest:
    tg: FakeTelegramServer
    engine: Engine
    app: Application
    front: TelegramFront
    data_dir: Path

    async def stop(self) -> None:
        """A clean shutdown (see `kill` for the other kind)."""
        with contextlib.suppress(Exception):
            await self.app.updater.stop()
        with contextlib.suppress(Exception):
            await self.app.stop()
        with contextlib.suppress(Exception):
            await self.app.shutdown()
        await self.engine.close()

    async def kill(self) -> None:
        """As close to SIGKILL as one process allows: the HTTP client is gone
        first (no last answer, no last message, no update confirmed), then every
        task of this bot dies where it stands (handlers, polling, jobs) and the
        database files are closed; nothing is stopped gracefully."""
        app, updater = self.app, self.app.updater
        polling = [t for t in (getattr(updater, "_Updater__polling_task", None),) if t is not None]
        polling += [t for t in asyncio.all_tasks()  # PTB's inner getUpdates task of the polling loop
                    if getattr(t.get_coro(), "__qualname__", "").startswith("Updater._start_polling")]
        for task in polling:
            task.cancel()
        with contextlib.suppress(Exception):
            await app.bot.shutdown()  # closes the HTTP connections: every later request fails
        tasks = polling + [t for t in (getattr(app, "_Application__update_fetcher_task", None),) if t is not None]
        tasks += list(getattr(app, "_Application__create_task_tasks", ()))
        tasks += list(self.engine.jobs.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        updater._Updater__polling_cleanup_cb = None  # type: ignore[attr-defined]  # no last getUpdates
        updater._running = False
        app._running = False
        with contextlib.suppress(Exception):
            await self.engine.services.store.close()

    # -------------------------------------------------------------- state
    def busy(self) -> bool:
        """True while an update waits or is handled, or a generation job runs."""
        if self.tg.pending_updates() or not self.app.update_queue.empty():
            return True
        if any(not t.done() for t in getattr(self.app, "_Application__create_task_tasks", ())):
            return True
        return any(not t.done() for t in self.engine.jobs.tasks.values())

    def bot_calls(self) -> int:
        return len([c for c in self.tg.calls if c.method != "getUpdates"])

    async def run_fingerprint(self, user: int = ALICE) -> tuple[Any, ...]:
        """What a refused tap must not change: the run's event count, status,
        pending interaction and the bot's own bookkeeping."""
        from bot.telegram.tap import owner_of

        view = await self.engine.active_run(owner_of(user))
        if view is None:
            return (None,)
        events = await self.engine.services.store.events(view.run_id)
        run = await self.engine.load(view.run_id)
        jobs = tuple(sorted((j.job_id, j.status) for j in run.jobs.values()))
        names = {view.run_id, view.owner, *(j for j, _ in jobs)}
        if view.pending is not None:
            names.add(view.pending.interaction_id)
        session = await self.engine.services.store.session(view.run_id)
        return (view.run_id, len(events), view.status, view.pending.interaction_id if view.pending else None,
                jobs, session.data if session else None)

    async def assert_all_answered(self, timeout: float = 5.0) -> None:
        """Every callback query ever sent to this server got an answer."""
        try:
            await self.tg.wait_for(lambda: not self.tg.unanswered_callbacks(), timeout)
        except TimeoutError:
            pass
        assert self.tg.unanswered_callbacks() == []

    def texts(self, chat_id: int = ALICE) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.tg.bot_messages(chat_id)]

    async def wait_text(self, needle: str, chat_id: int = ALICE, timeout: float = 10.0) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for message in reversed(self.tg.bot_messages(chat_id)):
                if needle in (message.get("text") or message.get("caption") or ""):
                    return message
            return None

        return await self.tg.wait_for(find, timeout)

    async def wait_button(self, label: str, chat_id: int = ALICE, timeout: float = 10.0) -> None:
        def find() -> bool:
            return any(label in text for m in self.tg.bot_messages(chat_id) for text, _ in self.tg.buttons_of(m))

        await self.tg.wait_for(find, timeout)

    async def press(self, label: str, user: int = ALICE, chat_id: int | None = None, timeout: float = 10.0,
                    settle: bool = True) -> str:
        """Tap the newest button whose label contains `label`; wait for the answer
        (and, with `settle`, until the bot is done with it)."""
        await self.wait_button(label, chat_id if chat_id is not None else user, timeout)
        before = self.bot_calls()
        query_id = self.tg.press(user, label, chat_id=chat_id)
        await self.tg.wait_for(lambda: self.tg.callback_answer(query_id) is not None, timeout)
        if settle:
            await self.settle(before)
        return query_id

    async def say(self, text: str, user: int = ALICE, chat_id: int | None = None, chat_type: str = "private",
                  **kwargs: Any) -> None:
        """Send a message (a command when it starts with "/"); extra kwargs go to
        `inject_message` (sticker=True, photo=True, document=True...)."""
        before = self.bot_calls()
        self.tg.inject_message(user, text, chat_id=chat_id, chat_type=chat_type, **kwargs)
        await self.settle(before)

    async def settle(self, after: int | None = None, quiet_s: float = 0.05, timeout: float = 20.0) -> None:
        """Wait until the bot is idle (no update waiting or being handled, no
        job running) and has made no API call for `quiet_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last = -1
        stable_since = loop.time()
        while loop.time() < deadline:
            count = self.bot_calls()
            if self.busy() or count != last:
                last, stable_since = count, loop.time()
            elif loop.time() - stable_since >= quiet_s:
                return
            await asyncio.sleep(0.01)
        raise TimeoutError(f"the bot was still busy after {timeout} s")


async def start_bot(
    tg: FakeTelegramServer,
    data_dir: Path,
    *,
    allowed: tuple[int, ...] = (ALICE, BOB),
    providers: ProviderRegistry | None = None,
    workflow: Path = CC,
    configure: Callable[[Settings], None] | None = None,
) -> BotUnderTest:
    settings = Settings(
        telegram_bot_token=SecretStr(tg.token),
        telegram_api_base_url=tg.base_url,
        telegram_api_file_url=tg.base_file_url,
        ccbot_allowed_users=",".join(str(a) for a in allowed),
        ccbot_data_dir=data_dir,
        ccbot_chat_burst=1000,  # people here tap with no pause at all (the gate's own tests: tests/test_flood.py)
        _env_file=None,
    )
    if configure:
        configure(settings)
    engine = await Engine.open(
        store=await store_for(data_dir), media_root=settings.media_root,
        providers=providers or offline_registry(), workflow_dirs=[workflow], poll_scale=0.01,
        budget_usd=settings.ccbot_user_budget_usd, usd_per_credit=settings.ccbot_leonardo_usd_per_credit,
    )
    app, front = build_application(settings, engine)
    # busy() and kill() look at PTB internals: fail loudly if a PTB upgrade renames them
    assert hasattr(app, "_Application__create_task_tasks") and hasattr(app.updater, "_Updater__polling_task")
    await app.initialize()
    await front.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    return BotUnderTest(tg, engine, app, front, data_dir)


@contextlib.asynccontextmanager
async def running_bot(tg: FakeTelegramServer, data_dir: Path, **kwargs: Any) -> AsyncIterator[BotUnderTest]:
    bot = await start_bot(tg, data_dir, **kwargs)
    try:
        yield bot
    finally:
        await bot.stop()


def newest_with(tg: FakeTelegramServer, chat_id: int, label: str) -> dict:
    for message in reversed(tg.bot_messages(chat_id)):
        if any(label in text for text, _ in tg.buttons_of(message)):
            return message
    raise AssertionError(f"no message with a {label!r} button")


# ------------------------------------------------------------------ CC walks


async def cc_to_scenes(bot: BotUnderTest, user: int = ALICE, chat_id: int | None = None) -> None:
    """/new, no photo, then pet, mood, length and no personal note: the scene ideas are shown."""
    await bot.say("/new", user=user, chat_id=chat_id, chat_type="group" if chat_id and chat_id < 0 else "private")
    await bot.press(NO_PHOTO, user, chat_id)
    await bot.press("Cat", user, chat_id)
    await bot.press("Comfort", user, chat_id)
    await bot.press("seconds", user, chat_id)
    await bot.press("Skip", user, chat_id)
    await bot.wait_button("New scene ideas", chat_id if chat_id is not None else user)


async def cc_to_images(bot: BotUnderTest, user: int = ALICE) -> None:
    await cc_to_scenes(bot, user)
    await bot.press("1.", user)  # the first scene
    await bot.wait_button("Generate with", user)


async def cc_to_video(bot: BotUnderTest, user: int = ALICE) -> None:
    """...up to the video step's Generate button (image picked, one motion element ticked)."""
    await cc_to_images(bot, user)
    await bot.press("Generate with", user)
    await bot.press("Pick #1", user)
    await bot.press("▫️", user)  # tick the first motion element
    await bot.press("Done", user)
    await bot.wait_button("Go back to image selection", user)


async def cc_video_to_end(bot: BotUnderTest, user: int = ALICE) -> None:
    await bot.press("Generate with", user)
    await bot.press("Pick #1", user)
    await bot.press("1.", user)  # caption
    await bot.press("1.", user)  # title
    await bot.press("1.", user)  # description
    await bot.press("1.", user)  # music style
    await bot.press("Generate with", user)
    await bot.press("Pick #1", user)
    await bot.press("Looks great", user)  # the finished video is shown first, then the final check
    await bot.wait_text("ready to post", user)
