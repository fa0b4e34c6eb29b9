"""The embedded default: SQLite in WAL mode through one aiosqlite connection.

aiosqlite runs every call on one thread, so a single-statement read is one
round trip and never interleaves with another. A transaction spans several
calls (BEGIN IMMEDIATE .. COMMIT), so every write takes `_write_lock`: a
second coroutine's statement can never land inside the first one's
transaction. Reads need no lock.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiosqlite

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
    dumps,
    keyword_record,
    loads,
)
from engine.store.schema import SQLITE, migrations

_RUN_COLUMNS = "run_id, owner, workflow_id, status, created_at, updated_at"
_SESSION_COLUMNS = "run_id, owner, key, data, updated_at"


def _person(row: Any) -> PersonRow:
    return PersonRow(row[0], None if row[1] is None else bool(row[1]), row[2], row[3])


def _session_row(row: Any) -> SessionRow:
    return SessionRow(row[0], row[1], row[2], json.loads(row[3]), row[4])


class SQLiteStore(Store):
    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> SQLiteStore:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a process kill
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA busy_timeout=5000")
        store = cls(db, path)
        await store._migrate()
        return store

    async def close(self) -> None:
        await self._db.close()

    async def _migrate(self) -> None:
        await self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        rows = await self._db.execute_fetchall("SELECT MAX(version) FROM schema_version")
        current = (list(rows)[0][0] or 0) if rows else 0
        for version, script in enumerate(migrations(SQLITE), start=1):
            if version > current:
                await self._transaction([(s, ()) for s in script]
                                        + [("INSERT INTO schema_version(version) VALUES (?)", (version,))])

    async def _transaction(self, statements: list[tuple[str, Any]]) -> None:
        async with self._write_lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    await self._db.execute(sql, args)
                await self._db.execute("COMMIT")
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise

    async def _write(self, sql: str, args: Any = ()) -> aiosqlite.Cursor:
        async with self._write_lock:
            return await self._db.execute(sql, args)

    async def _rows(self, sql: str, args: Any = ()) -> list[Any]:
        return list(await self._db.execute_fetchall(sql, args))

    # ---------------------------------------------------------------- runs
    async def create_run(self, run_id: str, owner: str, workflow_id: str) -> None:
        now = time.time()
        await self._write(f"INSERT INTO runs({_RUN_COLUMNS}) VALUES (?,?,?,?,?,?)",
                          (run_id, owner, workflow_id, "active", now, now))

    async def append(
        self,
        run_id: str,
        events: list[NewEvent],
        *,
        run_status: str | None = None,
        jobs: list[JobChange] | None = None,
        spend: list[SpendChange] | None = None,
    ) -> list[Event]:
        """The common case (events only) is one multi-row INSERT: a single
        statement is its own atomic transaction, and a trigger keeps
        `runs.updated_at` in step. Job, status and accounting changes add a transaction."""
        if not events:
            return []
        self.committing(events)
        now = time.time()
        marks = ",".join("(?,?,?,?,?,?)" for _ in events)
        params = [v for e in events for v in (run_id, e.type, e.step_id, e.module_name, dumps(e.data), now)]
        insert = f"INSERT INTO events(run_id, type, step_id, module_name, data, created_at) VALUES {marks}"
        async with self._write_lock:
            if not jobs and run_status is None and not spend:
                last = (await self._db.execute(insert, params)).lastrowid
            else:
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    last = (await self._db.execute(insert, params)).lastrowid
                    for job in jobs or []:
                        await self._db.execute(
                            "INSERT INTO jobs(job_id, run_id, interaction_id, request_key, status, updated_at)"
                            " VALUES (?,?,?,?,?,?) ON CONFLICT(job_id) DO UPDATE SET status=excluded.status,"
                            " updated_at=excluded.updated_at",
                            (job.job_id, run_id, job.interaction_id, job.request_key, job.status, now),
                        )
                    if run_status is not None:
                        await self._db.execute("UPDATE runs SET status=? WHERE run_id=?", (run_status, run_id))
                    await self._spend(spend or [], now)
                    await self._db.execute("COMMIT")
                except BaseException:
                    await self._db.execute("ROLLBACK")
                    raise
        assert last is not None
        self.committed(events)
        # one statement, one writer: the rows got consecutive seqs ending at `last`
        first = last - len(events) + 1
        return [Event(first + i, run_id, e.type, e.step_id, e.module_name, e.data, now) for i, e in enumerate(events)]

    async def last_seq(self, run_id: str) -> int:
        rows = await self._rows("SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id=?", (run_id,))
        return int(rows[0][0])

    async def write_snapshot(self, run_id: str, seq: int, state: dict[str, Any]) -> None:
        await self._write("INSERT INTO snapshots(run_id, seq, state) VALUES (?,?,?)"
                          " ON CONFLICT(run_id) DO UPDATE SET seq=excluded.seq, state=excluded.state",
                          (run_id, seq, dumps(state)))

    async def get_run(self, run_id: str) -> RunRow | None:
        rows = await self._rows(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id=?", (run_id,))
        return RunRow(*rows[0]) if rows else None

    async def list_runs(self, owner: str | None = None, status: str | None = None, limit: int = 50) -> list[RunRow]:
        clauses, args = [], []
        if owner is not None:
            clauses.append("owner=?")
            args.append(owner)
        if status is not None:
            clauses.append("status=?")
            args.append(status)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self._rows(f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY updated_at DESC LIMIT ?",
                                (*args, limit))
        return [RunRow(*row) for row in rows]

    async def events(self, run_id: str, after_seq: int = 0) -> list[Event]:
        rows = await self._rows("SELECT seq, run_id, type, step_id, module_name, data, created_at FROM events"
                                " WHERE run_id=? AND seq>? ORDER BY seq", (run_id, after_seq))
        return [Event(r[0], r[1], r[2], r[3], r[4], loads(r[5]), r[6]) for r in rows]

    async def snapshot(self, run_id: str) -> tuple[int, dict[str, Any]] | None:
        rows = await self._rows("SELECT seq, state FROM snapshots WHERE run_id=?", (run_id,))
        return (rows[0][0], loads(rows[0][1])) if rows else None

    # ------------------------------------------------------------ keywords
    async def load_keywords(
        self, owner: str, workflow_id: str, source: str | None, limit: int
    ) -> list[dict[str, Any]]:
        which = "" if source is None else " AND source=?"
        args = (owner, workflow_id) + (() if source is None else (source,)) + (limit,)
        rows = await self._rows("SELECT keyword, category, weight, source, last_used FROM keywords"
                                f" WHERE owner=? AND workflow_id=?{which} ORDER BY weight DESC, last_used DESC"
                                " LIMIT ?", args)
        return [keyword_record(*r) for r in rows]

    async def save_keywords(
        self, owner: str, workflow_id: str, keywords: list[dict[str, Any]], source: str, accumulate: bool
    ) -> int:
        now = time.time()
        update = "weight = keywords.weight + excluded.weight" if accumulate else "weight = excluded.weight"
        sql = ("INSERT INTO keywords(owner, workflow_id, keyword, category, weight, source, last_used)"
               " VALUES (?,?,?,?,?,?,?) ON CONFLICT(owner, workflow_id, keyword) DO UPDATE SET "
               f"{update}, category=excluded.category, last_used=excluded.last_used,"
               # a picked scene's keyword stays banned even if generated again
               " source = CASE WHEN keywords.source='selected' THEN 'selected' ELSE excluded.source END")
        statements = []
        for item in keywords:
            keyword = str(item.get("keyword", "")).strip().lower()[:80]
            if keyword:
                statements.append((sql, (owner, workflow_id, keyword, str(item.get("category", ""))[:40],
                                         float(item.get("weight") or 0), source, now)))
        if statements:
            await self._transaction(statements)
        return len(statements)

    # ------------------------------------------------------------ sessions
    async def session_of_owner(self, owner: str) -> SessionRow | None:
        return await self._session("WHERE owner=? ORDER BY updated_at DESC LIMIT 1", owner)

    async def session(self, run_id: str) -> SessionRow | None:
        return await self._session("WHERE run_id=?", run_id)

    async def session_by_key(self, key: str) -> SessionRow | None:
        return await self._session("WHERE key=? ORDER BY updated_at DESC LIMIT 1", key)

    async def _session(self, where: str, arg: str) -> SessionRow | None:
        rows = await self._rows(f"SELECT {_SESSION_COLUMNS} FROM sessions {where}", (arg,))
        return _session_row(rows[0]) if rows else None

    async def save_session(self, run_id: str, owner: str, key: str | None, data: dict[str, Any]) -> None:
        await self._write("INSERT INTO sessions(run_id, owner, key, data, updated_at) VALUES (?,?,?,?,?)"
                          " ON CONFLICT(run_id) DO UPDATE SET key=excluded.key, data=excluded.data,"
                          " updated_at=excluded.updated_at",
                          (run_id, owner, key, json.dumps(data, separators=(",", ":")), time.time()))

    async def delete_session(self, run_id: str) -> None:
        await self._write("DELETE FROM sessions WHERE run_id=?", (run_id,))

    async def sessions(self, limit: int = 1000) -> list[SessionRow]:
        rows = await self._rows(f"SELECT {_SESSION_COLUMNS} FROM sessions ORDER BY updated_at DESC LIMIT ?", (limit,))
        return [_session_row(r) for r in rows]

    # -------------------------------------------------------------- claims
    async def claim(self, keys: list[str], run_id: str = "") -> list[bool]:
        if not keys:
            return []
        now = time.time()
        marks = ",".join("(?,?,?)" for _ in keys)
        args = [v for key in keys for v in (key, run_id, now)]
        async with self._write_lock:
            before = {r[0] for r in await self._db.execute_fetchall(
                f"SELECT key FROM claims WHERE key IN ({','.join('?' for _ in keys)})", keys)}
            await self._db.execute(f"INSERT INTO claims(key, run_id, created_at) VALUES {marks}"
                                   " ON CONFLICT(key) DO NOTHING", args)
        taken, seen = [], set(before)
        for key in keys:  # a key named twice in one call is taken once
            taken.append(key not in seen)
            seen.add(key)
        return taken

    async def claimed(self, key: str) -> bool:
        return bool(await self._rows("SELECT 1 FROM claims WHERE key=?", (key,)))

    async def release(self, key: str) -> None:
        await self._write("DELETE FROM claims WHERE key=?", (key,))

    async def prune_claims(self, before: float) -> int:
        cursor = await self._write("DELETE FROM claims WHERE run_id='' AND created_at < ?", (before,))
        return cursor.rowcount

    # --------------------------------------------------------------- money
    async def _spend(self, changes: list[SpendChange], now: float) -> None:
        """Inside a transaction: a reservation inserts its row, a charge or a release updates it."""
        month = time.strftime("%Y-%m", time.gmtime(now))
        for c in changes:
            cursor = await self._db.execute(
                "UPDATE spend SET status=?, actual_usd=COALESCE(?, actual_usd), credits=COALESCE(?, credits),"
                " estimate_usd=COALESCE(?, estimate_usd), updated_at=? WHERE key=?",
                (c.status, c.actual_usd, c.credits, c.estimate_usd, now, c.key))
            if cursor.rowcount == 0:
                await self._db.execute(
                    "INSERT INTO spend(key, owner, run_id, provider, kind, estimate_usd, actual_usd, credits, status,"
                    " month, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (c.key, c.owner, c.run_id, c.provider, c.kind,
                     c.estimate_usd if c.estimate_usd is not None else (c.actual_usd or 0.0),
                     c.actual_usd, c.credits, c.status, month, now, now))

    async def record_spend(self, changes: list[SpendChange]) -> None:
        if not changes:
            return
        async with self._write_lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                await self._spend(changes, time.time())
                await self._db.execute("COMMIT")
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise

    async def spent_usd(self, owner: str, month: str) -> float:
        rows = await self._rows("SELECT COALESCE(SUM(CASE WHEN status='released' THEN 0"
                                " ELSE COALESCE(actual_usd, estimate_usd) END), 0) FROM spend WHERE owner=? AND month=?",
                                (owner, month))
        return float(rows[0][0] or 0.0)

    async def spend_rows(self, month: str | None = None, owner: str | None = None) -> list[SpendRow]:
        clauses, args = [], []
        for column, value in (("month", month), ("owner", owner)):
            if value is not None:
                clauses.append(f"{column}=?")
                args.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self._rows("SELECT key, owner, run_id, provider, kind, estimate_usd, actual_usd, credits, status,"
                                f" month, created_at FROM spend {where} ORDER BY created_at", args)
        return [SpendRow(*r) for r in rows]

    # -------------------------------------------------------------- people
    async def person(self, owner: str) -> PersonRow | None:
        rows = await self._rows("SELECT owner, allowed, budget_usd, updated_at FROM people WHERE owner=?", (owner,))
        return _person(rows[0]) if rows else None

    async def save_person(self, owner: str, *, allowed: bool | None = None, budget_usd: float | None = None,
                          clear_budget: bool = False) -> None:
        await self._write(
            "INSERT INTO people(owner, allowed, budget_usd, updated_at) VALUES (?,?,?,?) ON CONFLICT(owner) DO UPDATE"
            " SET allowed=COALESCE(excluded.allowed, people.allowed), budget_usd=CASE WHEN ? THEN NULL"
            " ELSE COALESCE(excluded.budget_usd, people.budget_usd) END, updated_at=excluded.updated_at",
            (owner, None if allowed is None else int(allowed), budget_usd, time.time(), int(clear_budget)))

    async def people(self) -> list[PersonRow]:
        return [_person(r) for r in await self._rows("SELECT owner, allowed, budget_usd, updated_at FROM people")]

    # ----------------------------------------------------- people's own data
    async def forget(self, owner: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        async with self._write_lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                runs = [r[0] for r in await self._db.execute_fetchall("SELECT run_id FROM runs WHERE owner=?", (owner,))]
                marks = ",".join("?" for _ in runs) or "''"
                for table in ("events", "snapshots", "jobs", "claims"):
                    cursor = await self._db.execute(f"DELETE FROM {table} WHERE run_id IN ({marks})", runs)
                    counts[table] = cursor.rowcount
                for table in ("sessions", "keywords", "runs"):
                    cursor = await self._db.execute(f"DELETE FROM {table} WHERE owner=?", (owner,))
                    counts[table] = cursor.rowcount
                await self._db.execute("COMMIT")
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
        return counts

    # ----------------------------------------------------------- executors
    async def beat(self, executor_id: str, role: str, token: str) -> ExecutorRow | None:
        before = await self._rows("SELECT executor_id, role, token, last_seen FROM executors WHERE executor_id=?",
                                  (executor_id,))
        await self._write("INSERT INTO executors(executor_id, role, token, last_seen) VALUES (?,?,?,?)"
                          " ON CONFLICT(executor_id) DO UPDATE SET role=excluded.role, token=excluded.token,"
                          " last_seen=excluded.last_seen", (executor_id, role, token, time.time()))
        return ExecutorRow(*before[0]) if before else None

    async def executors(self) -> list[ExecutorRow]:
        return [ExecutorRow(*r) for r in await self._rows("SELECT executor_id, role, token, last_seen FROM executors")]

    async def forget_executor(self, executor_id: str) -> None:
        await self._write("DELETE FROM executors WHERE executor_id=?", (executor_id,))

    # --------------------------------------------------------------- misc
    async def size_bytes(self) -> int:
        pages = (await self._rows("PRAGMA page_count"))[0][0]
        page_size = (await self._rows("PRAGMA page_size"))[0][0]
        return int(pages) * int(page_size)
