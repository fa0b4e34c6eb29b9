"""Several bot processes and a worker on one PostgreSQL, driven like one bot.

- `Cluster`: three `ccbot run --webhook` processes (CCBOT_ROLE=bot: they only
  enqueue jobs) and one `ccbot worker`, all `tests.resilience.botproc`
  processes on one data folder (the media folder is shared, as a volume is
  in docker-compose.yml) and one database. The fake Bot API stands in for the
  reverse proxy: each delivery attempt of an update goes to the next bot in
  turn (`proxy_targets`), and an update is posted again until a bot answers
  200. The cluster looks like one `BotProcess` to `drive` (tg, alive, died,
  log_tail): the test kills and restarts its processes itself.
- `PgRunReader`: the resilience `RunReader` over PostgreSQL.
- What the world saw, per chat: updates handled (the store's `update:` claims)
  and the order they were handled in, files delivered.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

from tests.fakes.telegram_server import FakeTelegramServer
from tests.resilience.harness import MEDIA_METHODS, PAID_CREATES, BotProcess, Fakes, RunReader

WEBHOOK_URL = "https://bot.example.test/telegram"  # what Telegram is told; the proxy targets are what it reaches
WEBHOOK_SECRET = "scaled-test-webhook-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    def __init__(self, fakes: Fakes, data_dir: Path, url: str, *, users: tuple[int, ...], workflow: Path,
                 bots: int = 3) -> None:
        self.fakes = fakes
        common = {
            "CCBOT_DATABASE_URL": url, "CCBOT_JOBS": "dbos", "CCBOT_QUEUE_POLL_S": "0.05",
            "CCBOT_HEARTBEAT_S": "0.5", "CCBOT_EXECUTOR_DEAD_AFTER_S": "5",
            "WEBHOOK_URL": WEBHOOK_URL, "WEBHOOK_SECRET": WEBHOOK_SECRET, "WEBHOOK_LISTEN": "127.0.0.1",
        }
        ports = [free_port() for _ in range(bots)]
        # the slot names the DBOS executor: a restart in the same slot is the same process again
        self.bots = [BotProcess(fakes, data_dir, users=users, workflow=workflow, mode="webhook", name=f"bot{i}",
                                env=common | {"CCBOT_ROLE": "bot", "CCBOT_PROCESS_SLOT": str(i),
                                              "WEBHOOK_PORT": str(port)})
                     for i, port in enumerate(ports)]
        self.worker = BotProcess(fakes, data_dir, users=users, workflow=workflow, mode="worker", name="worker",
                                 env=common | {"CCBOT_ROLE": "worker", "CCBOT_PROCESS_SLOT": "0",
                                               "CCBOT_JOB_CONCURRENCY": str(max(8, len(users)))})
        fakes.tg.proxy_targets = [f"http://127.0.0.1:{port}/telegram" for port in ports]

    @property
    def processes(self) -> list[BotProcess]:
        return [*self.bots, self.worker]

    # ----------------------------------------------- what `drive` asks of a bot
    @property
    def tg(self) -> FakeTelegramServer:
        return self.fakes.tg

    @property
    def alive(self) -> bool:
        """Someone can take the person's next update."""
        return any(bot.alive for bot in self.bots)

    async def died(self) -> bool:
        """Deaths are the test's own doing (SIGKILL, and it restarts them); any other exit is an error.
        (Not `BotProcess.died`: the test may restart a process while this looks.)"""
        for proc in self.processes:
            code = proc.proc.returncode if proc.proc is not None else None
            if code not in (None, -signal.SIGKILL):
                raise RuntimeError(f"{proc.name} exited with {code}:\n{proc.log_tail()}")
        return False

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(f"--- {p.name}\n{p.log_tail(lines)}" for p in self.processes)

    # ------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        await self.bots[0].start()  # first alone: the schema and DBOS's tables are made once
        await asyncio.gather(*(p.start() for p in [*self.bots[1:], self.worker]))

    async def stop(self) -> None:
        await asyncio.gather(*(p.stop() for p in self.processes))

    def logs(self) -> str:
        return "\n".join(p.log_text() for p in self.processes)


class PgRunReader(RunReader):
    """The run log read from PostgreSQL (one autocommit connection: every query sees the latest commit)."""

    def __init__(self, url: str, workflow_dir: Path) -> None:
        super().__init__(Path("/nonexistent"), workflow_dir)  # no SQLite file: every query goes through _rows
        self.url = url
        self._pg: psycopg.Connection[Any] | None = None

    def _rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]] | None:
        if self._pg is None:
            self._pg = psycopg.connect(self.url, autocommit=True)
        try:
            return self._pg.execute(re.sub(r"\?", "%s", sql) if args else sql, args or None).fetchall()
        except psycopg.errors.UndefinedTable:
            return None

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()
            self._pg = None

    def handled_updates(self) -> list[int]:
        """Update ids the bots marked handled, in the order they were handled."""
        rows = self._rows("SELECT key FROM claims WHERE key LIKE 'update:%' ORDER BY created_at, key") or []
        return [int(key.split(":", 1)[1]) for (key,) in rows]

    def runs_of(self, owner: str) -> int:
        ((count,),) = self._rows("SELECT COUNT(*) FROM runs WHERE owner=?", owner) or [(0,)]
        return int(count)


# ================================================================ what the world saw


def user_of(update: dict[str, Any]) -> int | None:
    for kind in ("message", "callback_query", "edited_message"):
        if kind in update:
            return int(update[kind]["from"]["id"])
    return None


def out_of_order(tg: FakeTelegramServer, handled: list[int]) -> dict[int, list[int]]:
    """Per person whose updates were handled in another order than they were sent: that order.
    Update ids grow with each update a person sends, so handled in order means ascending."""
    users = {u["update_id"]: user_of(u) for u in tg.injected}
    per_user: dict[int, list[int]] = {}
    for update_id in handled:
        per_user.setdefault(users.get(update_id) or 0, []).append(update_id)
    return {user: ids for user, ids in per_user.items() if ids != sorted(ids)}


def never_confirmed(tg: FakeTelegramServer) -> list[int]:
    """Updates no bot ever answered 200 for (Telegram would have given up on them)."""
    confirmed = {update_id for update_id, status in tg.webhook_deliveries if status == 200}
    return [u["update_id"] for u in tg.injected if u["update_id"] not in confirmed]


def files_sent(tg: FakeTelegramServer, chat: int) -> Counter[tuple[str, tuple[str, ...]]]:
    """(method, uploaded file names) of every file sent to a chat, counted; an album counts as one."""
    sent: Counter[tuple[str, tuple[str, ...]]] = Counter()
    for call in tg.calls:
        if call.ok and call.method in (*MEDIA_METHODS, "sendMediaGroup") and str(call.params.get("chat_id")) == str(chat):
            sent[(call.method, tuple(sorted(f.filename or "" for f in call.files.values())))] += 1
    return sent


def reactions_in_order(tg: FakeTelegramServer, taps: list[str]) -> bool:
    """The bot answered a person's taps (first answerCallbackQuery for each) in the order they were made."""
    first: dict[str, int] = {}
    for index, call in enumerate(tg.calls_to("answerCallbackQuery")):
        first.setdefault(str(call.params.get("callback_query_id")), index)
    order = [first[q] for q in taps if q in first]
    return order == sorted(order)


def paid_by_provider(fakes: Fakes, reader: RunReader, run_ids: list[str]) -> dict[str, dict[str, int]]:
    """Per provider: create requests it accepted ("paid"), and our jobs that were about to be sent to it
    ("submitting": each is sent once at most, after its `job_submitting` record) and that it confirmed
    ("submitted"; of them "recovered": found at the provider after their process died while sending).
    A job whose process died while sending it, and that was not found, was paid without a confirmation."""
    out: dict[str, Counter[str]] = {}
    for name, method, prefix in PAID_CREATES:
        out.setdefault(name, Counter())["paid"] += sum(
            1 for r in fakes.providers[name].requests if r.method == method and r.path.startswith(prefix)
            and not r.path.startswith(prefix + "/") and 200 <= r.status < 300)
    for run_id in run_ids:
        events = reader.events(run_id)
        provider_of = {e.data["job_id"]: e.data["provider"] for e in events if e.type == "job_created"}
        for e in events:
            if e.type in ("job_submitting", "job_submitted"):
                counts = out.setdefault(provider_of.get(e.data["job_id"], "?"), Counter())
                counts[e.type.removeprefix("job_")] += 1
                counts["recovered"] += bool(e.data.get("recovered"))  # found at the provider after a death
    return {name: dict(counts) for name, counts in sorted(out.items())}


def jobs_sent_twice(reader: RunReader, run_ids: list[str]) -> list[str]:
    """Jobs of ours that were (about to be) sent to a provider more than once."""
    sends: Counter[str] = Counter()
    for run_id in run_ids:
        sends.update(e.data["job_id"] for e in reader.events(run_id) if e.type == "job_submitting")
    return [job for job, n in sends.items() if n > 1]
