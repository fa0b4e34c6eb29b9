"""The schema as numbered migrations, one definition for SQLite and PostgreSQL.

Each migration is a list of statements applied once, in order, in one
transaction, and recorded in `schema_version`. A statement is written once
with a few type words that differ between the two ({real}, {blob}, {serial}),
or marked for one database only (SQLITE: / POSTGRES: prefixes) where the two
need different SQL (a trigger; moving the old bot tables of SQLite files).
"""

from __future__ import annotations

SQLITE, POSTGRES = "sqlite", "postgres"
_TYPES = {
    SQLITE: {"real": "REAL", "blob": "BLOB", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "bigint": "INTEGER"},
    POSTGRES: {"real": "DOUBLE PRECISION", "blob": "BYTEA", "serial": "BIGSERIAL PRIMARY KEY", "bigint": "BIGINT"},
}

MIGRATIONS: list[list[str]] = [
    # 1: runs, the event log, snapshots, the job index, keyword history
    [
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            workflow_id TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at {real} NOT NULL,
            updated_at {real} NOT NULL
        )""",
        "CREATE INDEX runs_by_owner ON runs(owner, status, updated_at)",
        """CREATE TABLE events (
            seq {serial},
            run_id TEXT NOT NULL,
            type TEXT NOT NULL,
            step_id TEXT,
            module_name TEXT,
            data {blob} NOT NULL,
            created_at {real} NOT NULL
        )""",
        "CREATE INDEX events_by_run ON events(run_id, seq)",
        # runs.updated_at follows the log without a second statement per append
        """SQLITE:CREATE TRIGGER events_touch_run AFTER INSERT ON events BEGIN
            UPDATE runs SET updated_at = NEW.created_at WHERE run_id = NEW.run_id;
        END""",
        """CREATE TABLE snapshots (
            run_id TEXT PRIMARY KEY,
            seq {bigint} NOT NULL,
            state {blob} NOT NULL
        )""",
        """CREATE TABLE jobs (
            job_id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            interaction_id TEXT NOT NULL,
            request_key TEXT,
            status TEXT NOT NULL,
            updated_at {real} NOT NULL
        )""",
        "CREATE INDEX jobs_by_status ON jobs(status)",
        """CREATE UNIQUE INDEX jobs_by_request_key ON jobs(run_id, interaction_id, request_key)
            WHERE request_key IS NOT NULL""",
        """CREATE TABLE keywords (
            owner TEXT NOT NULL,
            workflow_id TEXT NOT NULL,
            keyword TEXT NOT NULL,
            category TEXT NOT NULL DEFAULT '',
            weight {real} NOT NULL DEFAULT 0,
            source TEXT NOT NULL,
            last_used {real} NOT NULL,
            PRIMARY KEY (owner, workflow_id, keyword)
        )""",
    ],
    # 2: front-end sessions (one row per run) and deliver-once claims on the same
    # connection as the log; the bot's old key-value tables are folded in.
    [
        # `key` is the front end's own lookup key (the bot: its open question's button key)
        """CREATE TABLE sessions (
            run_id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            key TEXT,
            data TEXT NOT NULL,
            updated_at {real} NOT NULL
        )""",
        "CREATE INDEX sessions_by_owner ON sessions(owner, updated_at)",
        "CREATE INDEX sessions_by_key ON sessions(key)",
        """CREATE TABLE claims (
            key TEXT PRIMARY KEY,
            run_id TEXT NOT NULL DEFAULT '',
            created_at {real} NOT NULL
        )""",
        "CREATE INDEX claims_by_run ON claims(run_id)",
        """SQLITE:CREATE TABLE IF NOT EXISTS bot_chats (
            run_id TEXT PRIMARY KEY, owner TEXT NOT NULL, chat_id INTEGER NOT NULL,
            status_message_id INTEGER, created_at {real} NOT NULL
        )""",
        """SQLITE:INSERT INTO sessions(run_id, owner, data, updated_at)
            SELECT c.run_id, c.owner, json_object('chat_id', c.chat_id, 'status_message_id', c.status_message_id),
                   c.created_at
            FROM bot_chats c JOIN runs r ON r.run_id = c.run_id WHERE r.status = 'active'""",
        "SQLITE:DROP TABLE bot_chats",
        "SQLITE:CREATE TABLE IF NOT EXISTS bot_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at {real} NOT NULL)",
        """SQLITE:INSERT INTO claims(key, created_at) SELECT key, updated_at FROM bot_kv
            WHERE key LIKE 'delivered:%' OR key LIKE 'finished:%' OR key LIKE 'preview:%'""",
        "SQLITE:DROP TABLE bot_kv",
    ],
    # 3: money and people. `spend` is the accounting: one row per paid call, kept
    # when a person's data is deleted (dates, providers, amounts; no content).
    # `people` holds what an operator changed at run time (access, budgets).
    [
        """CREATE TABLE spend (
            key TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            run_id TEXT NOT NULL DEFAULT '',
            provider TEXT NOT NULL,
            kind TEXT NOT NULL,
            estimate_usd {real} NOT NULL DEFAULT 0,
            actual_usd {real},
            credits {real},
            status TEXT NOT NULL,
            month TEXT NOT NULL,
            created_at {real} NOT NULL,
            updated_at {real} NOT NULL
        )""",
        "CREATE INDEX spend_by_owner ON spend(owner, month)",
        "CREATE INDEX spend_by_month ON spend(month)",
        """CREATE TABLE people (
            owner TEXT PRIMARY KEY,
            allowed INTEGER,
            budget_usd {real},
            updated_at {real} NOT NULL
        )""",
    ],
    # 4: the processes that run durable jobs (engine/durable/reaper.py): each says it is alive
    # every few seconds; the unfinished work of one long silent is taken over by a survivor
    [
        """CREATE TABLE executors (
            executor_id TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            token TEXT NOT NULL,
            last_seen {real} NOT NULL
        )""",
    ],
]


def migrations(dialect: str) -> list[list[str]]:
    """The migrations as one database runs them."""
    types = _TYPES[dialect]
    out: list[list[str]] = []
    for script in MIGRATIONS:
        statements = []
        for statement in script:
            prefix, _, rest = statement.partition(":")
            if prefix in (SQLITE.upper(), POSTGRES.upper()):
                if prefix != dialect.upper():
                    continue
                statement = rest
            statements.append(statement.format(**types))
        out.append(statements)
    return out
