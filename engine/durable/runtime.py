"""DBOS for this process: configured from our settings, launched on the running loop, stopped.

DBOS keeps one instance per process (its workflows and queues are process-wide),
so one `Runtime` is current at a time. Opening a second one while another is
current treats the first as dead: its workflow tasks are cancelled where they
stand (nothing recorded, as after a SIGKILL) and DBOS is destroyed before the
new one launches. That is what a test that "kills" an engine and opens another
one on the same data needs, and it is the only way one process can run two.

The system database is the store's PostgreSQL (DBOS's tables in their own
schema) when the store is PostgreSQL, else a SQLite file next to the store's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from dbos import DBOS, DBOSConfig, DBOSPortableJSONSerializer, Queue

from engine.settings import Settings
from engine.store import Store

log = logging.getLogger(__name__)

JOBS_QUEUE = "ccbot_jobs"
RENDER_QUEUE = "ccbot_render"
ROLES = ("all", "bot", "worker")
EXECUTOR_THREADS = 32  # DBOS's thread pool, which also becomes the loop's default executor


@dataclass
class DurableConfig:
    system_database_url: str
    app_version: str
    executor_id: str
    role: str = "all"
    schema: str = "dbos"
    job_concurrency: int = 8
    job_global_concurrency: int | None = None
    render_concurrency: int = 1
    queue_poll_s: float = 1.0
    heartbeat_s: float = 10.0
    dead_after_s: float = 60.0

    @property
    def executes(self) -> bool:
        """True when this process runs jobs and renders (a `bot` only enqueues them)."""
        return self.role != "bot"

    @classmethod
    def for_store(cls, store: Store, settings: Settings, role: str | None = None, **overrides: Any) -> DurableConfig:
        role = role or settings.ccbot_role
        if role not in ROLES:
            raise ValueError(f"CCBOT_ROLE must be one of {', '.join(ROLES)}, not {role!r}")
        url = getattr(store, "url", None)
        if url is None:
            path = Path(store.path or settings.db_path).resolve()
            url = f"sqlite:///{path.with_name(path.stem + '.dbos.sqlite3')}"
        values: dict[str, Any] = dict(
            system_database_url=url, app_version=settings.ccbot_app_version, role=role,
            executor_id=settings.ccbot_executor_id or default_executor_id(role, settings.ccbot_process_slot),
            schema=settings.ccbot_dbos_schema, job_concurrency=max(1, settings.ccbot_job_concurrency),
            job_global_concurrency=settings.ccbot_job_global_concurrency,
            render_concurrency=max(1, settings.ccbot_render_concurrency or os.cpu_count() or 1),
            queue_poll_s=settings.ccbot_queue_poll_s, heartbeat_s=settings.ccbot_heartbeat_s,
            dead_after_s=settings.ccbot_executor_dead_after_s,
        )
        values.update(overrides)
        return cls(**values)


def default_executor_id(role: str, slot: str = "0") -> str:
    """Stable across restarts of one process (so a restart recovers its own work):
    the host, the role and a slot number that tells apart the processes of one host."""
    return f"{socket.gethostname()}-{role}-{slot}"


class _Quiet(logging.Filter):
    """DBOS's normal cancellations are not errors: no traceback for them."""

    NOISE = ("Asyncio task cancelled for workflow or step",)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(self.NOISE):
            return False
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and type(exc).__name__ in ("DBOSWorkflowCancelledError", "CancelledError",
                                                       "DBOSAwaitedWorkflowCancelledError"):
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args = f"{message} (cancelled)", None
        return True


def route_logs(level: int = logging.WARNING) -> None:
    """DBOS's logger into ours: no console handler of its own (a handler present
    before DBOS() stops it adding one), our format, its cancellations quiet."""
    logger = logging.getLogger("dbos")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    if not any(isinstance(f, _Quiet) for f in logger.filters):
        logger.addFilter(_Quiet())
    logger.propagate = True
    logger.setLevel(level)


class Runtime:
    """DBOS, launched for one engine; `current` is the one of this process."""

    current: ClassVar[Runtime | None] = None

    def __init__(self, config: DurableConfig) -> None:
        self.config = config
        self.launched = False
        self.launch_s = 0.0
        self.tasks: set[asyncio.Task[Any]] = set()  # workflow tasks running in this process
        self._queues: dict[str, Queue] = {}

    async def start(self) -> None:
        previous = Runtime.current
        if previous is not None:  # a process runs one DBOS: the engine before this one is gone
            log.info("DBOS of executor %s is replaced: its work is left as a crash leaves it",
                     previous.config.executor_id)
            await previous.stop(abandon=True)
        started = time.perf_counter()
        route_logs()
        config: DBOSConfig = {
            "name": "ccbot",
            "system_database_url": self.config.system_database_url,
            "application_version": self.config.app_version,
            "executor_id": self.config.executor_id,
            "serializer": DBOSPortableJSONSerializer(),
            "dbos_system_schema": self.config.schema,
            "max_executor_threads": EXECUTOR_THREADS,
            "log_level": "WARNING",
            "notification_listener_polling_interval_sec": 0.1,
        }
        DBOS(config=config)
        if not self.config.executes:
            DBOS.listen_queues([])  # a bot enqueues; the workers run
        DBOS.launch()  # on the loop's own thread: DBOS runs its async workflows on this loop
        Runtime.current = self
        self.launched = True
        poll = self.config.queue_poll_s
        per_process = self.config.job_concurrency
        if self.config.job_global_concurrency is not None:
            per_process = min(per_process, self.config.job_global_concurrency)
        self._queues[JOBS_QUEUE] = await DBOS.register_queue_async(
            JOBS_QUEUE, worker_concurrency=per_process, global_concurrency=self.config.job_global_concurrency,
            polling_interval_sec=poll)
        renders = self.config.render_concurrency
        self._queues[RENDER_QUEUE] = await DBOS.register_queue_async(
            RENDER_QUEUE, worker_concurrency=min(renders, os.cpu_count() or 1),
                                        global_concurrency=renders, polling_interval_sec=poll)
        self.launch_s = time.perf_counter() - started
        log.info("durable jobs on DBOS: executor %s, version %s, role %s (%.0f ms)", self.config.executor_id,
                 self.config.app_version, self.config.role, self.launch_s * 1000)

    def queue(self, name: str) -> Queue:
        return self._queues[name]

    def track(self, task: asyncio.Task[Any]) -> None:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def stop(self, abandon: bool = False) -> None:
        """Cancel this process's workflow tasks (they stay PENDING: a restart with the
        same executor id, or a survivor's reaper, runs them again), then DBOS goes."""
        if not self.launched:
            return
        self.launched = False
        tasks = [t for t in self.tasks if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        loop = asyncio.get_running_loop()
        # destroy joins DBOS's threads (up to ~1 s on SQLite): off the loop, on a pool of our own
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dbos-destroy") as pool:
            await loop.run_in_executor(pool, DBOS.destroy)
        loop.set_default_executor(ThreadPoolExecutor())  # DBOS's pool, the loop's default until now, is gone
        if Runtime.current is self:
            Runtime.current = None
        if not abandon:
            log.info("DBOS of executor %s stopped", self.config.executor_id)
