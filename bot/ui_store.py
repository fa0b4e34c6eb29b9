"""What the bot remembers beside the engine: which chat a run lives in, the
status and control messages, multi-select ticks, parameter choices, pending
feedback prompts and what was already delivered. Kept in the same SQLite file
(own connection, own tables), so a restart picks every conversation up again.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from pathlib import Path
from typing import Any

import aiosqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS bot_chats (
    run_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    chat_id INTEGER NOT NULL,
    status_message_id INTEGER,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS bot_chats_by_chat ON bot_chats(chat_id);
CREATE TABLE IF NOT EXISTS bot_kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
)
"""


def _serialized(method: Any) -> Any:
    """One call at a time on the connection: a write while another coroutine's
    read is still open on it fails at once with "database is locked" (a stale
    WAL snapshot) when the engine's connection has written in between."""

    @functools.wraps(method)
    async def locked(self: UIStore, *args: Any, **kwargs: Any) -> Any:
        async with self._lock:
            return await method(self, *args, **kwargs)

    return locked


class UIStore:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> UIStore:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA busy_timeout=5000")
        for statement in filter(str.strip, SCHEMA.split(";")):
            await db.execute(statement)
        return cls(db)

    async def close(self) -> None:
        await self._db.close()

    # ------------------------------------------------------------- chats
    @_serialized
    async def bind_run(self, run_id: str, owner: str, chat_id: int) -> None:
        await self._db.execute(
            "INSERT INTO bot_chats(run_id, owner, chat_id, created_at) VALUES (?,?,?,?)"
            " ON CONFLICT(run_id) DO NOTHING",
            (run_id, owner, chat_id, time.time()),
        )

    @_serialized
    async def chat_of(self, run_id: str) -> int | None:
        async with self._db.execute("SELECT chat_id FROM bot_chats WHERE run_id=?", (run_id,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else None

    @_serialized
    async def runs_in_chat(self, chat_id: int) -> list[tuple[str, str]]:
        async with self._db.execute(
            "SELECT run_id, owner FROM bot_chats WHERE chat_id=? ORDER BY created_at DESC LIMIT 50", (chat_id,)
        ) as cur:
            return [(r[0], r[1]) for r in await cur.fetchall()]

    @_serialized
    async def status_message(self, run_id: str) -> int | None:
        async with self._db.execute("SELECT status_message_id FROM bot_chats WHERE run_id=?", (run_id,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row and row[0] is not None else None

    @_serialized
    async def set_status_message(self, run_id: str, message_id: int | None) -> None:
        await self._db.execute("UPDATE bot_chats SET status_message_id=? WHERE run_id=?", (message_id, run_id))

    # ---------------------------------------------------------------- kv
    @_serialized
    async def get(self, key: str, default: Any = None) -> Any:
        async with self._db.execute("SELECT value FROM bot_kv WHERE key=?", (key,)) as cur:
            row = await cur.fetchone()
        return json.loads(row[0]) if row else default

    @_serialized
    async def put(self, key: str, value: Any) -> None:
        await self._db.execute(
            "INSERT INTO bot_kv(key, value, updated_at) VALUES (?,?,?)"
            " ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
            (key, json.dumps(value), time.time()),
        )

    @_serialized
    async def delete(self, key: str) -> None:
        await self._db.execute("DELETE FROM bot_kv WHERE key=?", (key,))

    @_serialized
    async def claim(self, key: str, value: Any = True) -> bool:
        """Set `key` only if it is not set yet; True when this call set it.
        Used to deliver each clip at most once, even across restarts."""
        cursor = await self._db.execute(
            "INSERT INTO bot_kv(key, value, updated_at) VALUES (?,?,?) ON CONFLICT(key) DO NOTHING",
            (key, json.dumps(value), time.time()),
        )
        return cursor.rowcount == 1
