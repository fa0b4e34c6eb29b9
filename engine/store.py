"""SQLite store (aiosqlite, WAL): runs, an append-only event log, snapshots,
a job index and the per-user keyword history.

The event log is the truth; `runs.status`, `jobs` and `snapshots` are
projections written in the same transaction as the events they follow, so a
crash leaves them consistent with the log.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from engine import faults

MIGRATIONS: list[list[str]] = [
    # 1: the initial schema, one statement per item
    [
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            workflow_id TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        "CREATE INDEX runs_by_owner ON runs(owner, status, updated_at)",
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            type TEXT NOT NULL,
            step_id TEXT,
            module_name TEXT,
            data BLOB NOT NULL,
            created_at REAL NOT NULL
        )""",
        "CREATE INDEX events_by_run ON events(run_id, seq)",
        # runs.updated_at follows the log without a second statement per append
        """CREATE TRIGGER events_touch_run AFTER INSERT ON events BEGIN
            UPDATE runs SET updated_at = NEW.created_at WHERE run_id = NEW.run_id;
        END""",
        """CREATE TABLE snapshots (
            run_id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            state BLOB NOT NULL
        )""",
        """CREATE TABLE jobs (
            job_id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            interaction_id TEXT NOT NULL,
            request_key TEXT,
            status TEXT NOT NULL,
            updated_at REAL NOT NULL
        )""",
        "CREATE INDEX jobs_by_status ON jobs(status)",
        """CREATE UNIQUE INDEX jobs_by_request_key ON jobs(run_id, interaction_id, request_key)
            WHERE request_key IS NOT NULL""",
        """CREATE TABLE keywords (
            owner TEXT NOT NULL,
            workflow_id TEXT NOT NULL,
            keyword TEXT NOT NULL,
            category TEXT NOT NULL DEFAULT '',
            weight REAL NOT NULL DEFAULT 0,
            source TEXT NOT NULL,
            last_used REAL NOT NULL,
            PRIMARY KEY (owner, workflow_id, keyword)
        )""",
    ],
]


@dataclass
class Event:
    seq: int
    run_id: str
    type: str
    step_id: str | None
    module_name: str | None
    data: dict[str, Any]
    created_at: float


@dataclass
class NewEvent:
    type: str
    data: dict[str, Any]
    step_id: str | None = None
    module_name: str | None = None


@dataclass
class RunRow:
    run_id: str
    owner: str
    workflow_id: str
    status: str
    created_at: float
    updated_at: float


@dataclass
class JobChange:
    job_id: str
    interaction_id: str
    status: str
    request_key: str | None = None


COMPRESS_OVER = 768  # bytes of JSON; smaller payloads stay readable text


def _dumps(data: Any) -> str | bytes:
    """JSON text; big payloads (LLM answers, display data) zlib-compressed: 3-5x smaller."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    if len(text) > COMPRESS_OVER:
        return zlib.compress(text.encode("utf-8"), 1)
    return text


def _loads(value: str | bytes) -> Any:
    if isinstance(value, bytes):
        value = zlib.decompress(value).decode("utf-8")
    return json.loads(value)


def _serialized(method: Any) -> Any:
    """One coroutine at a time on the shared connection. aiosqlite runs every
    call in one thread, but an `append` spans several calls (BEGIN IMMEDIATE ..
    COMMIT) and a read spans execute/fetch/close: interleaved, a second run's
    BEGIN fails ("cannot start a transaction within a transaction") and a BEGIN
    while a read is open fails at once with "database is locked" (a stale WAL
    snapshot) as soon as another connection (the bot's) has written."""

    @functools.wraps(method)
    async def locked(self: Store, *args: Any, **kwargs: Any) -> Any:
        async with self._lock:
            return await method(self, *args, **kwargs)

    return locked


class Store:
    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> Store:
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
        async with self._db.execute("SELECT MAX(version) FROM schema_version") as cur:
            row = await cur.fetchone()
        current = row[0] or 0 if row else 0
        for version, script in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in script:
                    await self._db.execute(statement)
                await self._db.execute("INSERT INTO schema_version(version) VALUES (?)", (version,))
                await self._db.execute("COMMIT")
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------- writes
    @_serialized
    async def create_run(self, run_id: str, owner: str, workflow_id: str) -> None:
        now = time.time()
        await self._db.execute(
            "INSERT INTO runs(run_id, owner, workflow_id, status, created_at, updated_at) VALUES (?,?,?,?,?,?)",
            (run_id, owner, workflow_id, "active", now, now),
        )

    @_serialized
    async def append(
        self,
        run_id: str,
        events: list[NewEvent],
        *,
        run_status: str | None = None,
        jobs: list[JobChange] | None = None,
    ) -> list[Event]:
        """Append events atomically, with the projections that follow from them.

        The common case (events only) is one multi-row INSERT: a single
        statement is its own atomic transaction, and a trigger keeps
        `runs.updated_at` in step. Job and status changes add a transaction.
        """
        if not events:
            return []
        now = time.time()
        marks = ",".join("(?,?,?,?,?,?)" for _ in events)
        params = [v for e in events for v in (run_id, e.type, e.step_id, e.module_name, _dumps(e.data), now)]
        insert = f"INSERT INTO events(run_id, type, step_id, module_name, data, created_at) VALUES {marks}"
        if not jobs and run_status is None:
            cursor = await self._db.execute(insert, params)
            last = cursor.lastrowid
        else:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = await self._db.execute(insert, params)
                last = cursor.lastrowid
                for job in jobs or []:
                    await self._db.execute(
                        "INSERT INTO jobs(job_id, run_id, interaction_id, request_key, status, updated_at)"
                        " VALUES (?,?,?,?,?,?) ON CONFLICT(job_id) DO UPDATE SET status=excluded.status,"
                        " updated_at=excluded.updated_at",
                        (job.job_id, run_id, job.interaction_id, job.request_key, job.status, now),
                    )
                if run_status is not None:
                    await self._db.execute("UPDATE runs SET status=? WHERE run_id=?", (run_status, run_id))
                await self._db.execute("COMMIT")
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
        assert last is not None
        if faults.KILL_AFTER is not None:  # test-only crash point (engine/faults.py); inert in production
            faults.after_commit(e.type for e in events)
        # one statement, one writer: the rows got consecutive seqs ending at `last`
        first = last - len(events) + 1
        return [Event(first + i, run_id, e.type, e.step_id, e.module_name, e.data, now) for i, e in enumerate(events)]

    @_serialized
    async def write_snapshot(self, run_id: str, seq: int, state: dict[str, Any]) -> None:
        await self._db.execute(
            "INSERT INTO snapshots(run_id, seq, state) VALUES (?,?,?)"
            " ON CONFLICT(run_id) DO UPDATE SET seq=excluded.seq, state=excluded.state",
            (run_id, seq, _dumps(state)),
        )

    # -------------------------------------------------------------- reads
    @_serialized
    async def get_run(self, run_id: str) -> RunRow | None:
        async with self._db.execute(
            "SELECT run_id, owner, workflow_id, status, created_at, updated_at FROM runs WHERE run_id=?", (run_id,)
        ) as cur:
            row = await cur.fetchone()
        return RunRow(*row) if row else None

    @_serialized
    async def list_runs(self, owner: str | None = None, status: str | None = None, limit: int = 50) -> list[RunRow]:
        clauses, args = [], []
        if owner is not None:
            clauses.append("owner=?")
            args.append(owner)
        if status is not None:
            clauses.append("status=?")
            args.append(status)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        async with self._db.execute(
            f"SELECT run_id, owner, workflow_id, status, created_at, updated_at FROM runs {where}"
            " ORDER BY updated_at DESC LIMIT ?",
            (*args, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [RunRow(*row) for row in rows]

    @_serialized
    async def events(self, run_id: str, after_seq: int = 0) -> list[Event]:
        async with self._db.execute(
            "SELECT seq, run_id, type, step_id, module_name, data, created_at FROM events"
            " WHERE run_id=? AND seq>? ORDER BY seq",
            (run_id, after_seq),
        ) as cur:
            rows = await cur.fetchall()
        return [Event(r[0], r[1], r[2], r[3], r[4], _loads(r[5]), r[6]) for r in rows]

    @_serialized
    async def snapshot(self, run_id: str) -> tuple[int, dict[str, Any]] | None:
        async with self._db.execute("SELECT seq, state FROM snapshots WHERE run_id=?", (run_id,)) as cur:
            row = await cur.fetchone()
        return (row[0], _loads(row[1])) if row else None

    @_serialized
    async def jobs_with_status(self, statuses: tuple[str, ...]) -> list[tuple[str, str]]:
        """(job_id, run_id) of jobs in the given states, e.g. those in flight."""
        marks = ",".join("?" for _ in statuses)
        async with self._db.execute(
            f"SELECT job_id, run_id FROM jobs WHERE status IN ({marks}) ORDER BY updated_at", statuses
        ) as cur:
            rows = await cur.fetchall()
        return [(r[0], r[1]) for r in rows]

    @_serialized
    async def job_by_request_key(self, run_id: str, interaction_id: str, request_key: str) -> str | None:
        async with self._db.execute(
            "SELECT job_id FROM jobs WHERE run_id=? AND interaction_id=? AND request_key=?",
            (run_id, interaction_id, request_key),
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    # ----------------------------------------------------------- keywords
    @_serialized
    async def load_keywords(self, owner: str, workflow_id: str, source: str, limit: int) -> list[dict[str, Any]]:
        async with self._db.execute(
            "SELECT keyword, category, weight FROM keywords WHERE owner=? AND workflow_id=? AND source=?"
            " ORDER BY weight DESC, last_used DESC LIMIT ?",
            (owner, workflow_id, source, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [{"keyword": r[0], "category": r[1], "weight": r[2]} for r in rows]

    @_serialized
    async def save_keywords(
        self, owner: str, workflow_id: str, keywords: list[dict[str, Any]], source: str, accumulate: bool
    ) -> int:
        now = time.time()
        update = "weight = keywords.weight + excluded.weight" if accumulate else "weight = excluded.weight"
        saved = 0
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            for item in keywords:
                keyword = str(item.get("keyword", "")).strip().lower()[:80]
                if not keyword:
                    continue
                weight = float(item.get("weight") or 0)
                await self._db.execute(
                    "INSERT INTO keywords(owner, workflow_id, keyword, category, weight, source, last_used)"
                    " VALUES (?,?,?,?,?,?,?) ON CONFLICT(owner, workflow_id, keyword) DO UPDATE SET "
                    f"{update}, category=excluded.category, last_used=excluded.last_used,"
                    # a picked scene's keyword stays banned even if generated again
                    " source = CASE WHEN keywords.source='selected' THEN 'selected' ELSE excluded.source END",
                    (owner, workflow_id, keyword, str(item.get("category", ""))[:40], weight, source, now),
                )
                saved += 1
            await self._db.execute("COMMIT")
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise
        return saved

    @_serialized
    async def size_bytes(self) -> int:
        async with self._db.execute("PRAGMA page_count") as cur:
            pages = (await cur.fetchone() or (0,))[0]
        async with self._db.execute("PRAGMA page_size") as cur:
            page_size = (await cur.fetchone() or (0,))[0]
        return int(pages) * int(page_size)
