"""Recovery asks the provider before giving up: the process dies after Leonardo
accepted (and billed) a create call but before `job_submitted` was written; the
next start finds the generation by prompt and time and adopts it: one create,
the job completes, one charged accounting row. When nothing (or more than one
job of no one's) matches, the job ends INTERRUPTED as before, its reservation kept.

Both job runners: the task runner (a job only created may have been sent) and
DBOS (`job_submitting` without `job_submitted`). A death is a BaseException no
code catches, raised by the store's commit hook (before the record commits) or
by the claim that comes just before it (the answer in hand, nothing written).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.jobs import INTERRUPTED
from engine.providers.http import RetryPolicy
from engine.providers.leonardo import LeonardoImages
from tests.conftest import MINI, ScriptedLLM, scripted_registry
from tests.databases import store_for
from tests.engine.test_durable_jobs import Crash, generate, job_of, kill, to_images
from tests.fakes.leonardo_server import FakeLeonardo

KEY = "leo-test-lookup-0123456789"
CREATE = ("POST", "/api/rest/v1/generations")


@pytest.fixture
async def leo() -> AsyncIterator[FakeLeonardo]:
    server = FakeLeonardo(api_key=KEY)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(params=["tasks", "dbos"])
def runner(request: pytest.FixtureRequest) -> str:
    if request.param == "dbos":
        pytest.importorskip("dbos")
    return str(request.param)


async def open_engine(data_dir: Path, leo: FakeLeonardo, runner: str) -> Engine:
    images = LeonardoImages(KEY, base_url=leo.base_url, timeout_s=10,
                            retry=RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.02))
    images.poll_interval_s = 0.05
    options: dict[str, Any] = {"jobs": "dbos", "durable_options": {
        "executor_id": "test-a", "queue_poll_s": 0.02, "heartbeat_s": 0.1}} if runner == "dbos" else {}
    return await Engine.open(store=await store_for(data_dir), media_root=data_dir / "media",
                             providers=scripted_registry(ScriptedLLM(), images),  # type: ignore[arg-type]
                             workflow_dirs=[MINI], poll_scale=0.01, **options)


async def die_after_create(engine: Engine, where: str) -> None:
    """The process dies with Leonardo's answer in hand: before its id is claimed, or before it is recorded."""
    store = engine.services.store
    if where == "record":
        def before_commit(event_types: list[str]) -> None:
            if "job_submitted" in event_types:
                raise Crash("killed before job_submitted was committed")
        store.before_commit = before_commit
        return
    claim = store.claim

    async def dying_claim(keys: list[str], run_id: str = "") -> list[bool]:
        if any(k.startswith("provider-job:") for k in keys):
            raise Crash("killed before the provider's id was claimed")
        return await claim(keys, run_id)
    store.claim = dying_claim  # type: ignore[method-assign]


async def stop(engine: Engine, runner: str) -> None:
    if runner == "dbos":
        await kill(engine)
    else:
        await engine.close()  # its tasks cancelled where they stand, nothing written


async def crashed_job(data_dir: Path, leo: FakeLeonardo, runner: str, where: str) -> tuple[str, str]:
    engine = await open_engine(data_dir, leo, runner)
    run_id, iid = await to_images(engine)
    await die_after_create(engine, where)
    job_id = await generate(engine, run_id, iid)
    try:
        await engine.jobs.wait_idle(timeout=10)
    except BaseException:
        pass  # the job task died (a Crash), as the process would
    assert len(leo.calls(*CREATE)) == 1, "Leonardo accepted (and billed) the job"
    job = await job_of(engine, run_id, job_id)
    assert job.status == "created" and job.provider_job_id is None, "its id was never recorded"
    await stop(engine, runner)
    return run_id, job_id


async def recovered(data_dir: Path, leo: FakeLeonardo, runner: str, run_id: str, job_id: str) -> tuple[Any, Any]:
    engine = await open_engine(data_dir, leo, runner)
    try:
        await engine.resume_all()
        await engine.jobs.wait_idle(timeout=20)
        job = await job_of(engine, run_id, job_id)
        rows = [(r.key, r.status) for r in await engine.services.store.spend_rows()]
        events = [e for e in await engine.services.store.events(run_id) if e.data.get("job_id") == job_id]
        return job, (rows, events)
    finally:
        await stop(engine, runner)


@pytest.mark.parametrize("where", ["record", "claim"])
async def test_a_job_accepted_but_not_recorded_is_found_and_completes_paid_once(
        data_dir: Path, leo: FakeLeonardo, runner: str, where: str) -> None:
    run_id, job_id = await crashed_job(data_dir, leo, runner, where)
    job, (rows, events) = await recovered(data_dir, leo, runner, run_id, job_id)
    assert len(leo.calls(*CREATE)) == 1, "never sent again"
    (gid,) = leo.generations
    assert job.status == "completed" and job.content_ids and job.provider_job_id == gid
    assert rows == [(job_id, "charged")], "one accounting row, charged once"
    (submitted,) = [e for e in events if e.type == "job_submitted"]
    assert submitted.data["recovered"] is True and submitted.data["provider_job_id"] == gid
    assert leo.calls("GET", f"/api/rest/v1/generations/user/{leo.user_id}")


async def test_no_matching_generation_ends_interrupted_as_before(data_dir: Path, leo: FakeLeonardo,
                                                                 runner: str) -> None:
    run_id, job_id = await crashed_job(data_dir, leo, runner, "record")
    leo.generations.clear()  # Leonardo lost it (or it never got there)
    job, (rows, events) = await recovered(data_dir, leo, runner, run_id, job_id)
    assert job.status == "failed" and job.error == INTERRUPTED and job.retryable_error
    assert len(leo.calls(*CREATE)) == 1, "never sent again automatically"
    assert rows == [(job_id, "reserved")], "one row: the reservation stays"
    assert "job_submitted" not in [e.type for e in events]


async def test_two_unclaimed_matches_are_not_guessed_between(data_dir: Path, leo: FakeLeonardo, runner: str) -> None:
    run_id, job_id = await crashed_job(data_dir, leo, runner, "claim")
    (gid,) = leo.generations  # a lost job of the same prompt and seed, at the same time: which one is ours?
    leo.generations["twin"] = {**leo.generations[gid], "created": time.time()}
    job, (rows, _) = await recovered(data_dir, leo, runner, run_id, job_id)
    assert job.status == "failed" and job.error == INTERRUPTED
    assert rows == [(job_id, "reserved")]


async def test_a_failing_lookup_ends_interrupted(data_dir: Path, leo: FakeLeonardo, runner: str) -> None:
    run_id, job_id = await crashed_job(data_dir, leo, runner, "record")
    leo.api_key = "rotated"  # GET /me is refused: the lookup fails, the person decides
    job, (rows, _) = await recovered(data_dir, leo, runner, run_id, job_id)
    assert job.status == "failed" and job.error == INTERRUPTED
    assert rows == [(job_id, "reserved")] and len(leo.calls(*CREATE)) == 1


async def test_a_twin_of_the_same_prompt_with_another_seed_is_not_mistaken_for_ours(
        data_dir: Path, leo: FakeLeonardo, runner: str) -> None:
    run_id, job_id = await crashed_job(data_dir, leo, runner, "claim")
    (gid,) = leo.generations  # another person's lost job, same prompt, same moment, its own seed
    leo.generations["twin"] = {**leo.generations[gid], "created": time.time(), "seed": leo.generations[gid]["seed"] + 1}
    job, (rows, _) = await recovered(data_dir, leo, runner, run_id, job_id)
    assert job.status == "completed" and job.provider_job_id == gid
    assert rows == [(job_id, "charged")] and len(leo.calls(*CREATE)) == 1
