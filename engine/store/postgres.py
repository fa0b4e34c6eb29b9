"""The scaled store: PostgreSQL through an asyncpg pool, shared by several processes.

The same schema and semantics as SQLite (engine/store/schema.py), plus what
several processes need: `lock()` is a PostgreSQL advisory lock (a run, a
person), `last_seq()` tells a process its cached run is behind, and
`publish()`/`listen()` carry engine events between processes (LISTEN/NOTIFY).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg

from engine.locks import KeyedLocks
from engine.store.base import Store
from engine.store.records import (
    Event,
    ExecutorRow,
    JobChange,
    NewEvent,
    PersonRow,
    RunRow,
    SessionRow,
    SpendChange,
    SpendRow,
    dumps_bytes,
    keyword_record,
    loads,
)
from engine.store.schema import POSTGRES, migrations

log = logging.getLogger(__name__)

_RUN_COLUMNS = "run_id, owner, workflow_id, status, created_at, updated_at"
_SESSION_COLUMNS = "run_id, owner, key, data, updated_at"
CHANNEL = "ccbot_events"
NOTIFY_LIMIT = 7000  # PostgreSQL caps a NOTIFY payload at 8000 bytes


def _where(*filters: tuple[str, Any]) -> tuple[str, list[Any]]:
    """A WHERE clause of `column=$n` for each filter given (None: not filtered), and its values."""
    args = [value for _, value in filters if value is not None]
    clauses = [f"{column}=${n}" for n, column in
               enumerate((column for column, value in filters if value is not None), start=1)]
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), args


def _key64(namespace: str, key: str) -> int:
    """A stable signed 64-bit advisory-lock key for a name."""
    digest = hashlib.blake2b(f"{namespace}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresStore(Store):
    shared = True

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self._pool = pool
        self.url = url
        self.path = None
        self._listener: asyncpg.Connection | None = None
        self._locker: asyncpg.Connection | None = None  # the advisory locks' own connection
        self._locker_guard = asyncio.Lock()  # one statement at a time on it
        self._held = KeyedLocks()  # one holder per key in this process

    @classmethod
    async def open(cls, url: str, *, min_size: int = 2, max_size: int = 40) -> PostgresStore:
        pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size)
        store = cls(pool, url)
        await store._migrate()
        return store

    async def close(self) -> None:
        if self._locker is not None:
            with contextlib.suppress(Exception):
                await self._locker.close()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
        await self._pool.close()

    async def _migrate(self) -> None:
        async with self._pool.acquire() as con, con.transaction():
            # one migrator at a time when several processes start together
            await con.execute("SELECT pg_advisory_xact_lock($1)", _key64("ccbot", "migrate"))
            await con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = await con.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            for version, script in enumerate(migrations(POSTGRES), start=1):
                if version > current:
                    for statement in script:
                        await con.execute(statement)
                    await con.execute("INSERT INTO schema_version(version) VALUES ($1)", version)

    # ------------------------------------------------------------- sharing
    @contextlib.asynccontextmanager
    async def lock(self, namespace: str, key: str) -> AsyncIterator[None]:
        """Held by one holder at a time in all processes: in this process a local lock
        per key, across processes a session-level advisory lock, every one of this
        process's on one connection kept for them alone. Holders never tie up the pool
        their own work needs: when each held a pooled connection, 40 people's updates
        at once took all of them and then waited for one more, and nobody was answered
        again. Another process's hold is waited out by retrying pg_try_advisory_lock
        (5 ms, doubling to 100 ms): only one person's updates in two processes at once wait."""
        lock_key = _key64(namespace, key)
        async with self._held((namespace, key)):
            pause = 0.005
            while not await self._on_locker("SELECT pg_try_advisory_lock($1)", lock_key):
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.1)
            try:
                yield
            finally:
                if not await self._on_locker("SELECT pg_advisory_unlock($1)", lock_key):
                    log.warning("the lock %s/%s was lost with its connection while held", namespace, key)

    async def _on_locker(self, sql: str, lock_key: int) -> bool:
        async with self._locker_guard:
            if self._locker is None or self._locker.is_closed():
                self._locker = await asyncpg.connect(self.url)
            return bool(await self._locker.fetchval(sql, lock_key))

    async def last_seq(self, run_id: str) -> int:
        return int(await self._pool.fetchval("SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id=$1", run_id))

    async def publish(self, message: dict[str, Any]) -> None:
        payload = json.dumps(message, separators=(",", ":"), default=str)
        if len(payload.encode("utf-8")) > NOTIFY_LIMIT:
            log.warning("event %s too large to pass on (%d bytes)", message.get("type"), len(payload))
            return
        await self._pool.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)

    async def listen(self, callback: Callable[[dict[str, Any]], Awaitable[None] | None]) -> None:
        """Every published message (from any process, this one included) reaches `callback`."""
        self._listener = await asyncpg.connect(self.url)

        def on_notify(_con: Any, _pid: int, _channel: str, payload: str) -> None:
            try:
                result = callback(json.loads(payload))
                if inspect.isawaitable(result):
                    asyncio.ensure_future(result)
            except Exception:  # a bad message must not stop the listener
                log.exception("could not handle an engine event from another process")

        await self._listener.add_listener(CHANNEL, on_notify)

    # ---------------------------------------------------------------- runs
    async def create_run(self, run_id: str, owner: str, workflow_id: str) -> None:
        now = time.time()
        await self._pool.execute(f"INSERT INTO runs({_RUN_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6)",
                                 run_id, owner, workflow_id, "active", now, now)

    async def append(self, run_id: str, events: list[NewEvent], *, run_status: str | None = None,
                     jobs: list[JobChange] | None = None, spend: list[SpendChange] | None = None) -> list[Event]:
        if not events:
            return []
        self.committing(events)
        now = time.time()
        values = ",".join(f"(${i * 5 + 1},${i * 5 + 2},${i * 5 + 3},${i * 5 + 4},${i * 5 + 5},${len(events) * 5 + 1})"
                          for i in range(len(events)))
        args: list[Any] = [v for e in events for v in (run_id, e.type, e.step_id, e.module_name, dumps_bytes(e.data))]
        async with self._pool.acquire() as con, con.transaction():
            seqs = [r[0] for r in await con.fetch(
                "INSERT INTO events(run_id, type, step_id, module_name, data, created_at)"
                f" VALUES {values} RETURNING seq", *args, now)]
            await con.execute("UPDATE runs SET updated_at=$1" + (", status=$3" if run_status else "") +
                              " WHERE run_id=$2", *((now, run_id, run_status) if run_status else (now, run_id)))
            for job in jobs or []:
                await con.execute(
                    "INSERT INTO jobs(job_id, run_id, interaction_id, request_key, status, updated_at)"
                    " VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT(job_id) DO UPDATE SET status=excluded.status,"
                    " updated_at=excluded.updated_at",
                    job.job_id, run_id, job.interaction_id, job.request_key, job.status, now)
            await _spend(con, spend or [], now)
        self.committed(events)
        return [Event(seq, run_id, e.type, e.step_id, e.module_name, e.data, now)
                for seq, e in zip(sorted(seqs), events, strict=True)]

    async def write_snapshot(self, run_id: str, seq: int, state: dict[str, Any]) -> None:
        await self._pool.execute("INSERT INTO snapshots(run_id, seq, state) VALUES ($1,$2,$3) ON CONFLICT(run_id)"
                                 " DO UPDATE SET seq=excluded.seq, state=excluded.state",
                                 run_id, seq, dumps_bytes(state))

    async def get_run(self, run_id: str) -> RunRow | None:
        row = await self._pool.fetchrow(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id=$1", run_id)
        return RunRow(*row) if row else None

    async def list_runs(self, owner: str | None = None, status: str | None = None, limit: int = 50) -> list[RunRow]:
        where, args = _where(("owner", owner), ("status", status))
        rows = await self._pool.fetch(f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY updated_at DESC"
                                      f" LIMIT ${len(args) + 1}", *args, limit)
        return [RunRow(*r) for r in rows]

    async def events(self, run_id: str, after_seq: int = 0) -> list[Event]:
        rows = await self._pool.fetch("SELECT seq, run_id, type, step_id, module_name, data, created_at FROM events"
                                      " WHERE run_id=$1 AND seq>$2 ORDER BY seq", run_id, after_seq)
        return [Event(r[0], r[1], r[2], r[3], r[4], loads(r[5]), r[6]) for r in rows]

    async def snapshot(self, run_id: str) -> tuple[int, dict[str, Any]] | None:
        row = await self._pool.fetchrow("SELECT seq, state FROM snapshots WHERE run_id=$1", run_id)
        return (row[0], loads(row[1])) if row else None

    # ------------------------------------------------------------ keywords
    async def load_keywords(
        self, owner: str, workflow_id: str, source: str | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = await self._pool.fetch("SELECT keyword, category, weight, source, last_used FROM keywords"
                                      " WHERE owner=$1 AND workflow_id=$2 AND ($3::text IS NULL OR source=$3)"
                                      " ORDER BY weight DESC, last_used DESC LIMIT $4",
                                      owner, workflow_id, source, limit)
        return [keyword_record(*r) for r in rows]

    async def save_keywords(self, owner: str, workflow_id: str, keywords: list[dict[str, Any]], source: str,
                            accumulate: bool) -> int:
        update = "weight = keywords.weight + excluded.weight" if accumulate else "weight = excluded.weight"
        sql = ("INSERT INTO keywords(owner, workflow_id, keyword, category, weight, source, last_used)"
               " VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT(owner, workflow_id, keyword) DO UPDATE SET "
               f"{update}, category=excluded.category, last_used=excluded.last_used,"
               " source = CASE WHEN keywords.source='selected' THEN 'selected' ELSE excluded.source END")
        now, rows = time.time(), []
        for item in keywords:
            keyword = str(item.get("keyword", "")).strip().lower()[:80]
            if keyword:
                rows.append((owner, workflow_id, keyword, str(item.get("category", ""))[:40],
                             float(item.get("weight") or 0), source, now))
        if rows:
            async with self._pool.acquire() as con, con.transaction():
                await con.executemany(sql, rows)
        return len(rows)

    # ------------------------------------------------------------ sessions
    async def session_of_owner(self, owner: str) -> SessionRow | None:
        return await self._session("WHERE owner=$1 ORDER BY updated_at DESC LIMIT 1", owner)

    async def session(self, run_id: str) -> SessionRow | None:
        return await self._session("WHERE run_id=$1", run_id)

    async def session_by_key(self, key: str) -> SessionRow | None:
        return await self._session("WHERE key=$1 ORDER BY updated_at DESC LIMIT 1", key)

    async def _session(self, where: str, arg: str) -> SessionRow | None:
        row = await self._pool.fetchrow(f"SELECT {_SESSION_COLUMNS} FROM sessions {where}", arg)
        return SessionRow(row[0], row[1], row[2], json.loads(row[3]), row[4]) if row else None

    async def save_session(self, run_id: str, owner: str, key: str | None, data: dict[str, Any]) -> None:
        await self._pool.execute("INSERT INTO sessions(run_id, owner, key, data, updated_at) VALUES ($1,$2,$3,$4,$5)"
                                 " ON CONFLICT(run_id) DO UPDATE SET key=excluded.key, data=excluded.data,"
                                 " updated_at=excluded.updated_at",
                                 run_id, owner, key, json.dumps(data, separators=(",", ":")), time.time())

    async def delete_session(self, run_id: str) -> None:
        await self._pool.execute("DELETE FROM sessions WHERE run_id=$1", run_id)

    async def sessions(self, limit: int = 1000) -> list[SessionRow]:
        rows = await self._pool.fetch(f"SELECT {_SESSION_COLUMNS} FROM sessions ORDER BY updated_at DESC LIMIT $1",
                                      limit)
        return [SessionRow(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    # -------------------------------------------------------------- claims
    async def claim(self, keys: list[str], run_id: str = "") -> list[bool]:
        if not keys:
            return []
        unique = list(dict.fromkeys(keys))
        rows = await self._pool.fetch("INSERT INTO claims(key, run_id, created_at) SELECT k, $2, $3 FROM"
                                      " unnest($1::text[]) AS k ON CONFLICT(key) DO NOTHING RETURNING key",
                                      unique, run_id, time.time())
        taken, seen = {r[0] for r in rows}, set()
        out = []
        for key in keys:  # a key named twice in one call is taken once
            out.append(key in taken and key not in seen)
            seen.add(key)
        return out

    async def claimed(self, key: str) -> bool:
        return bool(await self._pool.fetchval("SELECT 1 FROM claims WHERE key=$1", key))

    async def release(self, key: str) -> None:
        await self._pool.execute("DELETE FROM claims WHERE key=$1", key)

    async def prune_claims(self, before: float) -> int:
        status = await self._pool.execute("DELETE FROM claims WHERE run_id='' AND created_at < $1", before)
        return int(status.split()[-1])  # "DELETE <n>"

    # --------------------------------------------------------------- money
    async def record_spend(self, changes: list[SpendChange]) -> None:
        if changes:
            async with self._pool.acquire() as con, con.transaction():
                await _spend(con, changes, time.time())

    async def spent_usd(self, owner: str, month: str) -> float:
        value = await self._pool.fetchval("SELECT COALESCE(SUM(CASE WHEN status='released' THEN 0 ELSE"
                                          " COALESCE(actual_usd, estimate_usd) END), 0) FROM spend"
                                          " WHERE owner=$1 AND month=$2", owner, month)
        return float(value or 0.0)

    async def spend_rows(self, month: str | None = None, owner: str | None = None) -> list[SpendRow]:
        where, args = _where(("month", month), ("owner", owner))
        rows = await self._pool.fetch("SELECT key, owner, run_id, provider, kind, estimate_usd, actual_usd, credits,"
                                      f" status, month, created_at FROM spend {where} ORDER BY created_at", *args)
        return [SpendRow(*r) for r in rows]

    # -------------------------------------------------------------- people
    async def person(self, owner: str) -> PersonRow | None:
        row = await self._pool.fetchrow("SELECT owner, allowed, budget_usd, updated_at FROM people WHERE owner=$1",
                                        owner)
        return PersonRow(row[0], None if row[1] is None else bool(row[1]), row[2], row[3]) if row else None

    async def save_person(self, owner: str, *, allowed: bool | None = None, budget_usd: float | None = None,
                          clear_budget: bool = False) -> None:
        await self._pool.execute(
            "INSERT INTO people(owner, allowed, budget_usd, updated_at) VALUES ($1,$2,$3,$4) ON CONFLICT(owner)"
            " DO UPDATE SET allowed=COALESCE(excluded.allowed, people.allowed), budget_usd=CASE WHEN $5 THEN NULL"
            " ELSE COALESCE(excluded.budget_usd, people.budget_usd) END, updated_at=excluded.updated_at",
            owner, None if allowed is None else int(allowed), budget_usd, time.time(), clear_budget)

    async def people(self) -> list[PersonRow]:
        rows = await self._pool.fetch("SELECT owner, allowed, budget_usd, updated_at FROM people")
        return [PersonRow(r[0], None if r[1] is None else bool(r[1]), r[2], r[3]) for r in rows]

    # ----------------------------------------------------- people's own data
    async def forget(self, owner: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        async with self._pool.acquire() as con, con.transaction():
            runs = [r[0] for r in await con.fetch("SELECT run_id FROM runs WHERE owner=$1", owner)]
            for table in ("events", "snapshots", "jobs", "claims"):
                counts[table] = _count(await con.execute(f"DELETE FROM {table} WHERE run_id = ANY($1::text[])", runs))
            for table in ("sessions", "keywords", "runs"):
                counts[table] = _count(await con.execute(f"DELETE FROM {table} WHERE owner=$1", owner))
        return counts

    # ----------------------------------------------------------- executors
    async def beat(self, executor_id: str, role: str, token: str) -> ExecutorRow | None:
        async with self._pool.acquire() as con, con.transaction():
            before = await con.fetchrow("SELECT executor_id, role, token, last_seen FROM executors"
                                        " WHERE executor_id=$1 FOR UPDATE", executor_id)
            await con.execute("INSERT INTO executors(executor_id, role, token, last_seen) VALUES ($1,$2,$3,$4)"
                              " ON CONFLICT(executor_id) DO UPDATE SET role=excluded.role, token=excluded.token,"
                              " last_seen=excluded.last_seen", executor_id, role, token, time.time())
        return ExecutorRow(*before) if before else None

    async def executors(self) -> list[ExecutorRow]:
        rows = await self._pool.fetch("SELECT executor_id, role, token, last_seen FROM executors")
        return [ExecutorRow(*r) for r in rows]

    async def forget_executor(self, executor_id: str) -> None:
        await self._pool.execute("DELETE FROM executors WHERE executor_id=$1", executor_id)

    async def size_bytes(self) -> int:
        return int(await self._pool.fetchval("SELECT pg_database_size(current_database())"))


def _count(status: str) -> int:
    """The row count of an asyncpg command status ("DELETE 3")."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


async def _spend(con: asyncpg.Connection, changes: list[SpendChange], now: float) -> None:
    month = time.strftime("%Y-%m", time.gmtime(now))
    for c in changes:
        status = await con.execute(
            "UPDATE spend SET status=$1, actual_usd=COALESCE($2, actual_usd), credits=COALESCE($3, credits),"
            " estimate_usd=COALESCE($4, estimate_usd), updated_at=$5 WHERE key=$6",
            c.status, c.actual_usd, c.credits, c.estimate_usd, now, c.key)
        if _count(status) == 0:
            await con.execute(
                "INSERT INTO spend(key, owner, run_id, provider, kind, estimate_usd, actual_usd, credits, status,"
                " month, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
                c.key, c.owner, c.run_id, c.provider, c.kind,
                c.estimate_usd if c.estimate_usd is not None else (c.actual_usd or 0.0),
                c.actual_usd, c.credits, c.status, month, now, now)

