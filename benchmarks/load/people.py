"""Simulated people in the fake Telegram server's chats.

A person acts like someone holding a phone: after each update they send,
they wait until the bot has reacted, the screen has changed and then nothing
more has happened in their chat for `quiet_s` (0.3 s), look at the screen,
think for `think_s` (a little seeded jitter), and tap or type. What to do
next is decided from the run's state (read from the bot's SQLite event log,
as a restart of the bot would read it) and the buttons the bot actually
shows, found by a part of their label and the pending question's key (the
signed callback data names its question). No message layout is assumed
beyond those label parts, which live in one table, SCRIPT.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# What a person taps, by the pending question's module name, else by its kind.
# A pair is two taps on one question: tick, then Done; Generate, then Pick.
SCRIPT: dict[str, str | tuple[str, str]] = {
    "select_pet_type": "Cat",
    "select_aesthetic": "Comfort",
    "select_duration": "seconds",
    "review_final_video": "Looks great",
    "select": "1.",  # any other choice: its first option
    "multi": ("▫️", "Done"),  # several may be chosen: tick the first, then Done
    "text_input": "Skip",
    "file_input": "⏭",  # "your own pet?": no photo, the bot imagines one
    "media": ("Generate with", "Pick #1"),  # the first provider; then its first result
    "error": "Try again",  # the run stopped on an error
}
SCREEN_METHODS = {"sendMessage", "editMessageText", "editMessageCaption", "editMessageReplyMarkup", "deleteMessage",
                  "sendPhoto", "sendVideo", "sendAudio", "sendDocument", "sendMediaGroup", "sendAnimation"}
MAX_RETRIES = 3  # "Try again" / Generate after a failure, per person


@dataclass
class Sent:
    """One update a person sent, stamped by the fake server's clock (time.monotonic)."""

    user: int
    at: float
    label: str
    step: str  # the pending module it answered ("/new" for the command)
    query_id: str | None = None
    think_s: float = 0.0  # the pause the person took before it


class ChatActivity:
    """Per chat, what the bot did lately: kept current by the fake's listener hook
    (one wake-up per call for that chat's person only). `tg` is the fake served
    in a process of its own (fake_process.FakeTelegramProcess)."""

    def __init__(self, tg: Any) -> None:
        self.last_call: dict[int, float] = {}  # monotonic time a call naming the chat finished
        self.screen: dict[int, int] = {}  # count of messages sent/edited/deleted in the chat
        self.last_ok: dict[tuple[int, str], float] = {}  # (chat, method) -> time of the last successful one
        self.edits: dict[tuple[int, int], int] = {}  # (chat, message id) -> successful edits of it
        self.query_chat: dict[str, int] = {}
        self._wake: dict[int, asyncio.Event] = {}
        tg.listen(self.seen)

    def chat_of(self, call: Any) -> int | None:
        chat = call.params.get("chat_id")
        if isinstance(chat, int):
            return chat
        if isinstance(chat, str) and chat.lstrip("-").isdigit():
            return int(chat)
        if call.method == "answerCallbackQuery":
            return self.query_chat.get(str(call.params.get("callback_query_id")))
        return None

    def seen(self, call: Any, now: float) -> None:
        """A call the bot made, finished at `now` (the server's clock)."""
        chat = self.chat_of(call)
        if chat is None:
            return
        self.last_call[chat] = now
        if call.ok:
            self.last_ok[(chat, call.method)] = now
            if call.method in SCREEN_METHODS:
                self.screen[chat] = self.screen.get(chat, 0) + 1
            if call.method.startswith("edit") and isinstance(call.params.get("message_id"), int):
                key = (chat, call.params["message_id"])
                self.edits[key] = self.edits.get(key, 0) + 1
        self.wake(chat)

    def wake(self, chat: int) -> None:
        event = self._wake.pop(chat, None)
        if event is not None:
            event.set()

    async def changed(self, chat: int, timeout: float) -> None:
        """Until the bot does anything in this chat, or `timeout` s."""
        event = self._wake.setdefault(chat, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass

    async def settled(self, chat: int, screen_before: int, sent_at: float, quiet_s: float, patience_s: float) -> None:
        """Until the screen changed after an update (or `patience_s` passed without
        a change) and then the chat has been quiet for `quiet_s`."""
        while True:
            now = time.monotonic()
            changed = self.screen.get(chat, 0) > screen_before or now - sent_at > patience_s
            quiet_for = now - max(self.last_call.get(chat, 0.0), sent_at)
            if changed and quiet_for >= quiet_s:
                return
            await self.changed(chat, quiet_s - quiet_for if changed else 0.25)


class RunWatcher:
    """A person's latest run as the event log says, folded incrementally
    (only new events are read; a jump makes it replay the whole log). The log
    is the bot's SQLite file (a path) or its PostgreSQL database (a URL)."""

    def __init__(self, database: Path | str, workflow_dir: Path) -> None:
        from engine.definitions import load_workflow
        from engine.fold import Fold
        from engine.modules import default_modules

        self.url = database if isinstance(database, str) and database.startswith("postgres") else None
        self.db_path = Path(database)
        self.workflow = load_workflow(workflow_dir, default_modules())
        self.fold = Fold(self.workflow, lambda _module, _outputs: None)
        self._con: sqlite3.Connection | None = None
        self._pg: Any = None  # an asyncpg pool
        self._runs: dict[str, tuple[Any, list[Any]]] = {}  # run id -> (state, events)
        self._pool: ThreadPoolExecutor | None = None
        self.reads = 0

    def _db(self) -> sqlite3.Connection | None:
        if self._con is None and self.db_path.exists():
            self._con = sqlite3.connect(self.db_path, timeout=5, isolation_level=None, check_same_thread=False)
        return self._con

    async def read(self, owner: str) -> Any | None:
        """`latest`, in the watcher's own thread: a read waiting on the database (or a
        long fold) must not hold up the fake server's event loop, which stamps the requests.
        On PostgreSQL the queries are asynchronous and only the fold goes to the thread."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-watcher")
        loop = asyncio.get_running_loop()
        if self.url is None:
            return await loop.run_in_executor(self._pool, self.latest, owner)
        import asyncpg

        if self._pg is None:
            self._pg = await asyncpg.create_pool(self.url, min_size=1, max_size=4)
        self.reads += 1
        run_id = await self._pg.fetchval("SELECT run_id FROM runs WHERE owner=$1 ORDER BY created_at DESC LIMIT 1",
                                         owner)
        if run_id is None:
            return None
        rows = await self._pg.fetch("SELECT seq, run_id, type, step_id, module_name, data, created_at FROM events"
                                    " WHERE run_id=$1 AND seq>$2 ORDER BY seq", run_id, self._last_seq(run_id))
        return await loop.run_in_executor(self._pool, self._apply, run_id, rows)

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        if self._con is not None:
            self._con.close()
        if self._pg is not None:
            await self._pg.close()

    def _last_seq(self, run_id: str) -> int:
        state = self._runs.get(run_id)
        return state[0].last_seq if state else 0

    def latest(self, owner: str) -> Any | None:
        con = self._db()
        if con is None:
            return None
        self.reads += 1
        try:
            row = con.execute("SELECT run_id FROM runs WHERE owner=? ORDER BY created_at DESC LIMIT 1",
                              (owner,)).fetchone()
        except sqlite3.OperationalError:  # the bot has not created its tables yet
            return None
        if row is None:
            return None
        run_id = row[0]
        rows = con.execute("SELECT seq, run_id, type, step_id, module_name, data, created_at FROM events"
                           " WHERE run_id=? AND seq>? ORDER BY seq", (run_id, self._last_seq(run_id))).fetchall()
        return self._apply(run_id, rows)

    def _apply(self, run_id: str, rows: list[Any]) -> Any:
        """Fold the run's new event rows (seq, run_id, type, step_id, module_name, data, created_at)."""
        from engine.state import RunState
        from engine.store import Event
        from engine.store.records import loads

        state, events = self._runs.get(run_id) or (RunState(), [])
        new = [Event(r[0], r[1], r[2], r[3], r[4], loads(r[5]), r[6]) for r in rows if r[0] > state.last_seq]
        events = events + new
        if any(e.type == "jump_requested" for e in new):
            state = self.fold.replay(events)
        else:
            for event in new:
                self.fold.apply(state, event)
        self._runs[run_id] = (state, events)
        return state


@dataclass
class Press:
    label: str  # a part of the button's text
    target: str  # the interaction id (or "retry") its callback data must name
    step: str  # for the breakdown
    then: str = ""  # remembered once tapped (e.g. "ticked:<iid>")


@dataclass
class Wait:
    why: str


@dataclass
class Done:
    pass


@dataclass
class Person:
    tg: Any
    activity: ChatActivity
    user: int
    rng: random.Random
    think_s: float
    quiet_s: float = 0.3
    sent: list[Sent] = field(default_factory=list)
    memory: set[str] = field(default_factory=set)
    retries: int = 0

    @property
    def owner(self) -> str:
        return f"tg:{self.user}"

    def find(self, label: str, accept: Callable[[str], bool]) -> tuple[int, str] | None:
        """The newest bot message with a button containing `label` whose data `accept`s:
        (message id, callback data), from the buttons the fake keeps per chat."""
        for message_id, rows in self.tg.buttons(self.user):
            for row in rows:
                for button in row:
                    data = button.get("callback_data")
                    if data and label in button.get("text", "") and accept(data):
                        return message_id, data
        return None

    def _think(self) -> float:
        return self.think_s * self.rng.uniform(0.85, 1.15)

    async def command(self, text: str) -> Sent:
        sent = Sent(self.user, await self.tg.inject_command(self.user, text), text, text)
        self.sent.append(sent)
        return sent

    async def tap(self, message_id: int, data: str, press: Press, think_s: float) -> Sent:
        at, query_id = await self.tg.inject_callback(self.user, message_id, data)
        sent = Sent(self.user, at, press.label, press.step, query_id=query_id, think_s=think_s)
        self.activity.query_chat[sent.query_id] = self.user
        self.sent.append(sent)
        if press.then:
            self.memory.add(press.then)
        if press.step == "error":
            self.retries += 1
        return sent


Decision = "Press | Wait | Done"
Decide = Callable[[Person], "Decision | Awaitable[Decision]"]


class Stalled(Exception):
    pass


async def drive(person: Person, decide: Decide, accept: Callable[[str, str], bool], *, first: str = "/new",
                stall_s: float = 300.0, patience_s: float = 10.0) -> float:
    """Send `first`, then tap what `decide` says until it says Done; returns the
    seconds it took. `accept(data, target)`: does a button's data belong to the target?
    Raises Stalled when nothing could be tapped for `stall_s`."""
    activity, chat = person.activity, person.user
    started = time.monotonic()
    screen = activity.screen.get(chat, 0)
    last = await person.command(first)
    last_press: tuple[tuple[int, str], int] | None = None  # (message id, data), edits of that message then
    progress_at = time.monotonic()
    why = ""
    while True:
        await activity.settled(chat, screen, last.at, person.quiet_s, patience_s)
        if time.monotonic() - progress_at > stall_s:
            raise Stalled(f"nothing to tap for {stall_s:.0f} s ({why})")
        decision = decide(person)
        if inspect.isawaitable(decision):
            decision = await decision
        if isinstance(decision, Done):
            return time.monotonic() - started
        if isinstance(decision, Wait):
            why = decision.why
            await activity.changed(chat, 0.5)
            continue
        found = person.find(decision.label, lambda data, t=decision.target: accept(data, t))
        # not on screen (yet), or the very button tapped last on an unchanged message (the run state may
        # not show that tap yet): wait for news
        if found is None or (found, activity.edits.get((chat, found[0]), 0)) == last_press:
            why = f"no new '{decision.label}' button for {decision.step}"
            await activity.changed(chat, 0.5)
            continue
        pause = person._think()
        await asyncio.sleep(pause)
        if person.find(decision.label, lambda data, t=decision.target: accept(data, t)) != found:
            continue  # the screen changed while thinking: look again
        screen = activity.screen.get(chat, 0)
        # counted before the tap: a bot may edit the message before the tap's own request returns
        edits_before = activity.edits.get((chat, found[0]), 0)
        last = await person.tap(*found, decision, pause)
        last_press, progress_at = (found, edits_before), time.monotonic()


# ------------------------------------------------------------------ ccbot


def cc_decide(watcher: RunWatcher, script: dict[str, str | tuple[str, str]] = SCRIPT) -> Decide:
    """What a person does next in a CC run, from the run state and SCRIPT."""

    async def decide(person: Person) -> Press | Wait | Done:
        run = await watcher.read(person.owner)
        if run is None:
            return Wait("no run yet")
        if run.status == "completed":
            # finished: done once the finished video reached the chat after the last tap
            last_tap = person.sent[-1].at
            if person.activity.last_ok.get((person.user, "sendVideo"), 0.0) > last_tap:
                return Done()
            return Wait("the finished video is not in the chat yet")
        if run.status != "active":
            raise Stalled(f"the run is {run.status}")
        if run.pending is None:
            if run.last_error is not None:
                if person.retries >= MAX_RETRIES:
                    raise Stalled(f"still failing after {MAX_RETRIES} tries: {run.last_error}")
                return Press(str(script["error"]), "retry", "error", then=f"retry:{run.last_seq}")
            return Wait("the engine is working")
        request = run.pending["request"]
        iid, module, disp = request["interaction_id"], request["module_name"], request["display_data"]
        kind = disp.get("kind")
        if kind == "select" and disp.get("multi_select") and disp.get("mode") != "review":
            kind = "multi"
        entry = script.get(module) or script.get(kind or "") or script["select"]
        if kind == "multi" and isinstance(entry, tuple):
            tick, done = entry
            return Press(done, iid, module) if f"ticked:{iid}" in person.memory else \
                Press(tick, iid, module, then=f"ticked:{iid}")
        if kind == "media" and isinstance(entry, tuple):
            generate, pick = entry
            jobs = [j for j in run.jobs.values() if j.interaction_id == iid]
            if any(j.status == "completed" and j.content_ids for j in jobs):
                return Press(pick, iid, module)
            if any(j.status in ("created", "submitted", "running") for j in jobs):
                return Wait(f"a generation is running ({module})")
            failed = sum(1 for j in jobs if j.status == "failed")
            if failed >= MAX_RETRIES:
                raise Stalled(f"{failed} failed generations at {module}")
            return Press(generate, iid, module)
        return Press(entry if isinstance(entry, str) else entry[0], iid, module)

    return decide


def cc_accept(secret: bytes) -> Callable[[str, str], bool]:
    from bot import callbacks

    def accept(data: str, target: str) -> bool:
        decoded = callbacks.decode(data, secret)
        return decoded is not None and decoded.matches(target)

    return accept


# --------------------------------------------------------------- baseline


def baseline_decide(updates: int) -> Decide:
    """Tap the bot's button until the person has sent `updates` updates."""

    def decide(person: Person) -> Press | Wait | Done:
        return Done() if len(person.sent) >= updates else Press("Tap", "", "tap")

    return decide


def any_button(data: str, target: str) -> bool:
    return True
