"""The resilience harness: the bot as a real process, the fakes in this one.

- `Fakes`: the fake Telegram Bot API and the fake OpenAI, Leonardo and
  ElevenLabs servers on 127.0.0.1, alive across bot restarts (they are what
  the outside world remembers: updates not yet confirmed, messages already
  sent, jobs already paid for).
- `BotProcess`: `python -m tests.resilience.botproc` with the environment
  pointing at the fakes; start, SIGKILL, restart, stop.
- `RunReader`: the run as the event log says (read straight from SQLite, as
  a restart would rebuild it).
- `Person` and `drive`: a person tapping buttons in the chat. They only use
  buttons the bot actually showed, so a question the bot forgot to show after
  a restart leaves them stuck, and that is reported as a failure.
- `tally`: what the outside world saw: answers, paid jobs, files delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import pytest

from bot import callbacks
from bot.telegram.ccbot import callback_secret
from bot.telegram.tap import owner_of
from engine.definitions import WorkflowDef, load_workflow
from engine.modules import default_modules
from engine.settings import Settings
from engine.fold import Fold
from engine.state import RunState
from engine.store import Event
from engine.store.records import loads
from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.leonardo_server import FakeLeonardo
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegramServer
from tests.players import offline_answer

ROOT = Path(__file__).resolve().parents[2]
CC = ROOT / "workflows" / "cc"
MINI = ROOT / "tests" / "data" / "mini"
KEYS = {"openai": "sk-test-openai-resilience-0001", "leonardo": "leo-test-resilience-0002",
        "elevenlabs": "xi-test-resilience-0003"}
PROOF = os.environ.get("CCBOT_PROOF") == "1"
proof_only = pytest.mark.skipif(not PROOF, reason="the long version runs under `make proof` (CCBOT_PROOF=1)")
PAID_CREATES = (  # (fake, method, path prefix) of every request that starts paid work
    ("openai", "POST", "/v1/images/generations"),
    ("leonardo", "POST", "/api/rest/v1/generations"),  # images and image-to-video
    ("elevenlabs", "POST", "/v1/music"),
)
MEDIA_METHODS = ("sendPhoto", "sendVideo", "sendAudio", "sendDocument", "sendAnimation")


# ================================================================== the fakes


class Fakes:
    def __init__(self) -> None:
        self.tg = FakeTelegramServer()
        self.openai = FakeOpenAI(api_key=KEYS["openai"])
        self.openai.answer_with = offline_answer
        self.leonardo = FakeLeonardo(api_key=KEYS["leonardo"])
        self.leonardo.pending_polls = 1  # a clip is "running" once before it is done (a job_progress event)
        self.elevenlabs = FakeElevenLabs(api_key=KEYS["elevenlabs"])

    @property
    def providers(self) -> dict[str, Any]:
        return {"openai": self.openai, "leonardo": self.leonardo, "elevenlabs": self.elevenlabs}

    async def __aenter__(self) -> Self:
        await self.tg.start()
        for fake in self.providers.values():
            await fake.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for fake in self.providers.values():
            await fake.stop()
        await self.tg.stop()

    def flaky(self, rate: float, seed: int) -> None:
        for offset, fake in enumerate(self.providers.values()):
            fake.flaky(rate, seed + offset)

    def env(self, data_dir: Path, users: tuple[int, ...], workflow: Path | None) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "PYTHONPATH": str(ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            "TELEGRAM_BOT_TOKEN": self.tg.token,
            "TELEGRAM_API_BASE_URL": self.tg.base_url,
            "TELEGRAM_API_FILE_URL": self.tg.base_file_url,
            "CCBOT_ALLOWED_USERS": ",".join(map(str, users)),
            "CCBOT_DATA_DIR": str(data_dir),
            "CCBOT_LOG_LEVEL": "INFO",
            "OPENAI_API_KEY": KEYS["openai"], "OPENAI_BASE_URL": self.openai.base_url,
            "OPENAI_TIMEOUT_S": "1.5",
            "LEONARDO_API_KEY": KEYS["leonardo"], "LEONARDO_BASE_URL": self.leonardo.base_url,
            "ELEVENLABS_API_KEY": KEYS["elevenlabs"], "ELEVENLABS_BASE_URL": self.elevenlabs.base_url,
            "RESILIENCE_POLL_SCALE": "0.01",
            # people here tap with no pause at all: pacing one chat would only slow the checks down
            # (the flood gate has tests of its own: tests/test_flood.py)
            "CCBOT_CHAT_BURST": "1000",
            "RESILIENCE_HTTP_TIMEOUT_S": "1.5",
        }
        if workflow is not None:
            env["RESILIENCE_WORKFLOW"] = str(workflow)
        for key in ("CCBOT_JOBS", "CCBOT_QUEUE_POLL_S"):  # the job runner under test (engine/durable/)
            if key in os.environ:
                env[key] = os.environ[key]
        return env

    # ------------------------------------------------------------- counts
    def paid_creates(self) -> list[Any]:
        """Create requests the provider accepted (it started, and bills, the work)."""
        out = []
        for name, method, prefix in PAID_CREATES:
            fake = self.providers[name]
            out += [r for r in fake.requests if r.method == method and r.path.startswith(prefix)
                    and not r.path.startswith(prefix + "/") and 200 <= r.status < 300]
        return out

    def llm_calls(self) -> int:
        return len([r for r in self.openai.requests if r.path == "/v1/responses" and 200 <= r.status < 300])


# ============================================================ the bot process


# what a process started in each mode logs once it serves (long polling is seen at the fake instead)
READY_LINE = {"webhook": "webhook listening on", "worker": "running jobs and renders"}


class BotProcess:
    """One bot, restartable on the same data directory. `mode`: "poll" (`ccbot run`),
    "webhook" (`ccbot run --webhook`) or "worker" (`ccbot worker`); several processes
    may share one data directory, each with its own `name` (its log file)."""

    def __init__(self, fakes: Fakes, data_dir: Path, *, users: tuple[int, ...], workflow: Path | None,
                 env: dict[str, str] | None = None, mode: str = "poll", name: str = "bot") -> None:
        self.fakes = fakes
        self.data_dir = data_dir
        self.env = fakes.env(data_dir, users, workflow) | (env or {})
        self.mode = mode
        self.name = name
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.kills = 0  # deaths by SIGKILL (the fault hook's or ours)
        self.log_path = data_dir / f"{name}.log"
        data_dir.mkdir(parents=True, exist_ok=True)

    @property
    def tg(self) -> FakeTelegramServer:
        return self.fakes.tg

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, kill_after: str | None = None, timeout: float = 60.0, *,
                    kill_before: str | None = None) -> None:
        assert not self.alive
        env = dict(self.env)
        if kill_after:
            env["CCBOT_FAULT_KILL_AFTER"] = kill_after
        if kill_before:
            env["CCBOT_FAULT_KILL_BEFORE"] = kill_before
        mark = self.tg.mark()
        log_mark = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115, ASYNC230 - a local file, handed to the child
        try:
            # in a process group of its own, as under a service manager or in Docker
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.resilience.botproc", self.mode, cwd=str(self.data_dir), env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()
        self.starts += 1
        # ready: it has registered its commands, resumed its runs and asks for updates (or serves)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._ready(mark, log_mark):
            if not self.alive:
                await self._reap()
                if self.proc.returncode == -signal.SIGKILL:  # killed by its fault hook while resuming
                    return
                raise RuntimeError(f"the bot exited with {self.proc.returncode}:\n{self.log_tail()}")
            if loop.time() > deadline:
                raise TimeoutError(f"the bot did not start polling in {timeout} s:\n{self.log_tail()}")
            await asyncio.sleep(0.05)

    def _ready(self, mark: int, log_mark: int) -> bool:
        if self.mode in READY_LINE:
            with self.log_path.open("rb") as f:  # only what this start logged
                f.seek(log_mark)
                return READY_LINE[self.mode].encode() in f.read()
        return any(c.method == "getUpdates" for c in self.tg.calls[mark:])

    async def _reap(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 10)

    async def died(self) -> bool:
        """True (once per death) when the process is gone; counts SIGKILLs."""
        if self.proc is None or self.alive:
            return False
        await self._reap()
        if getattr(self.proc, "_counted", False):
            return False
        self.proc._counted = True  # type: ignore[attr-defined]
        if self.proc.returncode == -signal.SIGKILL:
            self.kills += 1
            return True
        raise RuntimeError(f"the bot exited with {self.proc.returncode}:\n{self.log_tail()}")

    async def kill(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            await self._reap()
        await self.died()

    async def stop(self) -> dict[str, Any]:
        """A clean stop (SIGTERM); returns the process's own stats (peak RSS...)."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.send_signal(signal.SIGKILL)
                await self._reap()
        stats = self.data_dir / "proc_stats.json"
        import json

        return json.loads(stats.read_text()) if stats.exists() else {}

    async def stop_group(self, timeout: float = 30.0) -> int:
        """Stop the bot the way a service manager or `docker stop` does: SIGTERM
        to its whole process group. Returns its exit code."""
        assert self.proc is not None and self.alive
        os.killpg(self.proc.pid, signal.SIGTERM)
        await asyncio.wait_for(self.proc.wait(), timeout)
        return int(self.proc.returncode or 0)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    @property
    def db_path(self) -> Path:
        return self.data_dir / "ccbot.sqlite3"


# ================================================================ the run log


class RunReader:
    """The latest run of an owner, rebuilt from the event log like a restart would.
    Reads SQLite; a subclass reads another database through `_rows`."""

    def __init__(self, db_path: Path, workflow_dir: Path) -> None:
        self.db_path = db_path
        self.workflow: WorkflowDef = load_workflow(workflow_dir, default_modules())
        self._cache: dict[str, tuple[int, RunState, list[Event]]] = {}
        self._con: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection | None:
        """One connection, kept (autocommit: every query sees the latest commit)."""
        if self._con is None:
            if not self.db_path.exists():
                return None
            self._con = sqlite3.connect(self.db_path, timeout=5, isolation_level=None)
        return self._con

    def _rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]] | None:
        """The rows of a query (`?` placeholders); None while the database or its tables do not exist."""
        con = self._connect()
        if con is None:
            return None
        try:
            return con.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # not created yet
            return None

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def run_id(self, owner: str) -> str | None:
        rows = self._rows("SELECT run_id FROM runs WHERE owner=? ORDER BY created_at DESC LIMIT 1", owner)
        return rows[0][0] if rows else None

    def events(self, run_id: str) -> list[Event]:
        return self._load(run_id)[2]

    def run(self, run_id: str) -> RunState:
        return self._load(run_id)[1]

    def latest(self, owner: str) -> RunState | None:
        run_id = self.run_id(owner)
        return self.run(run_id) if run_id else None

    def _load(self, run_id: str) -> tuple[int, RunState, list[Event]]:
        ((last,),) = self._rows("SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id=?", run_id) or [(0,)]
        cached = self._cache.get(run_id)
        if cached and cached[0] == last:
            return cached
        rows = self._rows("SELECT seq, run_id, type, step_id, module_name, data, created_at FROM events"
                          " WHERE run_id=? ORDER BY seq", run_id) or []
        events = [Event(r[0], r[1], r[2], r[3], r[4], loads(r[5]), r[6]) for r in rows]
        result = (last, Fold(self.workflow, lambda _module, _outputs: None).replay(events), events)
        self._cache[run_id] = result
        return result

    def lineage(self, run_id: str) -> list[Event]:
        """The events that count (a jump drops everything from its fork on)."""
        effective: list[Event] = []
        for event in self.events(run_id):
            if event.type == "jump_requested":
                effective = [e for e in effective if e.seq < int(event.data["fork_before_seq"])]
            effective.append(event)
        return effective

    def answers(self, run_id: str) -> list[tuple[str, str]]:
        """Every answer in the run's lineage, normalised (content ids become "#n of the step")."""
        run = self.run(run_id)
        numbers: dict[str, int] = {}
        for job in run.jobs.values():
            for cid in job.content_ids:
                numbers[cid] = len([c for c in numbers if run.contents.get(c, {}).get("prompt_key")
                                    == run.contents.get(cid, {}).get("prompt_key")]) + 1
        out = []
        for event in self.lineage(run_id):
            if event.type != "interaction_response":
                continue
            data = {k: v for k, v in event.data.items() if k != "interaction_id"}
            if "selected_content_id" in data:
                content = run.contents.get(data["selected_content_id"], {})
                data["selected_content_id"] = f"{content.get('prompt_key')}#{numbers.get(data['selected_content_id'])}"
            out.append((event.module_name or "", repr(sorted(data.items()))))
        return out


# ================================================================== a person


@dataclass
class Press:
    label: str  # a part of the button's text
    target: str  # the interaction id (or "retry", "menu") the button must be made for


@dataclass
class Wait:
    why: str = ""


@dataclass
class Done:
    delivered: bool = True  # False: stop here (the policy's `stop_at`), nothing more to wait for


class Stuck(AssertionError):
    """The person cannot go on: the bot shows no button for what is pending."""


@dataclass
class Person:
    tg: FakeTelegramServer
    user: int
    secret: bytes
    presses: int = 0
    pressed: list[tuple[str, str]] = field(default_factory=list)
    taps: list[tuple[str, float]] = field(default_factory=list)  # (callback query id, monotonic time)
    waits: list[float] = field(default_factory=list)  # s from a tap until the next question was on screen
    chaser: str | None = None  # a command sent right after each tap: two updates of one person at once

    @property
    def owner(self) -> str:
        return owner_of(self.user)

    def find(self, press: Press) -> tuple[int, str] | None:
        """The newest bot message with such a button: (message id, callback data)."""
        for message in reversed(self.tg.bot_messages(self.user)):
            for text, data in self.tg.buttons_of(message):
                if press.label not in text or data is None:
                    continue
                decoded = callbacks.decode(data, self.secret)
                if decoded is not None and decoded.matches(press.target):
                    return message["message_id"], data
        return None

    def tap(self, message_id: int, data: str, label: str) -> str:
        self.presses += 1
        self.pressed.append((label, data))
        if self.taps:
            self.waits.append(time.monotonic() - self.taps[-1][1])
        query = self.tg.inject_callback(self.user, message_id, data)
        self.taps.append((query, time.monotonic()))
        if self.chaser:
            self.tg.inject_command(self.user, self.chaser)
        return query

    def answer_latencies(self) -> list[float]:
        """s from each tap to the bot's answer to it (the spinner stops)."""
        answered = {c.params.get("callback_query_id"): c.time for c in self.tg.calls_to("answerCallbackQuery") if c.ok}
        return [answered[q] - at for q, at in self.taps if q in answered]

    def texts(self) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.tg.bot_messages(self.user)]


def secret_for(fakes: Fakes) -> bytes:
    return callback_secret(Settings(_env_file=None, telegram_bot_token=fakes.tg.token))


# ================================================================== policies

Policy = Callable[[RunState, "Person", dict[str, int]], "Press | Wait | Done"]
SELECT_FIRST = {"select_aesthetic": "Comfort", "select_duration": "seconds", "select_pet_type": "Cat",
                "select_pet": "Cat", "select_scene": "1.", "select_idea": "1.", "select_text_overlay": "1.",
                "select_title": "1.", "select_description": "1.", "select_music_option": "1.",
                "review_final_video": "Looks great"}
TEXT_SKIP = {"get_user_direction", "ask_direction"}
FILE_SKIP = {"get_pet_photo": "No photo"}  # the CC workflow's first question: a photo of your own pet
MULTI = {"select_motion_elements", "select_features"}
RETRY_ONCE = {"select_scene": "New scene ideas", "select_idea": "New ideas"}
JUMP_ONCE = {"generate_and_select_videos": "Go back to image selection"}


def make_policy(*, retry: bool = False, jump: bool = False, stop_at: str | None = None,
                before_generate: Callable[[str, int], None] | None = None) -> Policy:
    """First choices everywhere; with `retry`, new scene ideas once (default
    feedback); with `jump`, back from the video to the images once.
    `before_generate(module, attempt)` runs before each Generate tap; at
    `stop_at` (a module name) the drive ends once its question is on screen."""

    def policy(run: RunState, person: Person, counts: dict[str, int]) -> Press | Wait | Done:
        if run.status == "completed":
            return Done()
        if run.status != "active":
            raise AssertionError(f"the run is {run.status}")
        if run.pending is None:
            if run.last_error is not None:
                return Press("Try again", "retry")
            return Wait("the engine is working")
        request = run.pending["request"]
        iid, module = request["interaction_id"], request["module_name"]
        if module == stop_at:
            return Done(delivered=False) if person.find(Press("", iid)) else Wait("not on screen yet")
        if retry and module in RETRY_ONCE and counts.get("retry_requested", 0) == 0:
            default = Press("Just:", iid)
            return default if person.find(default) else Press(RETRY_ONCE[module], iid)
        if jump and module in JUMP_ONCE and counts.get("jump_requested", 0) == 0:
            return Press(JUMP_ONCE[module], iid)
        if module in SELECT_FIRST:
            return Press(SELECT_FIRST[module], iid)
        if module in TEXT_SKIP:
            return Press("Skip", iid)
        if module in FILE_SKIP:
            return Press(FILE_SKIP[module], iid)
        if module in MULTI:
            done = Press("Done (1", iid)
            return done if person.find(done) else Press("▫️", iid)
        jobs = [j for j in run.jobs.values() if j.interaction_id == iid]
        if any(j.status == "completed" and j.content_ids for j in jobs):
            return Press("Pick #1", iid)
        if any(j.status in ("created", "submitted", "running") for j in jobs):
            return Wait("a generation is running")
        if before_generate is not None:
            before_generate(module, len(jobs))
        return Press("Generate with", iid)

    return policy


# ==================================================================== driving


@dataclass
class DriveResult:
    run_id: str
    presses: int
    restarts: int
    seconds: float
    recoveries: int = 0  # times the person followed "/status shows where you are"


async def drive(bot: BotProcess, reader: RunReader, person: Person, policy: Policy, *,
                restart: Callable[[], Awaitable[None]] | None = None, timeout: float = 240.0,
                show_timeout: float = 15.0, start: bool = True, recover: bool = False) -> DriveResult:
    """/new (unless `start` is False: go on with the current run), then tap
    through until the run is finished and delivered (or the policy stops).

    After every SIGKILL the bot is started again (`restart`, default: plain
    start). The person never types /status: if the pending question is not on
    screen within `show_timeout` s of a live bot, that is a Stuck failure.
    With `recover`, a person who was told "/status shows where you are" does
    just that (and taps "Show the current question").
    """
    tg = bot.tg
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + timeout
    restarts = recoveries = 0

    async def revive() -> bool:
        nonlocal restarts
        if await bot.died():
            restarts += 1
            await (restart() if restart else bot.start())
            return True
        return False

    if start:
        tg.inject_command(person.user, "/new")
    run_id = None
    missing_since: float | None = None
    while True:
        if loop.time() > deadline:
            raise TimeoutError(f"the run did not finish in {timeout} s:\n{bot.log_tail()}")
        if await revive():
            missing_since = None
            continue
        run_id = reader.run_id(person.owner)
        if run_id is None:
            await asyncio.sleep(0.05)
            continue
        run = reader.run(run_id)
        counts = Counter(e.type for e in reader.events(run_id))
        decision = policy(run, person, counts)
        if isinstance(decision, Done) and not decision.delivered:
            return DriveResult(run_id, person.presses, restarts, loop.time() - started, recoveries)
        if isinstance(decision, Done):  # the finished video must reach the chat (from this process or the next)
            until = loop.time() + show_timeout
            while not any("Your video is ready to post" in t for t in person.texts()):
                if await revive():
                    until = loop.time() + show_timeout
                elif loop.time() > until:
                    raise Stuck(f"the finished run was never delivered:\n{bot.log_tail()}")
                await asyncio.sleep(0.05)
            return DriveResult(run_id, person.presses, restarts, loop.time() - started, recoveries)
        if isinstance(decision, Wait):
            await asyncio.sleep(0.05)
            missing_since = None
            continue
        found = person.find(decision)
        if found is None:
            now = loop.time()
            missing_since = missing_since or now
            told = person.texts()[-1:] and "/status shows where you are" in person.texts()[-1]
            if recover and told and now - missing_since > 1.0 and bot.alive:
                recoveries += 1
                tg.inject_command(person.user, "/status")
                show = Press("Show the current question", "menu")
                await tg.wait_for(lambda show=show: person.find(show), show_timeout)
                person.tap(*person.find(show), show.label)
                missing_since = None
                await asyncio.sleep(0.2)
                continue
            if now - missing_since > show_timeout and bot.alive:
                raise Stuck(f"no '{decision.label}' button for the pending {run.pending and run.pending['request']['module_name']}"
                            f" (error: {run.last_error}); last texts: {person.texts()[-4:]}\n{bot.log_tail()}")
            await asyncio.sleep(0.05)
            continue
        missing_since = None
        seq = run.last_seq
        query = person.tap(*found, decision.label)
        # settled: the log moved on, or the tap was answered and the chat went quiet
        settle_deadline = loop.time() + 30
        while loop.time() < settle_deadline and bot.alive:
            if reader.run(run_id).last_seq != seq:
                break
            if tg.callback_answer(query) is not None or tg._callbacks.get(query, {}).get("answered"):
                calls = len(tg.calls)
                await asyncio.sleep(0.15)
                if len(tg.calls) == calls and reader.run(run_id).last_seq == seq:
                    break
            await asyncio.sleep(0.03)


# ==================================================================== tally


@dataclass
class Tally:
    answers: list[tuple[str, str]]
    jobs: int
    submitted_events: int
    double_submitted_jobs: int  # our jobs with more than one job_submitted event
    paid_creates: int  # accepted create requests at the providers
    llm_calls: int
    llm_call_events: int
    media_sent: int
    media_sent_twice: int  # (file, caption) pairs uploaded more than once
    interrupted: int  # jobs failed as "interrupted before the provider confirmed"
    taps_handled_twice: int  # taps the bot tried to answer more than once (an update handled again)

    @property
    def paid_twice(self) -> int:
        """Paid work beyond what the log accounts for, plus jobs submitted twice."""
        return max(0, self.paid_creates - self.submitted_events) + self.double_submitted_jobs


def tally(fakes: Fakes, reader: RunReader, run_ids: list[str], chats: list[int]) -> Tally:
    answers: list[tuple[str, str]] = []
    jobs = submitted = double = llm_events = interrupted = 0
    for run_id in run_ids:
        events = reader.events(run_id)
        answers += reader.answers(run_id)
        per_job = Counter(e.data["job_id"] for e in events if e.type == "job_submitted")
        jobs += len({e.data["job_id"] for e in events if e.type == "job_created"})
        submitted += sum(per_job.values())
        double += sum(1 for n in per_job.values() if n > 1)
        llm_events += sum(1 for e in events if e.type == "llm_call")
        interrupted += sum(1 for e in events if e.type == "job_failed" and "interrupted" in str(e.data.get("error")))
    sends = Counter()
    for call in fakes.tg.calls:
        if call.method in MEDIA_METHODS and call.ok and call.params.get("chat_id") in chats + [str(c) for c in chats]:
            names = tuple(sorted(f.filename or "" for f in call.files.values()))
            sends[(call.params.get("chat_id"), names, call.params.get("caption"))] += 1
    return Tally(answers, jobs, submitted, double, len(fakes.paid_creates()), fakes.llm_calls(), llm_events,
                 sum(sends.values()), sum(1 for n in sends.values() if n > 1), interrupted,
                 taps_handled_twice(fakes.tg))


def taps_handled_twice(tg: FakeTelegramServer) -> int:
    """Callback queries answered (or tried: a second try gets "query is too old") more than once.
    A 429 retried by the rate limiter is the same handling, so it does not count."""
    attempts = Counter(c.params.get("callback_query_id") for c in tg.calls_to("answerCallbackQuery")
                       if c.status in (200, 400))
    return sum(1 for n in attempts.values() if n > 1)


def user_visible_problems(fakes: Fakes, chats: list[int]) -> list[str]:
    """Texts no person should ever read: tracebacks, exception names, secrets."""
    bad = ("Traceback", "Error:", "Exception", "File \"", "sqlite", "httpx", "aiohttp", *KEYS.values(),
           fakes.tg.token)
    out = []
    for chat in chats:
        for message in fakes.tg.bot_messages(chat):
            text = (message.get("text") or "") + (message.get("caption") or "")
            out += [text for needle in bad if needle in text]
    for call in fakes.tg.calls_to("answerCallbackQuery"):
        text = str(call.params.get("text") or "")
        out += [text for needle in bad if needle in text]
    return out


def secrets_in_log(text: str, fakes: Fakes) -> list[str]:
    return [name for name, key in [*KEYS.items(), ("telegram", fakes.tg.token)] if key in text]


async def settle(tg: FakeTelegramServer, quiet_s: float = 0.2, timeout: float = 30.0, answered: bool = True) -> None:
    """Until the bot has made no API call (getUpdates aside) for `quiet_s` and
    (with `answered`) every callback query is answered."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last, since = -1, loop.time()
    while loop.time() < deadline:
        count = len([c for c in tg.calls if c.method != "getUpdates"])
        if count != last or (answered and tg.unanswered_callbacks()) or tg.pending_updates():
            last, since = count, loop.time()
        elif loop.time() - since >= quiet_s:
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"the bot was still busy after {timeout} s")


def provider_requests(fakes: Fakes) -> int:
    return sum(len(f.requests) for f in fakes.providers.values())
