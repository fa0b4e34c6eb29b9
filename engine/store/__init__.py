"""Persistence: one `Store` interface; SQLite is the embedded default."""

from __future__ import annotations

from pathlib import Path

from engine.store.base import CommitHook, Store
from engine.store.records import Event, JobChange, NewEvent, PersonRow, RunRow, SessionRow, SpendChange, SpendRow
from engine.store.sqlite import SQLiteStore


async def open_store(location: str | Path) -> Store:
    """A store for a SQLite file path (the default)."""
    return await SQLiteStore.open(location)


__all__ = ["CommitHook", "Event", "JobChange", "NewEvent", "PersonRow", "RunRow", "SQLiteStore", "SessionRow",
           "SpendChange", "SpendRow", "Store", "open_store"]
