"""img2img from the person's photo: OpenAI image edits, Leonardo guided by an init image or a
Character Reference, the offline stand-in, and the registry's estimates. The fakes keep the
bytes they received, so each test checks that they are the person's picture."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from engine.media.images import fit_image, image_size
from engine.providers.base import GenerationRequest, ProviderError
from engine.providers.http import RetryPolicy
from engine.providers.leonardo import LeonardoImages
from engine.providers.offline import OfflineImageProvider
from engine.providers.openai_images import OpenAIImages
from engine.providers.registry import offline_registry
from tests.fakes.leonardo_server import FakeLeonardo
from tests.fakes.openai_server import FakeOpenAI

PET = (230, 130, 50)  # a ginger photo: nothing a fake generates is this colour


def pet_photo(path: Path, size: tuple[int, int] = (1000, 800)) -> Path:
    Image.new("RGB", size, PET).save(path, "JPEG", quality=95)
    return path


def mean(data: bytes) -> tuple[float, ...]:
    with Image.open(io.BytesIO(data)) as img:
        return tuple(ImageStat.Stat(img.convert("RGB")).mean)


def close(a: tuple[float, ...], b: tuple[float, ...], tolerance: float = 6) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def request(provider: str, photo: Path | None, **params: object) -> GenerationRequest:
    return GenerationRequest(action_type="img2img", provider=provider, prompt="this pet on a sunny windowsill",
                             params=params, source_image_path=str(photo) if photo else None)


async def test_openai_edit_sends_the_photo_itself(tmp_path: Path) -> None:
    fake = FakeOpenAI(api_key="sk-test-photo")
    await fake.start()
    provider = OpenAIImages("sk-test-photo", base_url=fake.base_url, max_retries=0, timeout_s=10)
    try:
        photo = pet_photo(tmp_path / "pet.jpg")
        result = await provider.submit(request("openai", photo, n="2", size="864x1536", quality="low",
                                               input_fidelity="high"), tmp_path)
        call = fake.calls("POST", "/v1/images/edits")[-1]
        assert call.form["model"] == "gpt-image-2" and call.form["input_fidelity"] == "high"
        assert call.form["size"] == "864x1536" and call.form["n"] == "2" and "this pet" in call.form["prompt"]
        assert call.files["image"].content_type == "image/jpeg"
        assert [hashlib.sha256(b).hexdigest() for b in fake.edit_images] == [
            hashlib.sha256(photo.read_bytes()).hexdigest()]
        assert not fake.calls("POST", "/v1/images/generations")
        files = result.provider_data["files"]
        assert len(files) == 2 and all(image_size(f) == (864, 1536) for f in files)
    finally:
        await provider.aclose()
        await fake.stop()


async def test_openai_edit_without_the_photo_is_refused_before_any_call(tmp_path: Path) -> None:
    provider = OpenAIImages("sk-test-photo", base_url="http://127.0.0.1:9", max_retries=0)
    try:
        with pytest.raises(ProviderError, match="photo"):
            provider.validate(request("openai", tmp_path / "gone.jpg"))
        with pytest.raises(ProviderError, match="fidelity"):
            provider.validate(request("openai", pet_photo(tmp_path / "p.jpg"), input_fidelity="max"))
    finally:
        await provider.aclose()


@pytest.fixture
async def leonardo():
    fake = FakeLeonardo(api_key="leo-test-photo")
    await fake.start()
    provider = LeonardoImages("leo-test-photo", base_url=fake.base_url, timeout_s=10, character_reference_id=133,
                              retry=RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.02))
    yield fake, provider
    await provider.aclose()
    await fake.stop()


async def test_leonardo_init_image_is_the_photo_fitted_to_the_frame(leonardo, tmp_path: Path) -> None:
    fake, provider = leonardo
    photo = pet_photo(tmp_path / "pet.jpg", (1000, 800))
    result = await provider.submit(request("leonardo", photo, width="864", height="1536", num_images="2",
                                           alchemy="false", init_strength="0.4"), tmp_path)
    body = fake.calls("POST", "/api/rest/v1/generations")[-1].json
    assert body["init_strength"] == 0.4 and "controlnets" not in body
    upload = fake.init_images[body["init_image_id"]]
    assert fake.generations[result.job_id]["guided_by"] == body["init_image_id"]
    assert upload["size"] == (864, 1536)  # fitted to the output's frame (padded: the pet stays whole)
    expected = tmp_path / "expected.jpg"
    fit_image(photo, 864, 1536, expected, mode="contain")
    assert close(mean(upload["data"]), mean(expected.read_bytes()))
    assert not list(tmp_path.glob(".leonardo-init-*"))  # the temporary fit is gone


async def test_leonardo_character_reference_uploads_the_photo_as_it_is(leonardo, tmp_path: Path) -> None:
    fake, provider = leonardo
    photo = pet_photo(tmp_path / "pet.jpg")
    await provider.submit(request("leonardo", photo, width="864", height="1536", num_images="1",
                                  alchemy="false", guidance="character", reference_strength="High"), tmp_path)
    body = fake.calls("POST", "/api/rest/v1/generations")[-1].json
    (net,) = body["controlnets"]
    assert net["preprocessorId"] == 133 and net["strengthType"] == "High" and net["initImageType"] == "UPLOADED"
    assert "init_image_id" not in body
    assert fake.init_images[net["initImageId"]]["data"] == photo.read_bytes()


async def test_leonardo_refuses_bad_guidance_before_uploading(leonardo, tmp_path: Path) -> None:
    fake, provider = leonardo
    photo = pet_photo(tmp_path / "pet.jpg")
    for params, reason in (({"guidance": "style"}, "guidance"), ({"init_strength": "0.95"}, "0.1 and 0.9"),
                           ({"reference_strength": "Max"}, "Low, Mid or High")):
        with pytest.raises(ProviderError, match=reason):
            provider.validate(request("leonardo", photo, **params))
    with pytest.raises(ProviderError, match="photo"):
        provider.validate(request("leonardo", None))
    assert fake.requests == []


async def test_offline_img2img_puts_the_photo_in_the_picture(tmp_path: Path) -> None:
    provider = OfflineImageProvider("openai")
    photo = pet_photo(tmp_path / "pet.jpg", (800, 800))
    job = await provider.submit(request("openai", photo, size="864x1536", n="1"), tmp_path)
    status = await provider.poll(job.job_id, job.provider_data)
    (made,) = await provider.fetch(job.job_id, status, tmp_path)
    with Image.open(made.local_path) as img:
        assert img.size == (864, 1536)
        centre = img.crop((332, 545, 532, 745))  # the middle of the framed photo
        assert close(tuple(ImageStat.Stat(centre).mean), PET, 10)


def test_registry_estimates_for_workflow_templates() -> None:
    registry = offline_registry()
    assert registry.estimate("leonardo", "img2vid") == "free"  # offline stand-ins cost nothing
    assert registry.estimate("openai", "img2img", {"n": 2}) == "free"
    assert registry.estimate("nobody", "img2img") == ""
    live = OpenAIImages("sk-test", base_url="http://127.0.0.1:9")
    registry.media_providers[("openai", "img2img")] = live
    assert registry.estimate("openai", "img2img", {"n": 2, "quality": "medium"}) == "~$0.09"
