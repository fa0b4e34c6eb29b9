"""Which job runner and background worker an engine uses: asyncio tasks in this
process (the default, engine/jobs.py and engine/background.py), or DBOS
workflows on queues run by this process or by workers (CCBOT_JOBS=dbos,
engine/durable/; imported only then: DBOS is ~40 MB)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.background import BackgroundWork
from engine.errors import EngineError
from engine.jobs import JobRunner
from engine.runlog import RunLog
from engine.runner import RunLoop
from engine.services import Services
from engine.settings import Settings
from engine.store import Store

if TYPE_CHECKING:
    from engine.durable import Durable

JOB_RUNNERS = ("tasks", "dbos")


def durable_for(store: Store, settings: Settings, jobs: str | None, role: str | None,
                options: dict[str, Any] | None) -> Durable | None:
    """DBOS set up on the store when `jobs` (default: CCBOT_JOBS) says so; else None."""
    kind = jobs or settings.ccbot_jobs
    if kind not in JOB_RUNNERS:
        raise EngineError(f"CCBOT_JOBS must be one of {', '.join(JOB_RUNNERS)}, not {kind!r}")
    if kind != "dbos":
        return None
    from engine.durable import Durable

    return Durable.for_store(store, settings, role, **(options or {}))


def runners_for(runlog: RunLog, loop: RunLoop, services: Services,
                durable: Durable | None) -> tuple[JobRunner, BackgroundWork]:
    """The generation jobs' runner and the long modules' worker, wired to the run loop."""
    jobs: JobRunner
    background: BackgroundWork
    if durable is None:
        jobs, background = JobRunner(runlog, services), BackgroundWork(runlog, loop)
    else:
        from engine.durable.background import DurableBackground
        from engine.durable.jobs import DurableJobRunner

        jobs = DurableJobRunner(runlog, services, durable.runtime)
        background = DurableBackground(runlog, loop, durable.runtime)
        if durable.config.role == "worker" and services.store.shared:  # no front end here: pass events on
            runlog.publish = True
    loop.start_background = background.spawn
    return jobs, background
