"""Kill the engine right after every event it writes, restart, finish the run.

A crash is simulated by a store that dies (raises a BaseException, like a
SIGKILL the code cannot catch) right after its Nth committed append; a new
engine then opens the same SQLite file, resumes, and the script goes on.
Nothing answered may be lost and no paid job may be submitted twice.
"""

from __future__ import annotations

from pathlib import Path

from engine.protocol import InteractionResponse, SubActionRequest
from engine.api import Engine
from tests.databases import store_for
from tests.conftest import MINI, CountingImages, ScriptedLLM, scripted_registry


class Crash(BaseException):
    pass


class CrashingStore:
    """The store's commit hook that "dies" (raises a BaseException, which no code
    catches) right after its Nth committed append, on SQLite or PostgreSQL."""

    crash_after: int | None = None
    appends = 0
    crashed = False

    @staticmethod
    def after_commit(event_types: list[str]) -> None:
        CrashingStore.appends += 1
        if CrashingStore.crash_after is not None and CrashingStore.appends == CrashingStore.crash_after:
            CrashingStore.crashed = True  # also when the writer was a background job task
            raise Crash(f"killed after append {CrashingStore.appends}")


ANSWERS = {
    "select_pet": {"selected_indices": [1]},
    "ask_direction": {"value": "by the window"},
    "select_idea": {"selected_indices": ["ideas", 1]},
    "select_features": {"selected_indices": [["detected", 0], ["detected", 2]]},
}


async def open_engine(data_dir: Path, images: CountingImages) -> Engine:
    store = await store_for(data_dir)
    store.after_commit = CrashingStore.after_commit
    return await Engine.open(
        store=store, media_root=data_dir / "media",
        providers=scripted_registry(ScriptedLLM(), images), workflow_dirs=[MINI], poll_scale=0.01,
    )


async def step(engine: Engine, run_id: str) -> bool:
    """Answer whatever is pending; False when the run is finished."""
    view = await engine.get_run(run_id)
    if view.status != "active":
        return False
    if view.pending is None:
        await engine.retry_failed(run_id)
        return True
    pending = view.pending
    if pending.module_name in ANSWERS:
        await engine.respond(run_id, InteractionResponse(interaction_id=pending.interaction_id,
                                                         **ANSWERS[pending.module_name]))
        return True
    jobs = pending.display_data.jobs
    done = [j for j in jobs if j.status == "completed"]
    if done:
        await engine.respond(run_id, InteractionResponse(interaction_id=pending.interaction_id,
                                                         selected_content_id=done[0].content_ids[0]))
    elif not [j for j in jobs if j.status in ("created", "submitted", "running")]:
        await engine.start_sub_action(run_id, SubActionRequest(
            interaction_id=pending.interaction_id, prompt_key="openai", request_key=f"{pending.interaction_id}:1"))
    await engine.jobs.wait_idle(run_id)
    if CrashingStore.crashed:  # the process "died" inside a job task
        raise Crash("killed in a job task")
    return True


async def play(data_dir: Path, images: CountingImages, crash_after: int | None) -> tuple[dict, int]:
    CrashingStore.appends, CrashingStore.crash_after, CrashingStore.crashed = 0, crash_after, False
    engine = await open_engine(data_dir, images)
    crashes = 0
    run_id = None
    for _ in range(200):
        try:
            if run_id is None:
                run_id = (await engine.start_run("alice", "mini")).run_id
            if not await step(engine, run_id):
                break
        except Crash:
            crashes += 1
            CrashingStore.crashed = False
            await engine.jobs.shutdown()
            await engine.services.store.close()
            CrashingStore.crash_after = None
            engine = await open_engine(data_dir, images)
            if run_id is None:  # died while creating the run: find it again
                runs = await engine.services.store.list_runs("alice")
                run_id = runs[0].run_id if runs else None
            await engine.resume_all()
            await engine.jobs.wait_idle()
    state = await engine.state(run_id)
    view = await engine.get_run(run_id)
    assert view.status == "completed", view
    await engine.close()
    return state, crashes


def essentials(state: dict) -> dict:
    return {k: state.get(k) for k in ("pet", "direction", "idea_indices", "feature_indices", "features")} | {
        "summary": state["summary_text"].rsplit(" / ", 1)[0],
        "image_exists": Path(state["selected_image_data"]["local_path"]).is_file(),
    }


async def test_crash_after_every_event_loses_nothing_and_pays_once(tmp_path: Path) -> None:
    images = CountingImages()
    reference, _ = await play(tmp_path / "reference", images, None)
    total_appends = CrashingStore.appends
    assert images.submits == 1 and total_appends > 10
    expected = essentials(reference)
    for n in range(1, total_appends + 1):
        images = CountingImages()
        state, crashes = await play(tmp_path / f"crash{n}", images, n)
        assert crashes == 1, n
        assert essentials(state) == expected, f"crash after append {n}"
        assert images.submits == 1, f"crash after append {n}: {images.submits} paid submissions"
