"""People's own data: deleting all of a person's, and media past its retention.

What must stay for the operator's accounting (the `spend` rows: dates,
providers, amounts, no content) is kept; everything else of the person goes:
runs, events, snapshots, jobs, sessions, claims, keyword history and every
file under their media folder (pictures, clips, music, what they uploaded).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from engine.runlog import RunLog
from engine.services import Services
from engine.store import NewEvent

ENDED = ("completed", "cancelled", "failed")


@dataclass
class Deleted:
    runs: int
    events: int
    files: int
    bytes: int

    def describe(self) -> str:
        mb = self.bytes / 1_048_576
        return (f"{self.runs} video run{'s' if self.runs != 1 else ''}, {self.events} saved steps and "
                f"{self.files} file{'s' if self.files != 1 else ''} ({mb:.1f} MB)")


def _remove_tree(folder: Path) -> tuple[int, int]:
    """Delete a folder; (files, bytes) it held."""
    files = size = 0
    if folder.is_dir():
        for path in folder.rglob("*"):
            if path.is_file():
                files += 1
                size += path.stat().st_size
        shutil.rmtree(folder, ignore_errors=True)
    return files, size


async def forget_owner(services: Services, runlog: RunLog, owner: str) -> Deleted:
    """Everything of `owner` but the accounting (runs must be stopped first)."""
    run_ids = [row.run_id for row in await services.store.list_runs(owner, limit=1_000_000)]
    counts = await services.store.forget(owner)
    for run_id in run_ids:
        runlog.forget(run_id)
    files, size = await asyncio.to_thread(_remove_tree, services.owner_dir(owner))
    return Deleted(runs=counts.get("runs", 0), events=counts.get("events", 0), files=files, bytes=size)


async def expire_media(services: Services, runlog: RunLog, days: float, now: float | None = None) -> list[str]:
    """Delete the media of runs that ended (or were left) more than `days` ago;
    each run's log records it (`media_deleted`). The run ids cleaned."""
    cutoff = (time.time() if now is None else now) - days * 86400
    cleaned = []
    for row in await services.store.list_runs(limit=1_000_000):
        if row.updated_at > cutoff:
            continue
        folder = services.run_dir(row.owner, row.run_id)
        if not await asyncio.to_thread(folder.is_dir):
            continue
        files, size = await asyncio.to_thread(_remove_tree, folder)
        async with runlog.hold(row.run_id) as run:
            await runlog.append(run, [NewEvent("media_deleted", {"files": files, "bytes": size, "days": days})])
        cleaned.append(row.run_id)
    return cleaned
