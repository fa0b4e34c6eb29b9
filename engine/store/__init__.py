"""Persistence: one `Store` interface; SQLite is the embedded default."""

from __future__ import annotations

from pathlib import Path

from engine.store.base import CommitHook, Store
from engine.store.records import (Event, ExecutorRow, JobChange, NewEvent, PersonRow, RunRow, SessionRow,
                                  SpendChange, SpendRow)
from engine.store.sqlite import SQLiteStore


async def open_store(location: str | Path) -> Store:
    """The store at `location`: a postgresql:// URL (several processes), else a
    SQLite file path (the embedded default)."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        from engine.store.postgres import PostgresStore  # asyncpg only when it is used

        return await PostgresStore.open(text)
    return await SQLiteStore.open(location)


__all__ = ["CommitHook", "Event", "ExecutorRow", "JobChange", "NewEvent", "PersonRow", "RunRow", "SQLiteStore",
           "SessionRow", "SpendChange", "SpendRow", "Store", "open_store"]
