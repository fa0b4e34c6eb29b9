"""Stopping the bot mid-render (SIGTERM to its process group, as a service
manager or `docker stop` does) never turns the render into an error: ffmpeg
runs in a session of its own, the bot stops it cleanly, writes nothing, and
after the restart the render simply runs again and the video arrives once."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psutil

from tests.resilience.harness import (
    CC,
    BotProcess,
    Fakes,
    Person,
    Press,
    RunReader,
    drive,
    make_policy,
    secret_for,
    settle,
    user_visible_problems,
)

ALICE = 1001


def ffmpegs_writing_into(folder: Path) -> list[int]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if "ffmpeg" in (proc.info["name"] or "") and any(str(folder) in a for a in proc.info["cmdline"] or []):
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


async def test_sigterm_to_the_group_mid_render_resumes_the_render(fakes: Fakes, tmp_path: Path) -> None:
    data = tmp_path / "data"
    bot = BotProcess(fakes, data, users=(ALICE,), workflow=CC)
    await bot.start()
    tg = fakes.tg
    alice = Person(tg, ALICE, secret_for(fakes))
    reader = RunReader(bot.db_path, CC)
    try:
        await drive(bot, reader, alice, make_policy(stop_at="generate_and_select_music"))
        music = reader.latest(alice.owner).pending["request"]["interaction_id"]
        alice.tap(*alice.find(Press("Generate with", music)), "Generate with")
        await tg.wait_for(lambda: alice.find(Press("Pick #1", music)), 30)
        alice.tap(*alice.find(Press("Pick #1", music)), "Pick #1")
        await tg.wait_for(lambda: any("put together" in t for t in alice.texts()), 30)  # in line, or under way
        await tg.wait_for(lambda: bool(ffmpegs_writing_into(data)), 30)
        run_id = reader.latest(alice.owner).run_id
        assert reader.run(run_id).working is not None, "the render is under way"
        assert bot.proc is not None
        for pid in ffmpegs_writing_into(data):  # the render is not in the bot's process group
            with contextlib.suppress(ProcessLookupError):
                assert os.getsid(pid) != os.getsid(bot.proc.pid)

        assert await bot.stop_group() == 0, "a clean exit, not a crash"
        assert ffmpegs_writing_into(data) == [], "the render was stopped with the bot, not left behind"
        assert "ffmpeg failed" not in bot.log_text()
        events = reader.events(run_id)
        assert not [e for e in events if e.type == "module_error"], "stopping is not an error"
        assert reader.run(run_id).working is not None, "the log still says the render is under way"

        await bot.start()  # the render runs again by itself, and the run goes on from there
        await tg.wait_for(lambda: any("Looks great" in text for m in tg.bot_messages(ALICE)
                                      for text, _ in tg.buttons_of(m)), 60)
        result = await drive(bot, reader, alice, make_policy(), start=False)
        await settle(tg)
    finally:
        if bot.alive:
            await bot.stop()
    run = reader.run(result.run_id)
    assert run.status == "completed"
    assert not [e for e in reader.events(run_id) if e.type == "module_error"]
    finals = [c for c in tg.calls_to("sendVideo") if any((f.filename or "").startswith("final_")
                                                         for f in c.files.values())]
    assert len(finals) == 1, "one finished video, uploaded once"
    assert user_visible_problems(fakes, [ALICE]) == []
