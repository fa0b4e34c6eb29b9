"""Your own pet, over the fake Bot API on offline providers: a photo right after /start, a
file at the photo question, both ways (animate: crop or pad; scenes with the pet), every bad
input refused with a reason at no cost, a photo at another question, and a kill mid-download."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.telegram.tap import owner_of
from tests.bot.harness import ALICE, cc_video_to_end, counting_registry, running_bot, start_bot
from tests.bot.photos import (
    CAPTION,
    animated_gif,
    pending_module,
    picture,
    run_folder,
    send_file,
    send_photo,
    size_of,
    state,
)
from tests.fakes.telegram_server import FakeTelegramServer


async def to_scenes(bot, way: str) -> None:
    await bot.press(way)
    await bot.press("Comfort")
    await bot.press("seconds")
    await bot.press("Skip")
    await bot.press("1.")  # the first scene


async def test_a_photo_after_start_is_animated_with_the_centre_crop(
    tg: FakeTelegramServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_bot(tg, tmp_path / "data") as bot:
        await bot.say("/start")
        await send_photo(bot)  # no run open: the photo starts one
        await bot.wait_button("Animate my photo")
        ways = tg.bot_messages(ALICE)[-1]
        labels = [text for text, _ in tg.buttons_of(ways)]
        assert any("Animate my photo · free" in t for t in labels) and any("Scenes with my pet" in t for t in labels)
        assert not any(t.endswith("Cat") or t.endswith("Dog") for t in labels), "the photo said: a cat"
        first = await state(bot)
        assert first["pet_type_selection"]["label"] == "Cat" and first["pet_photo"]["caption"] == CAPTION
        assert len(tg.calls_to("getFile")) == 1 and tg.calls_to("getFile")[0].params["file_id"].endswith("_s") is False

        await to_scenes(bot, "Animate my photo")
        await bot.wait_button("Centre crop")
        # the pinned status is brought up to date once a step: the first step's answers by now
        assert "Pet: Cat 📸" in tg.message(ALICE, tg.pinned[ALICE][0])["text"]
        previews = [c for c in tg.calls_to("sendPhoto") if c.ok]
        assert [c.params["caption"] for c in previews[-2:]] == ["1. Centre crop", "2. Whole photo, soft background"]
        assert all(size_of(next(iter(c.files.values())).content) == (864, 1536) for c in previews[-2:])
        await bot.press("Centre crop")
        await bot.press("▫️")  # a motion element
        await bot.press("Done")
        await cc_video_to_end(bot)
        view = (await bot.engine.list_runs(owner_of(ALICE), "completed"))[0]
        done = await bot.engine.state(view.run_id)
        frame = done["selected_image_data"]
        assert frame["id"] == "crop" and Path(frame["local_path"]).parent == run_folder(bot, view.run_id) / "photo"
        run = await bot.engine.load(view.run_id)
        assert [j.request["source_image_path"] for j in run.jobs.values() if j.action_type == "img2vid"] == \
            [frame["local_path"]]
        assert not any(j.action_type in ("txt2img", "img2img") for j in run.jobs.values())
        assert not list((run_folder(bot, view.run_id) / "incoming").iterdir()), "the download is not kept twice"
        await bot.assert_all_answered()
    assert "Biscuit" not in caplog.text and "incoming" not in caplog.text, "no caption or path in the log"


async def test_a_sideways_image_file_comes_out_upright_and_padded(tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data") as bot:
        await bot.say("/new")
        await bot.wait_button("No photo")
        # a portrait photo taken sideways: 1200x800 pixels, EXIF "rotate 90°"
        await send_file(bot, picture((1200, 800), orientation=6), "IMG_0042.JPG", "image/jpeg")
        stored = (await state(bot))["pet_photo"]
        assert (stored["width"], stored["height"]) == (800, 1200)
        await to_scenes(bot, "Animate my photo")
        await bot.press("Whole photo")
        chosen = (await state(bot))["selected_image_data"]
        assert chosen["id"] == "pad" and chosen["fit"] == "contain"
        assert await pending_module(bot) == "select_motion_elements"


async def test_scenes_with_my_pet_paint_the_photo_into_the_scene(tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data") as bot:
        await bot.say("/new")
        await send_file(bot, picture(fmt="HEIF"), "IMG_0043.HEIC", "image/heic")  # an iPhone photo, as a file
        await to_scenes(bot, "Scenes with my pet")
        await bot.wait_button("Generate with OpenAI photo edit")
        labels = [t for m in tg.bot_messages(ALICE)[-1:] for t, _ in tg.buttons_of(m)]
        assert any("Generate with Leonardo photo-guided" in t for t in labels)
        await bot.press("Generate with OpenAI")
        await bot.press("Pick #1")
        current = await state(bot)
        view = await bot.engine.active_run(owner_of(ALICE))
        run = await bot.engine.load(view.run_id)
        (job,) = [j for j in run.jobs.values() if j.action_type == "img2img"]
        assert job.request["source_image_path"] == current["pet_photo"]["local_path"]
        assert current["pet_photo"]["format"] == "heic" and current["selected_image_data"]["content_id"] in job.content_ids
        assert await pending_module(bot) == "select_motion_elements"


BAD = [
    ("a PDF", dict(document=True, file_bytes=b"%PDF-1.4 not a pet", file_name="pet.pdf",
                   mime_type="application/pdf"), "not a picture", True),
    ("a cut-off JPEG", dict(document=True, file_bytes=picture()[:3000], file_name="pet.jpg",
                            mime_type="image/jpeg"), "cut off", True),
    ("a tiny photo", dict(photo=True, file_bytes=picture((400, 300))), "at least 512", True),
    ("an animated GIF", dict(document=True, file_bytes=animated_gif(), file_name="pet.gif",
                             mime_type="image/gif"), "animated", True),
    ("a video", dict(video=True), "That is a video", False),
    ("a 40 MB file", dict(document=True, file_bytes=picture(), file_name="huge.jpg", mime_type="image/jpeg",
                          file_size=40 * 1024 * 1024), "40 MB; the most I can take is 20 MB", False),
]


@pytest.mark.parametrize("what, message, reason, fetched", BAD, ids=[b[0] for b in BAD])
async def test_bad_input_is_refused_with_a_reason_and_costs_nothing(
    tg: FakeTelegramServer, tmp_path: Path, what: str, message: dict, reason: str, fetched: bool
) -> None:
    providers = counting_registry()
    async with running_bot(tg, tmp_path / "data", providers=providers.registry) as bot:
        await bot.say("/new")
        await bot.wait_button("No photo")
        view = await bot.engine.active_run(owner_of(ALICE))
        await bot.say("my cat", **message)
        refusal = bot.texts()[-1]
        assert reason in refusal and "Nothing was used or paid for" in refusal, refusal
        assert bool(tg.calls_to("getFile")) is fetched  # what can be told before fetching is not fetched
        assert providers.provider_calls == 0
        after = await bot.engine.active_run(owner_of(ALICE))
        assert after.pending.interaction_id == view.pending.interaction_id, "the question is still open"
        assert not (run_folder(bot, view.run_id) / "photo").exists()
        assert (await bot.engine.load(view.run_id)).state.get("pet_photo") is None
        await send_photo(bot)  # and a good photo then works
        await bot.wait_button("Animate my photo")


async def test_words_at_the_photo_question_ask_for_the_photo_or_skip_it(
    tg: FakeTelegramServer, tmp_path: Path
) -> None:
    providers = counting_registry()
    async with running_bot(tg, tmp_path / "data", providers=providers.registry) as bot:
        await bot.say("/new")
        await bot.wait_button("No photo")
        asked = await bot.engine.active_run(owner_of(ALICE))
        await bot.say("this is Biscuit")  # the name without the photo
        assert "send the file itself" in bot.texts()[-1] and "No photo: imagine a pet" in bot.texts()[-1]
        assert (await pending_module(bot)) == "get_pet_photo"
        assert (await bot.engine.active_run(owner_of(ALICE))).pending.interaction_id == asked.pending.interaction_id
        await bot.say("no photo")  # certain and free: done at once, as the button
        assert (await pending_module(bot)) == "select_pet_type"
        assert providers.provider_calls == 0
        await bot.assert_all_answered()


async def test_a_photo_at_another_question_offers_to_start_over(tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data") as bot:
        await bot.say("/new")
        await bot.press("No photo")
        await bot.press("Cat")
        first = await bot.engine.active_run(owner_of(ALICE))
        await send_photo(bot)
        assert "Start over with this photo?" in bot.texts()[-1] and "Step 1" in bot.texts()[-1]
        assert tg.calls_to("getFile") == [], "nothing is fetched until the person says yes"
        await bot.press("Keep going")
        assert (await bot.engine.active_run(owner_of(ALICE))).run_id == first.run_id
        assert any("Comfort" in t for t, _ in tg.buttons_of(tg.bot_messages(ALICE)[-1]))

        await send_photo(bot)
        await bot.press("Start over with this photo")
        second = await bot.engine.active_run(owner_of(ALICE))
        assert second.run_id != first.run_id and (await bot.engine.get_run(first.run_id)).status.value == "cancelled"
        assert second.pending.module_name == "choose_photo_way", "the new run took the photo it was offered"
        assert len([m for m in tg.calls if m.method == "getFile"]) == 1
        query = await bot.press("Start over with this photo")  # the old offer is closed
        assert tg.callback_answer(query)["text"] == "This choice is no longer open."
        await bot.assert_all_answered()


async def test_a_kill_mid_download_fetches_the_photo_again_without_asking(
    tg: FakeTelegramServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = await start_bot(tg, data)
    try:
        await first.say("/new")
        await first.wait_button("No photo")
        tg.hold_downloads = asyncio.Event()  # Telegram's file server hangs mid-download
        tg.inject_message(ALICE, CAPTION, photo=True, file_bytes=picture())
        await tg.wait_for(lambda: tg.file_downloads, timeout=10)
        session = await first.engine.services.store.session_of_owner(owner_of(ALICE))
        assert session.data["pending_file"]["caption"] == CAPTION, "kept before the download started"
    finally:
        await first.kill()
    sent_by_person = len([m for m in tg.messages_for(ALICE) if not m.get("from", {}).get("is_bot")])
    tg.hold_downloads.set()
    second = await start_bot(tg, data)
    try:
        await second.wait_button("Animate my photo", timeout=20)
        await second.settle()
        assert len(tg.file_downloads) == 2, "fetched again after the restart"
        assert len([m for m in tg.messages_for(ALICE) if not m.get("from", {}).get("is_bot")]) == sent_by_person
        assert (await state(second))["pet_photo"]["caption"] == CAPTION
        session = await second.engine.services.store.session_of_owner(owner_of(ALICE))
        assert session.data["pending_file"] is None
    finally:
        await second.stop()
