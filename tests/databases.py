"""Which database the engine and bot tests run on: SQLite (the default) or,
with CCBOT_TEST_DATABASE=postgres, a real PostgreSQL (tests/pg.py) started for
the session. A test's data folder names its database, so a test that stops and
reopens a bot on the same folder finds the same data, as a restart would."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import asyncpg

from engine.store import Store, open_store

BACKEND = os.environ.get("CCBOT_TEST_DATABASE", "sqlite")
_server_url: str | None = None  # set by the session fixture in tests/conftest.py


def use_server(url: str | None) -> None:
    global _server_url
    _server_url = url


async def database_for(data_dir: Path) -> str | Path:
    """The store location for a test's data folder: a SQLite file, or a
    PostgreSQL database made for that folder on first use."""
    if BACKEND != "postgres":
        return data_dir / "ccbot.sqlite3"
    assert _server_url, "the PostgreSQL server of the session is not started"
    name = "t_" + hashlib.sha1(str(data_dir.resolve()).encode()).hexdigest()[:20]
    admin = await asyncpg.connect(_server_url)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname=$1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return _server_url.rsplit("/", 1)[0] + "/" + name


async def store_for(data_dir: Path) -> Store:
    return await open_store(await database_for(data_dir))
