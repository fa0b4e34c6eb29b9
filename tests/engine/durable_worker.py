"""TEST-ONLY: a worker process (CCBOT_ROLE=worker) for tests/engine/test_durable_processes.py.

    python -m tests.engine.durable_worker <database url> <data dir> <executor id> <provider log>

It runs the jobs of the shared queue with a provider that appends one line per
submit, poll and fetch to the provider log (what each process did, and when),
until it is killed.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from engine.api import Engine
from engine.providers.base import Cost, GenerationRequest, JobStatus, SubmitResult
from tests.conftest import MINI, CountingImages, ScriptedLLM, scripted_registry

POLLS = int(os.environ.get("TEST_WORKER_POLLS", "10"))
OPTIONS = {"job_concurrency": 2, "job_global_concurrency": 2, "queue_poll_s": 0.05, "heartbeat_s": 0.2,
           "dead_after_s": 1.5}


class LoggedImages(CountingImages):
    def __init__(self, log: Path, executor: str) -> None:
        super().__init__()
        self.log, self.executor = log, executor
        self.polls_of: dict[str, int] = {}

    def write(self, what: str, job_id: str) -> None:
        with self.log.open("a") as f:
            f.write(f"{time.time():.4f} {self.executor} {what} {job_id}\n")

    def estimate_cost(self, request: GenerationRequest) -> Cost:
        return Cost(usd=0.04)

    async def submit(self, request: GenerationRequest, out_dir: Path) -> SubmitResult:
        job_id = f"ext-{os.getpid()}-{time.monotonic_ns()}"
        self.write("submit", job_id)
        return SubmitResult(job_id=job_id, cost=Cost(usd=0.04))

    async def poll(self, job_id: str, provider_data: dict[str, Any]) -> JobStatus:
        self.polls_of[job_id] = self.polls_of.get(job_id, 0) + 1
        self.write("poll", job_id)
        return JobStatus(state="completed" if self.polls_of[job_id] >= POLLS else "running")

    async def fetch(self, job_id: str, status: JobStatus, out_dir: Path) -> list[Any]:
        self.write("fetch", job_id)
        return await super().fetch(job_id, status, out_dir)


async def main(url: str, data_dir: str, executor: str, log: str) -> None:
    from engine.store import open_store

    engine = await Engine.open(store=await open_store(url), media_root=Path(data_dir) / "media",
                               providers=scripted_registry(ScriptedLLM(), LoggedImages(Path(log), executor)),
                               workflow_dirs=[MINI], poll_scale=0.01, jobs="dbos", role="worker",
                               durable_options={"executor_id": executor, **OPTIONS})
    print("ready", flush=True)
    await engine.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
