"""The store every part of ccbot writes through: one interface, one connection
(or one pool) shared by the engine and the front ends.

The event log is the truth; `runs.status`, the job index and snapshots are
projections written in the same transaction as the events they follow, so a
crash leaves them consistent with the log. Front ends keep their
conversation state in `sessions` (one row per run, opaque JSON) and their
deliver-once markers in `claims`.

`after_commit` and `before_commit` are hooks a test process may set (e.g. to
SIGKILL itself right after, or right before, a chosen event is committed);
production code never sets them.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from engine.store.records import Event, ExecutorRow, JobChange, NewEvent, PersonRow, RunRow, SessionRow, SpendChange, SpendRow

CommitHook = Callable[[list[str]], None]


class Store(ABC):
    path: Path | None = None
    after_commit: CommitHook | None = None
    before_commit: CommitHook | None = None
    shared = False  # True: several processes work on this store (locks and freshness checks needed)

    @abstractmethod
    async def close(self) -> None: ...

    # ------------------------------------------------------------- sharing
    @contextlib.asynccontextmanager
    async def lock(self, namespace: str, key: str) -> AsyncIterator[None]:
        """A lock across processes (a run, a person). One process needs none: its
        own asyncio locks suffice, so the embedded store's is a no-op."""
        yield

    @abstractmethod
    async def last_seq(self, run_id: str) -> int:
        """The newest event's seq of a run (0 when it has none)."""

    async def publish(self, message: dict[str, Any]) -> None:
        """Pass an engine event to the other processes (none for the embedded store)."""

    async def listen(self, callback: Callable[[dict[str, Any]], Awaitable[None] | None]) -> None:
        """Receive what other processes publish (nothing for the embedded store)."""

    # ---------------------------------------------------------------- runs
    @abstractmethod
    async def create_run(self, run_id: str, owner: str, workflow_id: str) -> None: ...

    @abstractmethod
    async def append(
        self,
        run_id: str,
        events: list[NewEvent],
        *,
        run_status: str | None = None,
        jobs: list[JobChange] | None = None,
        spend: list[SpendChange] | None = None,
    ) -> list[Event]:
        """Append events atomically with the projections (and the accounting) that follow from them."""

    @abstractmethod
    async def write_snapshot(self, run_id: str, seq: int, state: dict[str, Any]) -> None: ...

    @abstractmethod
    async def get_run(self, run_id: str) -> RunRow | None: ...

    @abstractmethod
    async def list_runs(
        self, owner: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[RunRow]: ...

    @abstractmethod
    async def events(self, run_id: str, after_seq: int = 0) -> list[Event]: ...

    @abstractmethod
    async def snapshot(self, run_id: str) -> tuple[int, dict[str, Any]] | None: ...

    # ------------------------------------------------------------ keywords
    @abstractmethod
    async def load_keywords(
        self, owner: str, workflow_id: str, source: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """The heaviest keywords of one source (None: every source), each
        `{keyword, category, weight, source, last_used}` (an ISO time)."""

    @abstractmethod
    async def save_keywords(
        self, owner: str, workflow_id: str, keywords: list[dict[str, Any]], source: str, accumulate: bool
    ) -> int: ...

    # ------------------------------------------------------------ sessions
    @abstractmethod
    async def session_of_owner(self, owner: str) -> SessionRow | None:
        """The newest session of an owner (a person has one open run at a time)."""

    @abstractmethod
    async def session(self, run_id: str) -> SessionRow | None: ...

    @abstractmethod
    async def session_by_key(self, key: str) -> SessionRow | None:
        """The session whose front-end lookup key is `key` (e.g. its open question's)."""

    @abstractmethod
    async def save_session(self, run_id: str, owner: str, key: str | None, data: dict[str, Any]) -> None: ...

    @abstractmethod
    async def delete_session(self, run_id: str) -> None: ...

    @abstractmethod
    async def sessions(self, limit: int = 1000) -> list[SessionRow]: ...

    # -------------------------------------------------------------- claims
    @abstractmethod
    async def claim(self, keys: list[str], run_id: str = "") -> list[bool]:
        """Mark each key taken; True for the keys this call took (deliver-once)."""

    @abstractmethod
    async def claimed(self, key: str) -> bool:
        """Whether `key` is taken (without taking it)."""

    @abstractmethod
    async def release(self, key: str) -> None:
        """Undo a claim whose delivery failed, so a later showing may try again."""

    @abstractmethod
    async def prune_claims(self, before: float) -> int:
        """Delete the claims of no run (handled update and event ids) made before
        `before` (epoch seconds); a run's own claims go with the run. How many went."""

    # --------------------------------------------------------------- money
    @abstractmethod
    async def record_spend(self, changes: list[SpendChange]) -> None:
        """Accounting changes on their own (a reservation made before a call)."""

    @abstractmethod
    async def spent_usd(self, owner: str, month: str) -> float:
        """What counts against the owner's budget in a month ("YYYY-MM", UTC)."""

    @abstractmethod
    async def spend_rows(self, month: str | None = None, owner: str | None = None) -> list[SpendRow]: ...

    # -------------------------------------------------------------- people
    @abstractmethod
    async def person(self, owner: str) -> PersonRow | None: ...

    @abstractmethod
    async def save_person(self, owner: str, *, allowed: bool | None = None, budget_usd: float | None = None,
                          clear_budget: bool = False) -> None:
        """Set what is given (None leaves a value as it is; `clear_budget` goes back to the default)."""

    @abstractmethod
    async def people(self) -> list[PersonRow]: ...

    # ----------------------------------------------------- people's own data
    @abstractmethod
    async def forget(self, owner: str) -> dict[str, int]:
        """Delete everything of an owner but the accounting: runs, events,
        snapshots, jobs, sessions, claims, keyword history. Counts per table."""

    # ----------------------------------------------------------- executors
    @abstractmethod
    async def beat(self, executor_id: str, role: str, token: str) -> ExecutorRow | None:
        """This process is alive (engine/durable/reaper.py); the row as it was before, if any."""

    @abstractmethod
    async def executors(self) -> list[ExecutorRow]: ...

    @abstractmethod
    async def forget_executor(self, executor_id: str) -> None: ...

    # --------------------------------------------------------------- misc
    @abstractmethod
    async def size_bytes(self) -> int: ...

    def committed(self, events: list[NewEvent]) -> None:
        if self.after_commit is not None:
            self.after_commit([e.type for e in events])

    def committing(self, events: list[NewEvent]) -> None:
        if self.before_commit is not None:
            self.before_commit([e.type for e in events])
