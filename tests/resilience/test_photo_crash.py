"""Your own pet through the real bot process, killed for real (SIGKILL) three times: while the
photo is downloaded from Telegram, right before the photo is fitted to the frame, and while the
frame is uploaded to Leonardo. Each time the bot comes back where it was: the person never sends
the photo again, and nothing is paid twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.bot.photos import CAPTION, picture
from tests.resilience.harness import (
    CC,
    BotProcess,
    Fakes,
    Person,
    Press,
    RunReader,
    secret_for,
    secrets_in_log,
    settle,
    user_visible_problems,
)

ALICE = 1001
VIDEO_CREATE = "/api/rest/v1/generations-image-to-video"


async def tap(person: Person, label: str, target: str, timeout: float = 30) -> None:
    found = await person.tg.wait_for(lambda: person.find(Press(label, target)), timeout)
    person.tap(*found, label)
    await settle(person.tg)


async def test_kills_mid_download_at_the_fit_and_mid_upload_lose_nothing(fakes: Fakes, tmp_path: Path) -> None:
    bot = BotProcess(fakes, tmp_path / "data", users=(ALICE,), workflow=CC)
    tg, leonardo = fakes.tg, fakes.leonardo
    alice = Person(tg, ALICE, secret_for(fakes))
    reader = RunReader(bot.db_path, CC)
    await bot.start()
    try:
        tg.inject_command(ALICE, "/start")
        await settle(tg)

        # 1. killed while the photo comes down from Telegram
        tg.hold_downloads = asyncio.Event()
        tg.inject_message(ALICE, CAPTION, photo=True, file_bytes=picture())
        await tg.wait_for(lambda: tg.file_downloads, 30)
        await bot.kill()
        tg.hold_downloads.set()
        tg.hold_downloads = None
        await bot.start()
        run = await tg.wait_for(lambda: (r := reader.latest(alice.owner)) and r.pending
                                and r.pending["request"]["module_name"] == "choose_photo_way" and r, 30)
        assert run.state["pet_photo"]["caption"] == CAPTION and len(tg.file_downloads) == 2
        iid = run.pending["request"]["interaction_id"]
        await tap(alice, "Animate my photo", iid)
        for module, label in (("select_aesthetic", "Comfort"), ("select_duration", "seconds"),
                              ("get_user_direction", "Skip")):
            pending = await tg.wait_for(lambda m=module: (r := reader.latest(alice.owner)).pending
                                        and r.pending["request"]["module_name"] == m and r.pending, 30)
            await tap(alice, label, pending["request"]["interaction_id"])

        # 2. killed right before the photo is fitted: the 4th skip of step 3 is the last event before it
        scenes = await tg.wait_for(lambda: (r := reader.latest(alice.owner)).pending
                                   and r.pending["request"]["module_name"] == "select_scene" and r.pending, 60)
        await bot.stop()
        await bot.start(kill_after="module_skipped:4")
        found = await tg.wait_for(lambda: alice.find(Press("1.", scenes["request"]["interaction_id"])), 30)
        alice.tap(*found, "1.")
        await tg.wait_for(lambda: not bot.alive, 30)
        assert await bot.died()
        await bot.start()
        frames = await tg.wait_for(lambda: (r := reader.latest(alice.owner)).pending
                                   and r.pending["request"]["module_name"] == "select_photo_frame" and r.pending, 30)
        await tap(alice, "Centre crop", frames["request"]["interaction_id"])
        motion = await tg.wait_for(lambda: (r := reader.latest(alice.owner)).pending
                                   and r.pending["request"]["module_name"] == "select_motion_elements"
                                   and r.pending, 60)
        await tap(alice, "▫️", motion["request"]["interaction_id"])
        await tap(alice, "Done (1", motion["request"]["interaction_id"])

        # 3. killed while the frame goes up to Leonardo as the clip's start frame
        video = await tg.wait_for(lambda: (r := reader.latest(alice.owner)).pending
                                  and r.pending["request"]["module_name"] == "generate_and_select_videos"
                                  and r.pending, 60)
        viid = video["request"]["interaction_id"]
        leonardo.hold_uploads = asyncio.Event()
        generate = await tg.wait_for(lambda: alice.find(Press("Generate with", viid)), 30)
        alice.tap(*generate, "Generate with")
        await tg.wait_for(lambda: leonardo.calls("POST", "/s3-upload"), 30)
        await bot.kill()
        leonardo.hold_uploads.set()
        leonardo.hold_uploads = None
        assert not leonardo.calls("POST", VIDEO_CREATE), "killed before anything was paid"
        await bot.start()
        await tg.wait_for(lambda: any("not charged twice" in t for t in alice.texts()), 30)
        await tap(alice, "Generate with", viid)  # the person's own new try, after being told
        await tg.wait_for(lambda: alice.find(Press("Pick #1", viid)), 60)
        (create,) = [r for r in leonardo.calls("POST", VIDEO_CREATE) if r.status == 200]
        upload = leonardo.init_images[create.json["imageId"]]
        frame = Path(reader.latest(alice.owner).state["selected_image_data"]["local_path"])
        assert upload["data"] == frame.read_bytes(), "the person's fitted photo, not something generated"
        run = reader.latest(alice.owner)
        jobs = [j for j in run.jobs.values() if j.action_type == "img2vid"]
        assert sorted(j.status for j in jobs) == ["completed", "failed"]
        assert len([e for e in reader.events(run.run_id) if e.type == "job_submitted"]) == 1, "paid once"
        photos_sent = [m for m in tg.messages_for(ALICE) if not m.get("from", {}).get("is_bot") and m.get("photo")]
        assert len(photos_sent) == 1, "the photo was sent once and never asked for again"
        assert bot.kills == 3
    finally:
        await bot.stop()
    assert user_visible_problems(fakes, [ALICE]) == []
    log = bot.log_text()
    assert secrets_in_log(log, fakes) == []
    assert "Biscuit" not in log and "incoming" not in log and "pet_photo_" not in log, "no caption or path logged"
