"""Your own pet with live providers on their fakes: the OpenAI image edit and Leonardo's
photo-guided generation get the person's photo (as stored, or fitted to the frame), Leonardo's
video gets the fitted frame, and no provider gets it unless the person tapped it."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from pydantic import SecretStr

from bot.telegram.tap import owner_of
from engine.media.images import fit_image
from engine.providers.http import RetryPolicy
from engine.providers.live import aclose_registry, build_registry
from engine.settings import Settings
from tests.bot.harness import ALICE, running_bot
from tests.bot.photos import send_photo, state
from tests.fakes.leonardo_server import FakeLeonardo
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegramServer
from tests.players import offline_answer

OPENAI_KEY, LEONARDO_KEY = "sk-test-photo-bot-0001", "leo-test-photo-bot-0002"


@pytest.fixture
async def providers():
    openai, leonardo = FakeOpenAI(api_key=OPENAI_KEY), FakeLeonardo(api_key=LEONARDO_KEY)
    openai.answer_with = offline_answer  # the LLM answers as the offline writer would
    await openai.start()
    await leonardo.start()
    settings = Settings(_env_file=None, openai_api_key=SecretStr(OPENAI_KEY), openai_base_url=openai.base_url,
                        openai_max_retries=0, leonardo_api_key=SecretStr(LEONARDO_KEY),
                        leonardo_base_url=leonardo.base_url)
    registry = build_registry(settings, delay_s=0, retry=RetryPolicy(max_attempts=2, base_delay_s=0.01,
                                                                       max_delay_s=0.02))
    yield openai, leonardo, registry
    await aclose_registry(registry)
    await openai.stop()
    await leonardo.stop()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mean(data: bytes) -> tuple[float, ...]:
    with Image.open(io.BytesIO(data)) as img:
        return tuple(ImageStat.Stat(img.convert("RGB")).mean)


async def to_scenes(bot, way: str) -> None:
    """/start, a photo, the way, mood, length, no note, the first scene."""
    await bot.say("/start")
    await send_photo(bot)
    await bot.press(way, timeout=20)
    await bot.press("Comfort")
    await bot.press("seconds")
    await bot.press("Skip")
    await bot.press("1.", timeout=20)


async def test_scenes_send_the_photo_to_the_openai_edit_and_to_leonardo(
    tg: FakeTelegramServer, tmp_path: Path, providers
) -> None:
    openai, leonardo, registry = providers
    async with running_bot(tg, tmp_path / "data", providers=registry) as bot:
        await to_scenes(bot, "Scenes with my pet")
        shown = [v for m in tg.bot_messages(ALICE) for v in [m, *tg.message_history(ALICE, m["message_id"])]]
        assert "~$0.09 + clip" in " ".join(t for v in shown for t, _ in tg.buttons_of(v))  # on the ways question
        stored = Path((await state(bot))["pet_photo"]["local_path"])

        await bot.press("Generate with OpenAI photo edit", timeout=20)
        await bot.wait_button("Pick #2", timeout=20)
        assert [sha(b) for b in openai.edit_images] == [sha(stored.read_bytes())], "the person's photo itself"
        assert not openai.calls("POST", "/v1/images/generations"), "an edit, not a picture from words"
        assert leonardo.init_images == {}, "Leonardo was not tapped: it has not seen the photo"

        await bot.press("Generate with Leonardo photo-guided", timeout=20)
        await bot.wait_button("Pick #4", timeout=20)
        (generation,) = [g for g in leonardo.generations.values() if g["kind"] == "image"]
        upload = leonardo.init_images[generation["guided_by"]]
        assert generation["guidance"] == "init" and upload["size"] == (864, 1536)
        fitted = tmp_path / "fitted.jpg"
        fit_image(stored, 864, 1536, fitted, mode="contain")  # the photo, fitted to the frame with a soft pad
        assert all(abs(a - b) < 4 for a, b in zip(mean(upload["data"]), mean(fitted.read_bytes()), strict=True))
        body = leonardo.calls("POST", "/api/rest/v1/generations")[-1].json
        assert body["init_strength"] == 0.4 and body["init_image_id"] == generation["guided_by"]
        view = await bot.engine.active_run(owner_of(ALICE))
        assert view.pending.module_name == "generate_scenes_with_pet" and view.spent != "free"


async def test_animate_sends_the_fitted_frame_to_the_video_provider(
    tg: FakeTelegramServer, tmp_path: Path, providers
) -> None:
    openai, leonardo, registry = providers
    async with running_bot(tg, tmp_path / "data", providers=registry) as bot:
        await to_scenes(bot, "Animate my photo")
        await bot.press("Centre crop", timeout=20)
        await bot.press("▫️", timeout=20)
        await bot.press("Done")
        frame = Path((await state(bot))["selected_image_data"]["local_path"])
        await bot.press("Generate with", timeout=20)  # the first video panel: Leonardo Motion 2.0
        await bot.wait_button("Pick #1", timeout=20)
        (video,) = leonardo.calls("POST", "/api/rest/v1/generations-image-to-video")
        assert video.json["imageType"] == "UPLOADED"
        upload = leonardo.init_images[video.json["imageId"]]
        assert sha(upload["data"]) == sha(frame.read_bytes()) and upload["size"] == (864, 1536)
        assert not openai.edit_images and not openai.calls("POST", "/v1/images"), "no picture was made"
        # the analyses saw the photo and the frame (the LLM every key frame goes to), nothing else did
        images = [p for r in openai.calls("POST", "/v1/responses") for i in r.json["input"]
                  for p in i.get("content", []) if p.get("type") == "input_image"]
        assert len(images) == 2
