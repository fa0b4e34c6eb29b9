"""The Telegram bot under load: N people making a CC video at once.

    python benchmarks/bot_load.py [--users 30] [--think-ms 0] [--skip-echo]

Each simulated person does a whole CC run (/new to the finished video, first
choices, one motion element, "Looks great" at the final check) against the
fake Bot API server, over real HTTP, with offline providers at zero delay. The bot runs in its own process
(as in production: the users and the fake server do not share its event
loop or its CPU time with it), long-polling the fake server.

Measured, per update a person sends (a command or a button tap): the time
from the update being handed to the fake server (injected) to the bot's
FIRST reply for it: the first answerCallbackQuery for that query, or the
first message sent or edited in that chat (chat actions do not count). Both
timestamps are taken by the fake server's clock.

The baseline is the minimal python-telegram-bot echo bot
(tests/fakes/echo_bot.py), measured in the same run with the same number of
people, each sending as many messages as a CC run has steps, one at a time.

Printed: completions, p50/p95/max latency for both, the ratio, peak RSS of
the bot process (ru_maxrss; ffmpeg children are separate processes and are
reported apart). Goals (issue 5): p95 within 1.5x of the echo baseline and
under 50 ms; peak RSS under 200 MB with 30 users.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CC = ROOT / "workflows" / "cc"
FIRST_USER = 3001
REPLY_METHODS = {
    "sendMessage", "editMessageText", "editMessageReplyMarkup", "editMessageCaption", "answerCallbackQuery",
    "sendPhoto", "sendVideo", "sendAudio", "sendDocument", "sendMediaGroup",
}  # fmt: skip

# One CC run: (the button that shows the question is there, the button to tap).
# "edit" waits for the pressed message to be edited instead of a new message.
CC_SCRIPT: list[tuple[str, str, str]] = [
    ("new", "Cat", "Cat"),
    ("new", "Comfort", "Comfort"),
    ("new", "seconds", "seconds"),
    ("new", "Skip", "Skip"),
    ("new", "New scene ideas", "1."),
    ("new", "Generate with", "Generate with"),
    ("new", "Pick #1", "Pick #1"),
    ("new", "▫️", "▫️"),  # tick the first motion element
    ("edit", "Done (1", "Done (1"),
    ("new", "Generate with", "Generate with"),
    ("new", "Pick #1", "Pick #1"),
    ("new", "New captions", "1."),
    ("new", "Pick a different caption", "1."),  # the title
    ("new", "Pick a different title", "1."),  # the description
    ("new", "New music styles", "1."),
    ("new", "Generate with", "Generate with"),
    ("new", "Pick #1", "Pick #1"),
    ("new", "Looks great", "Looks great"),  # the finished video, then "happy with it?"
]
ECHO_MESSAGES = len(CC_SCRIPT) + 1  # as many updates as a CC run (with /new)


# =================================================================== the bot process


async def serve(kind: str, api_url: str, token: str, data_dir: str, user_ids: str) -> None:
    """Run one bot until a line arrives on stdin; then print its peak RSS."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if os.environ.get("BOT_LOAD_SLOW_MS"):  # profiling aid: log event-loop steps slower than this
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = float(os.environ["BOT_LOAD_SLOW_MS"]) / 1000
    ccbot = engine = ui = None
    if kind == "echo":
        from tests.fakes.echo_bot import build_echo_app

        app = build_echo_app(token, api_url)
    else:
        from pydantic import SecretStr

        from bot.app import build_application, limit_malloc_arenas
        from bot.ui_store import UIStore
        from engine.providers.registry import offline_registry
        from engine.api import Engine
        from engine.settings import Settings

        limit_malloc_arenas()  # first, as run_bot() does in production
        settings = Settings(
            telegram_bot_token=SecretStr(token), telegram_api_base_url=f"{api_url}/bot",
            telegram_api_file_url=f"{api_url}/file/bot", ccbot_allowed_users=user_ids,
            ccbot_data_dir=Path(data_dir), _env_file=None,
        )
        engine = await Engine.open(db_path=settings.db_path, media_root=settings.media_root,
                                   providers=offline_registry(), workflow_dirs=[CC], poll_scale=0.01)
        ui = await UIStore.open(settings.db_path)
        app, ccbot = build_application(settings, engine, ui)
    await app.initialize()
    if ccbot is not None:
        await ccbot.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=10)
    print("READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    if engine is not None:
        await engine.close()
    if ui is not None:
        await ui.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"maxrss_mb": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime}), flush=True)


# ================================================================ people and timing


@dataclass
class Sent:
    chat_id: int
    at: float  # the fake server's clock (time.monotonic) at injection
    query_id: str | None = None
    label: str = ""


@dataclass
class Phase:
    kind: str
    sent: list[Sent] = field(default_factory=list)
    completed: int = 0
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    bot: dict[str, float] = field(default_factory=dict)
    peak_tree_mb: float = 0.0  # the bot process and its ffmpeg children, sampled
    latencies_ms: list[float] = field(default_factory=list)
    answered: list[tuple[Sent, float]] = field(default_factory=list)
    api_calls: int = 0


class People:
    """Simulated people on a FakeTelegramServer, cheap enough for dozens at once
    (no deep copies: the server's message table is read in place)."""

    def __init__(self, tg: Any, phase: Phase, think_s: float) -> None:
        self.tg = tg
        self.phase = phase
        self.think_s = think_s

    def _message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        state = self.tg._messages.get((chat_id, message_id))
        return state.message if state is not None and state.from_bot and not state.deleted else None

    def _newest_id(self, chat_id: int) -> int:
        return self.tg._next_message_id[chat_id] - 1

    @staticmethod
    def _button(message: dict[str, Any], label: str) -> str | None:
        for row in (message.get("reply_markup") or {}).get("inline_keyboard") or []:
            for button in row:
                if label in button.get("text", "") and button.get("callback_data"):
                    return button["callback_data"]
        return None

    async def _until(self, predicate: Any, timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if loop.time() > deadline:
                raise TimeoutError
            event = self.tg._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), 0.25)

    def _send(self, chat_id: int, label: str, inject: Any) -> Any:
        at = time.monotonic()
        result = inject()
        self.phase.sent.append(Sent(chat_id, at, result if isinstance(result, str) else None, label))
        return result

    async def cc_run(self, user: int, timeout: float) -> None:
        last = self._newest_id(user)
        self._send(user, "/new", lambda: self.tg.inject_command(user, "/new"))
        pressed: tuple[int, str] | None = None
        for mode, ready, label in CC_SCRIPT:
            if mode == "edit" and pressed is not None:
                message_id = pressed[0]
                found = await self._until(
                    lambda m=message_id, r=ready: (self._button(self._message(user, m) or {}, r) and m), timeout)
            else:
                def find(after: int = last, r: str = ready) -> int | None:
                    for message_id in range(self._newest_id(user), after, -1):
                        message = self._message(user, message_id)
                        if message and self._button(message, r):
                            return message_id
                    return None

                found = await self._until(find, timeout)
            if self.think_s:
                await asyncio.sleep(self.think_s)
            data = self._button(self._message(user, found) or {}, label)
            last = self._newest_id(user)
            pressed = (found, data)
            self._send(user, label, lambda f=found, d=data: self.tg.inject_callback(user, f, d))
        await self._until(lambda: any("ready to post" in ((self._message(user, m) or {}).get("text") or "")
                                      for m in range(self._newest_id(user), last, -1)), timeout)
        self.phase.completed += 1

    async def echo_run(self, user: int, timeout: float) -> None:
        for i in range(ECHO_MESSAGES):
            text = f"ping {user} {i}"
            last = self._newest_id(user)
            self._send(user, "text", lambda t=text: self.tg.inject_message(user, t))
            await self._until(lambda t=text, a=last: any(
                (self._message(user, m) or {}).get("text") == t for m in range(self._newest_id(user), a, -1)), timeout)
            if self.think_s:
                await asyncio.sleep(self.think_s)
        self.phase.completed += 1


def first_replies(tg: Any, sent: list[Sent]) -> list[tuple[Sent, float]]:
    """Per injected update: ms until the bot's first reply (see the module docstring)."""
    by_chat: dict[int, list[Any]] = {}
    by_query: dict[str, Any] = {}
    for call in tg.calls:
        if call.method not in REPLY_METHODS or call.status != 200:
            continue
        if call.method == "answerCallbackQuery":
            by_query.setdefault(str(call.params.get("callback_query_id")), call)
        else:
            by_chat.setdefault(call.params.get("chat_id"), []).append(call)
    out = []
    for s in sent:
        candidates = [c.time for c in by_chat.get(s.chat_id, []) if c.time >= s.at][:1]
        if s.query_id and s.query_id in by_query:
            candidates.append(by_query[s.query_id].time)
        if candidates:
            out.append((s, (min(candidates) - s.at) * 1000))
    return out


async def sample_rss(pid: int, phase: Phase, stop: asyncio.Event) -> None:
    try:
        import psutil
    except ImportError:
        return
    try:
        proc = psutil.Process(pid)
        while not stop.is_set():
            total = proc.memory_info().rss
            for child in proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += child.memory_info().rss
            phase.peak_tree_mb = max(phase.peak_tree_mb, total / 1_048_576)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
    except psutil.Error:
        return


async def run_phase(kind: str, users: int, think_s: float, timeout: float) -> Phase:
    from tests.fakes.telegram_server import FakeTelegramServer

    phase = Phase(kind)
    user_ids = [FIRST_USER + i for i in range(users)]
    with tempfile.TemporaryDirectory(prefix=f"ccbot-load-{kind}-") as data_dir:
        async with FakeTelegramServer() as tg:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--serve", kind, "--api", tg.url, "--token", tg.token,
                "--data", data_dir, "--user-ids", ",".join(map(str, user_ids)),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=str(ROOT),
            )
            assert proc.stdout is not None and proc.stdin is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            if line.strip() != b"READY":
                raise SystemExit(f"the {kind} bot did not start: {line!r}")
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_rss(proc.pid, phase, stop))
            people = People(tg, phase, think_s)
            started = time.monotonic()

            async def one(user: int) -> None:
                try:
                    await (people.cc_run(user, timeout) if kind == "ccbot" else people.echo_run(user, timeout))
                except TimeoutError:
                    phase.failures.append(f"user {user} stalled")

            await asyncio.gather(*(one(u) for u in user_ids))
            phase.wall_s = time.monotonic() - started
            stop.set()
            await sampler
            proc.stdin.write(b"stop\n")
            await proc.stdin.drain()
            out = await asyncio.wait_for(proc.stdout.read(), 60)
            await proc.wait()
            for raw in out.decode().splitlines():
                if raw.startswith("{"):
                    phase.bot = json.loads(raw)
            phase.answered = first_replies(tg, phase.sent)
            phase.latencies_ms = [ms for _, ms in phase.answered]
            phase.api_calls = len([c for c in tg.calls if c.method != "getUpdates"])
    return phase


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(phase: Phase, users: int) -> None:
    lat = phase.latencies_ms
    print(f"[{phase.kind}] {phase.completed}/{users} completed in {phase.wall_s:.1f} s; "
          f"{len(phase.sent)} updates, {len(lat)} answered; {phase.api_calls} Bot API calls")
    if lat:
        print(f"[{phase.kind}] first reply: p50 {pct(lat, 0.5):.1f} ms, p95 {pct(lat, 0.95):.1f} ms, "
              f"max {max(lat):.1f} ms, mean {statistics.fmean(lat):.1f} ms")
    taps = [ms for sent, ms in phase.answered if sent.label != "/new"]
    if phase.kind == "ccbot" and taps:
        print(f"[{phase.kind}] without the {users} simultaneous /new at the start: p50 {pct(taps, 0.5):.1f} ms, "
              f"p95 {pct(taps, 0.95):.1f} ms")
    if phase.bot:
        print(f"[{phase.kind}] bot process: peak RSS {phase.bot['maxrss_mb']:.0f} MB, CPU {phase.bot['cpu_s']:.1f} s; "
              f"with its ffmpeg children (sampled) {phase.peak_tree_mb:.0f} MB")
    for failure in phase.failures[:5]:
        print(f"[{phase.kind}] ! {failure}")


def breakdown(phase: Phase) -> None:
    """p50/p95 per kind of update (which taps are slow)."""
    rows: dict[str, list[float]] = {}
    for s, ms in phase.answered:
        rows.setdefault(s.label, []).append(ms)
    for label, values in sorted(rows.items(), key=lambda kv: -pct(kv[1], 0.95)):
        print(f"    {label[:16]:16s} n={len(values):4d}  p50 {pct(values, 0.5):7.1f} ms  p95 {pct(values, 0.95):7.1f} ms")


async def main_async(args: argparse.Namespace) -> int:
    echo = None if args.skip_echo else await run_phase("echo", args.users, args.think_ms / 1000, args.timeout)
    cc = await run_phase("ccbot", args.users, args.think_ms / 1000, args.timeout)
    print(f"users: {args.users}, think time: {args.think_ms} ms, CPUs: {os.cpu_count()}")
    if echo:
        report(echo, args.users)
    report(cc, args.users)
    if args.breakdown:
        breakdown(cc)
    ok = cc.completed == args.users
    p95 = pct(cc.latencies_ms, 0.95)
    if echo and echo.latencies_ms:
        base = pct(echo.latencies_ms, 0.95)
        ratio = p95 / base if base else float("inf")
        print(f"p95 ratio ccbot/echo: {ratio:.2f} (goal <= 1.5)")
        ok = ok and ratio <= 1.5
    print(f"p95 {p95:.1f} ms (goal < 50 ms); peak RSS {cc.bot.get('maxrss_mb', float('nan')):.0f} MB (goal < 200 MB)")
    ok = ok and p95 < 50 and cc.bot.get("maxrss_mb", 1e9) < 200
    print("GOALS MET" if ok else "GOALS MISSED")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--think-ms", type=float, default=0.0, help="pause before each tap (default: none)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a person waits for one question")
    parser.add_argument("--skip-echo", action="store_true")
    parser.add_argument("--breakdown", action="store_true", help="latency per kind of tap")
    parser.add_argument("--serve", choices=("echo", "ccbot"), help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--user-ids", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.api, args.token, args.data, args.user_ids))
        return 0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
