"""Killed mid-generation and started again on the same data: the job in flight
is polled (never submitted again) and its clip is delivered exactly once."""

from __future__ import annotations

from pathlib import Path

from bot.telegram.tap import owner_of
from tests.bot.harness import ALICE, cc_to_video, counting_registry, start_bot
from tests.fakes.telegram_server import FakeTelegramServer

SLOW_VIDEO = {("leonardo", "img2vid"): 2.0, ("openai", "img2vid"): 2.0}


async def test_kill_mid_generation_then_restart_delivers_the_clip_once(tg: FakeTelegramServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    counts: dict[str, int] = {}
    first = await start_bot(tg, data, providers=counting_registry(slow=SLOW_VIDEO, counts=counts).registry)
    killed = False
    try:
        await cc_to_video(first)
        assert counts == {"submit": 1, "submit:txt2img": 1, "poll": 1, "fetch": 1}, "the image job, for comparison"
        videos_before = len(tg.calls_to("sendVideo"))
        query = await first.press("Generate with", settle=False)
        assert tg.callback_answer(query)["text"].startswith("Starting")
        run_id = (await first.engine.active_run(owner_of(ALICE))).run_id

        async def video_job_running() -> bool:
            run = await first.engine.load(run_id)
            return any(j.action_type == "img2vid" and j.status in ("submitted", "running") for j in run.jobs.values())

        await tg.wait_for(lambda: counts["submit"] == 2 and counts["poll"] >= 3, timeout=5)
        assert await video_job_running()
        await first.kill()
        killed = True
    finally:
        if not killed:
            await first.stop()
    assert counts["submit"] == 2 and counts.get("fetch") == 1, "killed before the clip was made"
    assert len(tg.calls_to("sendVideo")) == videos_before
    polls_at_kill = counts["poll"]

    second = await start_bot(tg, data, providers=counting_registry(slow=SLOW_VIDEO, counts=counts).registry)
    try:
        await tg.wait_for(lambda: len(tg.calls_to("sendVideo")) > videos_before, timeout=10)
        await second.settle()
        assert counts["submit"] == 2, "the job was polled again, not submitted again"
        assert counts["poll"] > polls_at_kill and counts["fetch"] == 2
        clips = tg.calls_to("sendVideo")[videos_before:]
        assert len(clips) == 1, "the clip is delivered exactly once"
        assert clips[0].params.get("caption", "").startswith("#1")
        run = await second.engine.load(run_id)
        (video_job,) = [j for j in run.jobs.values() if j.action_type == "img2vid"]
        assert video_job.status == "completed"

        # the run goes on from there
        await second.press("Pick #1")
        view = await second.engine.active_run(owner_of(ALICE))
        assert view.current_step_id == "text_overlays" and view.pending is not None
        assert len(tg.calls_to("sendVideo")) == videos_before + 1
        await second.assert_all_answered()
        not_modified = [c.method for c in tg.calls if c.status == 400 and "not modified" in (c.error or "")]
        assert not_modified == [], "an edit to the same content is never sent (a wasted call, an error on Telegram)"
    finally:
        await second.stop()
