"""The CC workflow through the engine on offline providers ends with the finished video.

The first test plays the real `workflows/cc` with first choices and checks
`final_video` with ffmpeg. The second uses step 9's review of the finished
video: "Change the music" jumps back to the music step; going forward again
renders a new file and the first one stays, on disk and in the event log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


from engine.media.ffmpeg import probe
from engine.protocol import InteractionResponse
from engine.providers.registry import offline_registry
from engine.api import Engine
from tests.players import play_first_choices

CC = Path(__file__).resolve().parents[1] / "workflows" / "cc"


async def open_engine(tmp_path: Path, workflow: Path) -> Engine:
    return await Engine.open(db_path=tmp_path / "db.sqlite3", media_root=tmp_path / "media",
                             providers=offline_registry(), workflow_dirs=[workflow], poll_scale=0.01)


async def check_final(state: dict[str, Any]) -> dict[str, Any]:
    final = state["final_video"]
    target = state["duration_selection"]["video_duration"]
    info = await probe(final["local_path"])
    assert abs(info.duration_s - target) <= 0.1
    assert info.has_video and info.has_audio and (info.width, info.height) == (720, 1280)
    assert final["duration_s"] == target and final["has_music"] and final["has_text"]
    assert final["size_bytes"] == info.size_bytes
    assert state["final_video_path"] == final["local_path"]
    return final


async def test_cc_run_ends_with_the_finished_video(tmp_path: Path) -> None:
    engine = await open_engine(tmp_path, CC)
    try:
        run = await engine.start_run("tester", "cuddle_crew")
        await play_first_choices(engine, run.run_id)
        view = await engine.get_run(run.run_id)
        assert view.status == "completed", view.error
        state = await engine.state(run.run_id)
        final = await check_final(state)
        assert Path(final["local_path"]).parent == engine.services.run_dir("tester", run.run_id)
        assert Path(state["summary_file_path"]).is_file()
    finally:
        await engine.close()


async def test_changing_the_music_renders_a_new_file_and_keeps_the_old(tmp_path: Path) -> None:
    engine = await open_engine(tmp_path, CC)
    try:
        run_id = (await engine.start_run("tester", "cuddle_crew")).run_id
        await play_first_choices(engine, run_id, stop_at="review_final_video")
        first_state = await engine.state(run_id)
        first = await check_final(first_state)

        view = await engine.get_run(run_id)
        view = await engine.respond(run_id, InteractionResponse(
            interaction_id=view.pending.interaction_id, jump_back_requested=True, jump_back_target="change_music"))
        assert view.pending.module_name == "select_music_option"
        middle = await engine.state(run_id)
        assert "final_video" not in middle and "selected_music_data" not in middle

        await play_first_choices(engine, run_id, stop_at="review_final_video")
        second_state = await engine.state(run_id)
        second = await check_final(second_state)
        assert second_state["selected_music_data"]["local_path"] != first_state["selected_music_data"]["local_path"]
        assert second["local_path"] != first["local_path"]
        assert Path(first["local_path"]).is_file() and Path(second["local_path"]).is_file()
        renders = [e.data["outputs"]["final_video"]["local_path"]
                   for e in await engine.services.store.events(run_id)
                   if e.type == "module_completed" and e.module_name == "compose_final_video"]
        assert renders == [first["local_path"], second["local_path"]]  # the first is still in the history

        await play_first_choices(engine, run_id)
        assert (await engine.get_run(run_id)).status == "completed"
    finally:
        await engine.close()
