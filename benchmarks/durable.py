"""What DBOS costs a process: start-up, memory, and the latency it adds to a job.

    python benchmarks/durable.py [--people 30] [--postgres]

Each configuration runs in a fresh process (RSS is per process): the engine on
the task runner (CCBOT_JOBS=tasks) and on DBOS (CCBOT_JOBS=dbos), SQLite, and
with --postgres also PostgreSQL (a throwaway server, tests/pg.py). Every
process imports the Telegram front end as a bot process does, opens the
engine, then plays `--people` runs of the test workflow at once, each with one
generation job, and measures:

- start-up: imports (the engine, the front end, dbos) and Engine.open, fresh
  database and reopened;
- RSS after start-up and after the runs, and the peak (VmHWM);
- job latency: from the tap that starts a job to the provider's submit (the
  queue's pickup), for jobs started one at a time once the queue is warm, at
  the production poll interval (1 s) and at 50 ms.

Prints one JSON line per configuration. The goal it checks: a bot process under
150 MB peak RSS with 30 people.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> tuple[float, float]:
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            values[line.split(":")[0]] = int(line.split()[1]) / 1024
    return round(values["VmRSS"], 1), round(values["VmHWM"], 1)


async def one(jobs: str, url: str | None, people: int, poll_s: float) -> dict[str, Any]:
    from bot.main import tune_malloc

    tune_malloc()
    out: dict[str, Any] = {"jobs": jobs, "db": "postgres" if url else "sqlite", "poll_s": poll_s}
    out["rss_engine_imported"] = rss_mb()[0]
    assert "dbos" not in sys.modules
    t = time.perf_counter()
    import bot.telegram.app  # noqa: F401  (a bot process has the front end loaded)
    from engine.api import Engine
    from engine.providers.base import JobStatus, SubmitResult
    from engine.store import open_store
    from tests.conftest import MINI, CountingImages, ScriptedLLM, scripted_registry
    from engine.protocol import InteractionResponse, SubActionRequest
    from tests.engine.test_engine_crash import ANSWERS  # (no dbos import: the task runner's numbers stay clean)

    async def to_images(engine: Engine, owner: str) -> tuple[str, str]:
        run_id = (await engine.start_run(owner, "mini")).run_id
        while True:
            pending = (await engine.get_run(run_id)).pending
            assert pending is not None
            if pending.module_name not in ANSWERS:
                return run_id, pending.interaction_id
            await engine.respond(run_id, InteractionResponse(interaction_id=pending.interaction_id,
                                                             **ANSWERS[pending.module_name]))

    async def generate(engine: Engine, run_id: str, iid: str) -> str:
        view = await engine.start_sub_action(run_id, SubActionRequest(
            interaction_id=iid, prompt_key="openai", request_key=f"{iid}:1"))
        return view.job_id
    if jobs == "dbos":
        import engine.durable.jobs  # noqa: F401
    out["import_s"] = round(time.perf_counter() - t, 3)

    submits: list[float] = []

    class Images(CountingImages):
        async def submit(self, request: Any, out_dir: Path) -> SubmitResult:
            result = await super().submit(request, out_dir)
            submits.append(time.perf_counter())
            return result

        async def poll(self, job_id: str, provider_data: dict[str, Any]) -> JobStatus:
            await asyncio.sleep(0.2)
            return JobStatus(state="completed")

    tmp = Path(tempfile.mkdtemp())

    async def open_engine() -> Engine:
        store = await open_store(url or tmp / "db.sqlite3")
        return await Engine.open(store=store, media_root=tmp / "media", providers=scripted_registry(ScriptedLLM(), Images()),
                                 workflow_dirs=[MINI], poll_scale=1.0, jobs=jobs,
                                 durable_options={"queue_poll_s": poll_s, "executor_id": "bench"})

    t = time.perf_counter()
    engine = await open_engine()
    out["open_fresh_s"] = round(time.perf_counter() - t, 3)
    await engine.close()
    t = time.perf_counter()
    engine = await open_engine()
    out["open_again_s"] = round(time.perf_counter() - t, 3)
    out["rss_started"], _ = rss_mb()

    # latency: one job at a time on a warm queue, tap -> provider submit
    latencies = []
    for i in range(8):
        run_id, iid = await to_images(engine, f"solo{i}")
        t = time.perf_counter()
        job_id = await generate(engine, run_id, iid)
        await engine.jobs.wait_idle(timeout=60)
        latencies.append(submits[-1] - t)
        assert (await engine.load(run_id)).jobs[job_id].status == "completed"
    out["latency_ms_p50"] = round(statistics.median(latencies) * 1000, 1)
    out["latency_ms_max"] = round(max(latencies) * 1000, 1)

    # `people` at once, each with a job
    t = time.perf_counter()
    started = await asyncio.gather(*(to_images(engine, f"person{i}") for i in range(people)))
    await asyncio.gather(*(generate(engine, run_id, iid) for run_id, iid in started))
    await engine.jobs.wait_idle(timeout=120)
    out["people_s"] = round(time.perf_counter() - t, 2)
    out["rss_after_people"], out["rss_peak"] = rss_mb()
    out["threads"] = len(os.listdir("/proc/self/task"))
    await engine.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=30)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--one", nargs=4, metavar=("JOBS", "URL", "PEOPLE", "POLL_S"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        jobs, url, people, poll = args.one
        print(json.dumps(asyncio.run(one(jobs, None if url == "-" else url, int(people), float(poll)))))
        return
    server = None
    urls = ["-"]
    if args.postgres:
        from tests.pg import PostgresServer

        server = PostgresServer().start()
        urls.append(server.url())
    try:
        configs = [(j, u, p) for u in urls for j, p in (("tasks", 1.0), ("dbos", 1.0), ("dbos", 0.05))]
        for jobs, url, poll in configs:
            if url != "-" and server is not None:  # a fresh database per configuration
                name = f"bench_{jobs}_{str(poll).replace('.', '_')}"
                subprocess.run([str(server.bin / "psql"), "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres",
                                "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
                url = server.url(name)
            result = subprocess.run([sys.executable, __file__, "--one", jobs, url, str(args.people), str(poll)],
                                    capture_output=True, text=True, check=True, cwd=ROOT,
                                    env={**os.environ, "PYTHONPATH": str(ROOT)})
            print(result.stdout.strip().splitlines()[-1], flush=True)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
