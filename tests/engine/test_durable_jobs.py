"""Generation jobs and renders on DBOS (CCBOT_JOBS=dbos), on SQLite or PostgreSQL.

A process "dies" here as a SIGKILL leaves it: its workflow tasks are cancelled
where they stand (nothing recorded) and DBOS is torn down; a new engine on the
same data then opens with the same executor id (a restart) or another one (a
survivor). Nothing may be paid twice.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dbos")

from dbos import DBOS, SetWorkflowID  # noqa: E402

from engine.api import Engine  # noqa: E402
from engine.durable.jobs import job_workflow  # noqa: E402
from engine.durable.runtime import JOBS_QUEUE, Runtime  # noqa: E402
from engine.jobs import INTERRUPTED  # noqa: E402
from engine.modules import default_modules  # noqa: E402
from engine.modules.base import Module, ModuleContext  # noqa: E402
from engine.protocol import InteractionResponse, SubActionRequest  # noqa: E402
from engine.providers.base import Cost, GenerationRequest, JobStatus, SubmitResult  # noqa: E402
from tests.conftest import MINI, CountingImages, ScriptedLLM, scripted_registry  # noqa: E402
from tests.databases import store_for  # noqa: E402

ANSWERS = {
    "select_pet": {"selected_indices": [1]},
    "ask_direction": {"value": "by the window"},
    "select_idea": {"selected_indices": ["ideas", 1]},
    "select_features": {"selected_indices": [["detected", 0], ["detected", 2]]},
}
QUICK = {"queue_poll_s": 0.02, "heartbeat_s": 0.1}


class Crash(BaseException):
    """A death no code catches (raised by a commit hook)."""


class SlowImages(CountingImages):
    """Priced, and polled `polls_needed` times before it is done; counts what runs at once."""

    def __init__(self, polls_needed: int = 3, price: float = 0.04) -> None:
        super().__init__()
        self.polls_needed = polls_needed
        self.price = price
        self.polls_of: dict[str, int] = {}
        self.active: set[str] = set()
        self.most_at_once = 0

    def estimate_cost(self, request: GenerationRequest) -> Cost:
        return Cost(usd=self.price)

    async def submit(self, request: GenerationRequest, out_dir: Path) -> SubmitResult:
        result = await super().submit(request, out_dir)
        self.active.add(result.job_id)
        self.most_at_once = max(self.most_at_once, len(self.active))
        return SubmitResult(job_id=result.job_id, provider_data=result.provider_data, cost=Cost(usd=self.price))

    async def poll(self, job_id: str, provider_data: dict[str, Any]) -> JobStatus:
        self.polls += 1
        self.polls_of[job_id] = self.polls_of.get(job_id, 0) + 1
        if self.polls_of[job_id] < self.polls_needed:
            return JobStatus(state="running", progress=100.0 * self.polls_of[job_id] / self.polls_needed)
        self.active.discard(job_id)
        return JobStatus(state="completed")


async def open_engine(data_dir: Path, images: CountingImages, executor: str = "test-a", **options: Any) -> Engine:
    return await Engine.open(store=await store_for(data_dir), media_root=data_dir / "media",
                             providers=scripted_registry(ScriptedLLM(), images), workflow_dirs=[MINI],
                             poll_scale=0.01, jobs="dbos", durable_options={"executor_id": executor, **QUICK, **options})


async def kill(engine: Engine) -> None:
    """As a SIGKILL: every task of the process stops where it is, nothing is written."""
    for task in [*engine.jobs.tasks.values(), *engine.background.tasks.values()]:
        task.cancel()
    runtime = Runtime.current
    assert runtime is not None
    await engine.durable.reaper.stop()  # type: ignore[union-attr]
    await runtime.stop(abandon=True)
    await engine.services.store.close()


async def to_images(engine: Engine, owner: str = "alice") -> tuple[str, str]:
    """A new run answered up to its image step: (run id, interaction id)."""
    run_id = (await engine.start_run(owner, "mini")).run_id
    for _ in range(10):
        pending = (await engine.get_run(run_id)).pending
        assert pending is not None
        if pending.module_name not in ANSWERS:
            return run_id, pending.interaction_id
        await engine.respond(run_id, InteractionResponse(interaction_id=pending.interaction_id,
                                                         **ANSWERS[pending.module_name]))
    raise AssertionError("never reached the image step")


async def generate(engine: Engine, run_id: str, interaction_id: str, key: str = "1") -> str:
    view = await engine.start_sub_action(run_id, SubActionRequest(
        interaction_id=interaction_id, prompt_key="openai", request_key=f"{interaction_id}:{key}"))
    return view.job_id


async def until(check: Any, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def job_of(engine: Engine, run_id: str, job_id: str) -> Any:
    engine.runlog.forget(run_id)
    return (await engine.load(run_id)).jobs[job_id]


async def test_a_job_killed_mid_poll_is_polled_again_after_a_restart_never_resubmitted(data_dir: Path) -> None:
    images = SlowImages(polls_needed=40)
    engine = await open_engine(data_dir, images)
    run_id, iid = await to_images(engine)
    job_id = await generate(engine, run_id, iid)

    async def polled() -> bool:
        return images.polls >= 3

    await until(polled)
    assert (await job_of(engine, run_id, job_id)).status in ("submitted", "running")
    await kill(engine)
    polls_at_kill = images.polls

    engine = await open_engine(data_dir, images)  # the same executor id: DBOS recovers its own work
    try:
        await engine.resume_all()
        await engine.jobs.wait_idle(timeout=20)
        job = await job_of(engine, run_id, job_id)
        assert job.status == "completed" and job.content_ids
        assert images.submits == 1, "polled again, never submitted again"
        assert images.polls > polls_at_kill
        rows = await engine.services.store.spend_rows()
        assert [(r.key, r.status) for r in rows] == [(job_id, "charged")]
        # DBOS records SUCCESS just after the workflow body returns, so after the job's own row
        await until(lambda: _finished(job_id))
        assert len(await DBOS.list_workflows_async(workflow_ids=[job_id])) == 1
    finally:
        await engine.close()


async def test_a_crash_after_the_provider_accepted_but_before_job_submitted_ends_interrupted(data_dir: Path) -> None:
    images = SlowImages()
    engine = await open_engine(data_dir, images)
    run_id, iid = await to_images(engine)

    def die_before_submitted(event_types: list[str]) -> None:
        if "job_submitted" in event_types:
            raise Crash("killed with the provider's answer in hand")

    engine.services.store.before_commit = die_before_submitted
    job_id = await generate(engine, run_id, iid)
    await engine.jobs.wait_idle(timeout=10)
    assert images.submits == 1, "the provider accepted (and billed) the job"
    assert (await job_of(engine, run_id, job_id)).submitting
    await kill(engine)

    engine = await open_engine(data_dir, images)
    try:
        await engine.resume_all()
        await engine.jobs.wait_idle(timeout=20)
        job = await job_of(engine, run_id, job_id)
        assert job.status == "failed" and job.error == INTERRUPTED and job.retryable_error
        assert images.submits == 1, "never sent again automatically"
        rows = await engine.services.store.spend_rows()
        assert [(r.key, r.status) for r in rows] == [(job_id, "reserved")], "one row: the reservation stays"
        types = [e.type for e in await engine.services.store.events(run_id) if e.data.get("job_id") == job_id]
        assert types == ["job_created", "job_submitting", "job_failed"]
    finally:
        await engine.close()


async def test_starting_the_same_job_id_twice_runs_it_once(data_dir: Path) -> None:
    images = SlowImages(polls_needed=5)
    engine = await open_engine(data_dir, images)
    try:
        run_id, iid = await to_images(engine)
        job_id = await generate(engine, run_id, iid)
        again = await generate(engine, run_id, iid)  # a double tap: the engine's own idempotency
        assert again == job_id
        engine.jobs.spawn(run_id, job_id)
        for _ in range(2):  # and DBOS's: the job id is the workflow id
            with SetWorkflowID(job_id):
                await Runtime.current.queue(JOBS_QUEUE).enqueue_async(job_workflow, run_id, job_id)  # type: ignore[union-attr]
        await engine.jobs.wait_idle(timeout=20)
        await until(lambda: _finished(job_id))
        assert images.submits == 1
        assert len(await DBOS.list_workflows_async(workflow_ids=[job_id])) == 1
        assert (await job_of(engine, run_id, job_id)).status == "completed"
    finally:
        await engine.close()


async def _finished(workflow_id: str) -> bool:
    status = await DBOS.get_workflow_status_async(workflow_id)
    return status is not None and status.status == "SUCCESS"


async def test_the_queue_runs_no_more_jobs_at_once_than_its_limit(data_dir: Path) -> None:
    images = SlowImages(polls_needed=30)  # each job lasts well over the queue's poll: they overlap
    engine = await open_engine(data_dir, images, job_concurrency=2)
    try:
        started = [await to_images(engine, f"person{i}") for i in range(5)]
        jobs = [(run_id, await generate(engine, run_id, iid)) for run_id, iid in started]
        await engine.jobs.wait_idle(timeout=30)
        for run_id, job_id in jobs:
            assert (await job_of(engine, run_id, job_id)).status == "completed"
        assert images.submits == 5 and images.most_at_once == 2
    finally:
        await engine.close()


async def test_a_dead_executors_job_is_taken_over_by_a_survivor(data_dir: Path) -> None:
    images = SlowImages(polls_needed=40)
    engine = await open_engine(data_dir, images, executor="test-dead")
    run_id, iid = await to_images(engine)
    job_id = await generate(engine, run_id, iid)

    async def polled() -> bool:
        return images.polls >= 3

    await until(polled)
    await kill(engine)  # and it never comes back
    polls_at_kill = images.polls

    survivor = await open_engine(data_dir, images, executor="test-survivor", dead_after_s=0.5)
    try:
        await survivor.resume_all()  # finds the workflow there, PENDING under the dead executor
        await until(lambda: _finished(job_id), timeout=20)
        job = await job_of(survivor, run_id, job_id)
        assert job.status == "completed"
        assert images.submits == 1 and images.polls > polls_at_kill
        assert job_id in survivor.durable.reaper.taken_over  # type: ignore[union-attr]
        (status,) = await DBOS.list_workflows_async(workflow_ids=[job_id])
        assert status.executor_id == "test-survivor"
    finally:
        await survivor.close()


async def test_cancelling_a_run_cancels_its_workflow_quietly(data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    images = SlowImages(polls_needed=1000)
    engine = await open_engine(data_dir, images)
    try:
        run_id, iid = await to_images(engine)
        job_id = await generate(engine, run_id, iid)

        async def polled() -> bool:
            return images.polls >= 2

        await until(polled)
        with caplog.at_level("INFO"):
            await engine.cancel_run(run_id)
            await engine.jobs.wait_idle(timeout=10)
            polls = images.polls
            await asyncio.sleep(0.2)
        assert images.polls == polls, "no poll after the cancel"
        assert (await job_of(engine, run_id, job_id)).status == "cancelled"
        assert (await DBOS.get_workflow_status_async(job_id)).status == "CANCELLED"  # type: ignore[union-attr]
        assert not engine.jobs.tasks and not engine.jobs.running  # type: ignore[attr-defined]
        loud = [r for r in caplog.records if r.levelno >= 40 or r.exc_info]
        assert loud == [], [r.getMessage() for r in loud]
    finally:
        await engine.close()


# ---------------------------------------------------------------- renders
class SlowRender(Module):
    """A long module (like the final render) that takes `seconds`; counts its starts."""

    module_id = "test.slow_render"
    background = True
    starts = 0
    seconds = 0.5

    async def execute(self, inputs: dict[str, Any], ctx: ModuleContext) -> dict[str, Any]:
        SlowRender.starts += 1
        await asyncio.sleep(SlowRender.seconds)
        return {"video": f"render {SlowRender.starts}"}


def render_workflow_dir(root: Path) -> Path:
    folder = root / "slow"
    (folder / "steps").mkdir(parents=True)
    (folder / "steps" / "render.json").write_text(json.dumps({
        "step_id": "render", "name": "Render",
        "modules": [{"module_id": "test.slow_render", "name": "final_render", "inputs": {},
                     "outputs_to_state": {"video": "final_video"}}]}))
    (folder / "workflow.json").write_text(json.dumps({
        "workflow_id": "slow", "name": "Slow", "version": "1.0", "initial_state": {},
        "steps": [{"$ref": "steps/render.json", "type": "json"}]}))
    return folder


async def open_render_engine(data_dir: Path, workflow: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setattr("engine.api.default_modules", lambda: {**default_modules(), "test.slow_render": SlowRender()})
    return await Engine.open(store=await store_for(data_dir), media_root=data_dir / "media",
                             providers=scripted_registry(), workflow_dirs=[workflow], poll_scale=0.01,
                             jobs="dbos", durable_options={"executor_id": "test-render", **QUICK})


async def test_a_render_killed_midway_runs_again_after_the_restart(data_dir: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    SlowRender.starts, SlowRender.seconds = 0, 5.0
    workflow = render_workflow_dir(tmp_path)
    engine = await open_render_engine(data_dir, workflow, monkeypatch)
    run_id = (await engine.start_run("alice", "slow")).run_id

    async def rendering() -> bool:
        return SlowRender.starts == 1

    await until(rendering)
    await kill(engine)
    SlowRender.seconds = 0.05

    engine = await open_render_engine(data_dir, workflow, monkeypatch)
    try:
        await engine.resume_all()
        await engine.wait_idle(timeout=20)
        view = await engine.get_run(run_id)
        assert view.status == "completed"
        assert SlowRender.starts == 2, "rendered again, once"
        assert (await engine.state(run_id))["final_video"] == "render 2"
        completed = [e for e in await engine.services.store.events(run_id) if e.type == "module_completed"]
        assert len(completed) == 1
    finally:
        await engine.close()
