"""Several processes on one PostgreSQL: a bot that only enqueues, workers that run.

The workers are real processes (tests/engine/durable_worker.py); one is killed
with SIGKILL in the middle of a job and never comes back, and the other takes
its job over. The global limit of the jobs queue holds across both.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests import databases

pytestmark = pytest.mark.skipif(databases.BACKEND != "postgres",
                                reason="several processes share PostgreSQL (CCBOT_TEST_DATABASE=postgres)")

pytest.importorskip("dbos")

from engine.api import Engine  # noqa: E402
from engine.protocol import EngineEvent  # noqa: E402
from tests.conftest import MINI, ScriptedLLM, scripted_registry  # noqa: E402
from tests.engine.durable_worker import OPTIONS, LoggedImages  # noqa: E402
from tests.engine.test_durable_jobs import generate, to_images, until  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def start_worker(url: str, data_dir: Path, executor: str, log: Path, polls: int) -> subprocess.Popen[str]:
    env = {**os.environ, "TEST_WORKER_POLLS": str(polls), "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen([sys.executable, "-m", "tests.engine.durable_worker", url, str(data_dir), executor,
                               str(log)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    return worker


def lines(log: Path) -> list[tuple[float, str, str, str]]:
    if not log.exists():
        return []
    return [(float(t), who, what, job) for t, who, what, job in (line.split() for line in log.read_text().splitlines())]


def most_at_once(log: Path) -> int:
    """Jobs being worked on at the same time, over every process: a job's span in one process runs
    from its first line there (submit or poll) to its last (the killed worker's ends at its death;
    the survivor's starts when it takes the job over; in between the job waits in the queue)."""
    spans: dict[tuple[str, str], list[float]] = {}
    for t, who, _what, job in lines(log):
        spans.setdefault((who, job), []).append(t)
    marks = sorted([(s[0], 1) for s in spans.values()] + [(s[-1], -1) for s in spans.values()])
    now = best = 0
    for _, step in marks:
        now += step
        best = max(best, now)
    return best


async def open_bot(data_dir: Path, url: str, log: Path) -> Engine:
    from engine.store import open_store

    return await Engine.open(store=await open_store(url), media_root=data_dir / "media",
                             providers=scripted_registry(ScriptedLLM(), LoggedImages(log, "bot")),
                             workflow_dirs=[MINI], poll_scale=0.01, jobs="dbos", role="bot",
                             durable_options={"executor_id": "test-bot", **OPTIONS})


async def test_a_bot_enqueues_workers_run_under_the_global_limit_and_a_killed_workers_job_is_taken_over(
        data_dir: Path, tmp_path: Path) -> None:
    url = str(await databases.database_for(data_dir))
    log = tmp_path / "provider.log"
    bot = await open_bot(data_dir, url, log)  # first: DBOS's tables and the queues exist before the workers
    heard: list[EngineEvent] = []

    async def listener(event: EngineEvent) -> None:
        heard.append(event)

    bot.subscribe(listener)
    await bot.listen_to_workers()
    workers = [start_worker(url, data_dir, f"test-worker-{i}", log, polls=25) for i in (1, 2)]
    try:
        started = [await to_images(bot, f"person{i}") for i in range(4)]
        jobs = [(run_id, await generate(bot, run_id, iid)) for run_id, iid in started]

        async def first_polled() -> bool:
            return any(what == "poll" for _, _, what, _ in lines(log))

        await until(first_polled, timeout=20)
        victim = next(who for _, who, what, _ in lines(log) if what == "poll")
        os.kill(workers[int(victim[-1]) - 1].pid, signal.SIGKILL)  # mid-job, and it never comes back

        async def all_done() -> bool:
            for run_id, job_id in jobs:
                bot.runlog.forget(run_id)
                if (await bot.load(run_id)).jobs[job_id].status != "completed":
                    return False
            return True

        await until(all_done, timeout=60)
        submits = [(who, job) for _, who, what, job in lines(log) if what == "submit"]
        assert len(submits) == 4, f"one submit per job, none again after the kill: {submits}"
        assert all(who != "bot" for who, _ in submits), "the bot only enqueues"
        assert most_at_once(log) <= 2, "the global limit holds across the workers"
        survivor = f"test-worker-{3 - int(victim[-1])}"
        fetched_by = {who for _, who, what, _ in lines(log) if what == "fetch"}
        assert fetched_by == {survivor}, "the killed worker's job was finished by the survivor"

        async def all_heard() -> bool:  # a worker commits a job's end first, then publishes it
            return {e.data["job_id"] for e in heard if e.type == "job_completed"} == {job_id for _, job_id in jobs}

        await until(all_heard, timeout=10)  # "timed out": the bot missed a job the workers finished
        rows = await bot.services.store.spend_rows()
        assert sorted(r.status for r in rows) == ["charged"] * 4
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
        await bot.close()
        await asyncio.sleep(0)
