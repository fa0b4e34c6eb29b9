"""What the bot-load benchmark computes from what the fake Telegram server
recorded, from the bot's SQLite log, and from sampling the processes."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.load.people import Sent

# a "reaction" to an update: a message sent or edited in its chat (chat actions and pins do not count),
# or the answer to its callback query
REACTION_METHODS = {"sendMessage", "editMessageText", "editMessageCaption", "editMessageReplyMarkup",
                    "sendPhoto", "sendVideo", "sendAudio", "sendDocument", "sendMediaGroup", "sendAnimation"}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def busy_warning(load_before: float, loop_lag_p99_ms: float) -> str | None:
    """Why this run's latencies are unreliable, if they are: the machine's 1-minute load
    average before a phase exceeded its cores (other work competed for the CPU; the
    benchmark's own processes, ffmpeg above all, raise it during a phase, so the load
    before tells of others), or this process's loop woke up late (it stamps the requests)."""
    import os

    cores = os.cpu_count() or 1
    if load_before > cores or loop_lag_p99_ms > 50:
        return (f"other work competed for the CPU (load {load_before:.1f} before a phase on {cores} CPUs, "
                f"loop lag p99 {loop_lag_p99_ms:.0f} ms)")
    return None


def chat_of(call: Any) -> int | None:
    chat = call.params.get("chat_id")
    if isinstance(chat, int):
        return chat
    return int(chat) if isinstance(chat, str) and chat.lstrip("-").isdigit() else None


def first_reactions(calls: list[Any], sent: list[Sent]) -> list[tuple[Sent, float | None]]:
    """Per update: ms from its injection to the bot's first reaction (None: never),
    both by the fake server's clock (time.monotonic when a request arrived)."""
    by_chat: dict[int, list[float]] = {}
    answered: dict[str, float] = {}
    for call in calls:
        if call.method == "answerCallbackQuery":
            answered.setdefault(str(call.params.get("callback_query_id")), call.time)
        elif call.method in REACTION_METHODS and (chat := chat_of(call)) is not None:
            by_chat.setdefault(chat, []).append(call.time)
    for times in by_chat.values():
        times.sort()
    out: list[tuple[Sent, float | None]] = []
    for s in sent:
        candidates = []
        times = by_chat.get(s.user, [])
        i = bisect.bisect_left(times, s.at)
        if i < len(times):
            candidates.append(times[i])
        if s.query_id and s.query_id in answered:
            candidates.append(answered[s.query_id])
        out.append((s, (min(candidates) - s.at) * 1000 if candidates else None))
    return out


def chat_calls(calls: list[Any]) -> Counter[str]:
    """Bot API calls that name a chat, by method (answerCallbackQuery names none)."""
    return Counter(c.method for c in calls if c.method != "answerCallbackQuery" and chat_of(c) is not None)


def person_trace(calls: list[Any], sent: list[Sent]) -> list[str]:
    """The first person's updates in order, each followed by the chat calls to their
    chat before their next update (for reading where calls go)."""
    if not sent:
        return []
    user = sent[0].user
    theirs = sorted((s for s in sent if s.user == user), key=lambda s: s.at)
    chat = [c for c in calls if chat_of(c) == user and c.method != "answerCallbackQuery"]
    lines: list[str] = []
    for i, update in enumerate(theirs):
        until = theirs[i + 1].at if i + 1 < len(theirs) else float("inf")
        lines.append(f"[{update.step}] {update.label}")
        for call in (c for c in chat if update.at <= c.time < until):
            text = call.params.get("text") or call.params.get("caption") or call.params.get("action") or ""
            lines.append(f"    {call.method:16s} {' '.join(str(text).split())[:60]}")
    return lines


def call_kinds(calls: list[Any]) -> Counter[str]:
    """Chat calls by what they were for (for reading only, never for driving): chat
    actions by action, sends and edits of the pinned status message apart, other
    texts by their first two words (digits as #), files by method."""
    import re

    pinned = {(chat_of(c), c.params.get("message_id")) for c in calls if c.method == "pinChatMessage"}
    out: Counter[str] = Counter()
    for call in calls:
        chat = chat_of(call)
        if chat is None or call.method == "answerCallbackQuery":
            continue
        if call.method == "sendChatAction":
            out[f"sendChatAction {call.params.get('action')}"] += 1
            continue
        message_id = call.params.get("message_id")
        if message_id is None and isinstance(call.result, dict):
            message_id = call.result.get("message_id")
        if (chat, message_id) in pinned and call.method != "pinChatMessage":
            out[f"{call.method} of the pinned status"] += 1
            continue
        text = call.params.get("text") if call.method in ("sendMessage", "editMessageText") else None
        if text is None:
            out[call.method] += 1
            continue
        words = re.sub(r"<[^>]+>", "", str(text)).split()[:2]
        out[f"{call.method} '{re.sub(r'[0-9]+', '#', ' '.join(words))}'"] += 1
    return out


def budget_estimate(calls: list[Any], chat_rate: float = 1.0, chat_burst: float = 20.0,
                    overall_rate: float = 30.0) -> dict[str, float]:
    """Replays Telegram's budgets over the chat calls as they arrived. A bot that keeps
    the limits never overdraws them; it sends when a token comes free, so what shows
    its flood gate at work is calls sent with the budget nearly drained (under 2 of
    its tokens): `chat_paced` (a chat's burst of 20 used up, 1/s from then on) and
    `overall_paced` (the bot's 30/s). Also the busiest second, and how many whole
    seconds had 28 or more chat calls (the bot at Telegram's overall limit)."""
    chats: dict[int, tuple[float, float]] = {}  # chat -> (tokens, stamp)
    overall = (overall_rate, 0.0)
    chat_paced = overall_paced = 0
    times = []
    for call in sorted((c for c in calls if chat_of(c) is not None), key=lambda c: c.time):
        chat, now = chat_of(call), call.time
        times.append(now)
        tokens, stamp = chats.get(chat, (chat_burst, now))  # type: ignore[arg-type]
        tokens = min(chat_burst, tokens + (now - stamp) * chat_rate)
        chat_paced += tokens < 2
        chats[chat] = (tokens - 1, now)  # type: ignore[index]
        tokens, stamp = overall
        tokens = min(overall_rate, tokens + (now - stamp) * overall_rate)
        overall_paced += tokens < 2
        overall = (tokens - 1, now)
    busiest, j = 0, 0
    for i, t in enumerate(times):
        while t - times[j] >= 1.0:
            j += 1
        busiest = max(busiest, i - j + 1)
    per_second = Counter(int(t - times[0]) for t in times) if times else Counter()
    return {"chat_paced": chat_paced, "overall_paced": overall_paced, "busiest_second": busiest,
            "seconds_at_limit": sum(1 for n in per_second.values() if n >= 28),
            "seconds": (times[-1] - times[0]) if times else 0.0}


@dataclass
class RenderErrors:
    failed_renders: int = 0  # module_error events of the final render module(s)
    runs_with_failed_render: int = 0
    other_module_errors: int = 0
    messages: list[str] = field(default_factory=list)


def render_errors(db_path: Path, workflow_dir: Path) -> RenderErrors:
    from engine.definitions import load_workflow
    from engine.modules import default_modules
    from engine.store.records import loads

    workflow = load_workflow(workflow_dir, default_modules())
    renders = {m.name for s in workflow.steps for m in s.modules if m.module_id == "media.compose"}
    out = RenderErrors()
    if not db_path.exists():
        return out
    con = sqlite3.connect(db_path)
    try:
        rows = con.execute("SELECT run_id, module_name, data FROM events WHERE type='module_error'").fetchall()
    finally:
        con.close()
    runs = set()
    for run_id, module, data in rows:
        if module in renders:
            out.failed_renders += 1
            runs.add(run_id)
            message = str(loads(data).get("error") or loads(data).get("message") or "")[:160]
            if message not in out.messages:
                out.messages.append(message)
        else:
            out.other_module_errors += 1
    out.runs_with_failed_render = len(runs)
    return out


def descendants(pid: int) -> list[int]:
    """A process's descendants, found by their parent ids (psutil scans /proc/*/stat).
    Not from /proc/<pid>/task/*/children: once those files had been read, the bot's
    kernel time grew by ~0.1 s for every child it reaped (in release_task, dropping
    the /proc entries), 4-7 s against 0.02 s for 32 ffmpeg runs: the sampler slowed
    the bot it measured, and only ccbot, since the baseline starts no children."""
    import psutil

    with contextlib.suppress(psutil.Error):
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    return []


def machine_cpu_s() -> float:
    """CPU seconds the whole machine has been busy since boot (all cores; /proc/stat, Linux)."""
    import os

    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    return 0.0


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process, its reaped children, and its living descendants."""
    import psutil

    total = 0.0
    with contextlib.suppress(psutil.Error):
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system + times.children_user + times.children_system
    for child in descendants(pid):
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(child).cpu_times()
            total += times.user + times.system
    return total


class TreeSampler(threading.Thread):
    """Every `interval` s: RSS of a process and of its whole tree (the goal's measure;
    RSS counts shared pages once per process), and how many ffmpeg processes are in
    the tree (encoders: those writing a file, i.e. with -y; the others are probes).
    A thread, so a busy event loop skips no sample. Children are read from
    /proc/<pid>/statm and cmdline only: reading their smaps (for PSS) cost the bot
    ~12 ms of kernel time per child reaped (see `descendants`)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = self.peak_tree = 0.0  # MB
        self.peak_ffmpeg = self.peak_encoders = 0
        self.samples = 0
        self.cpu_own_s = self.cpu_children_s = 0.0  # the process; its reaped children (ffmpeg)
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psutil

        while not self._stop_event.is_set():
            with contextlib.suppress(psutil.Error):
                rss = self.proc.memory_info().rss
                tree, ffmpeg, encoders = rss, 0, 0
                for child in self.proc.children(recursive=True):  # by parent id: see `descendants`
                    with contextlib.suppress(psutil.Error):
                        tree += child.memory_info().rss
                        if "ffmpeg" in child.name():
                            ffmpeg += 1
                            encoders += "-y" in child.cmdline()
                self.peak_rss = max(self.peak_rss, rss / 1_048_576)
                self.peak_tree = max(self.peak_tree, tree / 1_048_576)
                self.peak_ffmpeg = max(self.peak_ffmpeg, ffmpeg)
                self.peak_encoders = max(self.peak_encoders, encoders)
                times = self.proc.cpu_times()
                self.cpu_own_s = times.user + times.system
                self.cpu_children_s = times.children_user + times.children_system
                self.samples += 1
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)


class LoopLag:
    """How late this process's event loop wakes up (the fake server's clock stamps
    requests on this loop: a late loop would inflate every latency measured), and
    the garbage collector's pauses, a usual cause."""

    def __init__(self, every_s: float = 0.05, freeze_every_s: float = 1.0) -> None:
        self.every_s = every_s
        self.freeze_every_s = freeze_every_s
        self.lags_ms: list[float] = []
        self.gc_ms: list[float] = []
        self._gc_started = 0.0
        self._task: asyncio.Task[None] | None = None

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started:
            self.gc_ms.append((time.perf_counter() - self._gc_started) * 1000)

    async def _run(self) -> None:
        import gc

        frozen = time.monotonic()
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.every_s)
            now = time.monotonic()
            self.lags_ms.append((now - before - self.every_s) * 1000)
            if self.freeze_every_s and now - frozen >= self.freeze_every_s:
                # The fake server keeps every call and message: a full collection over that heap
                # stopped this loop for up to 0.7 s at 100 people. Frozen objects are never walked
                # again, so a collection only sees what is new since the last second.
                gc.freeze()
                frozen = now

    def start(self) -> None:
        import gc

        gc.callbacks.append(self._gc)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        import gc

        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)
        gc.unfreeze()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
