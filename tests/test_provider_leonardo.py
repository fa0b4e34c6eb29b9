"""Leonardo images and image-to-video (Motion 2.0, Veo 3.1) against the local fake."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine.media.images import image_size
from engine.providers.base import GenerationRequest, JobStatus, MediaProvider, ProviderError
from engine.providers.http import RetryPolicy
from engine.providers.leonardo import LeonardoImages, LeonardoVideo, fold_motion, motion_phrase
from tests.fakes import png_bytes
from tests.fakes.leonardo_server import FakeLeonardo

KEY = "leo-SECRET-key-0123456789abcdef"
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02)
_OPEN: list[Any] = []


@pytest.fixture
async def fake() -> AsyncIterator[FakeLeonardo]:
    server = FakeLeonardo(api_key=KEY)
    await server.start()
    yield server
    while _OPEN:
        await _OPEN.pop().aclose()
    await server.stop()


def leo_images(fake: FakeLeonardo) -> LeonardoImages:
    provider = LeonardoImages(KEY, base_url=fake.base_url, retry=FAST_RETRY, timeout_s=10)
    _OPEN.append(provider)
    return provider


def leo_video(fake: FakeLeonardo) -> LeonardoVideo:
    provider = LeonardoVideo(KEY, base_url=fake.base_url, retry=FAST_RETRY, timeout_s=10)
    _OPEN.append(provider)
    return provider


async def run_job(provider: MediaProvider, job_id: str, data: dict[str, Any], limit: int = 20) -> list[JobStatus]:
    seen = []
    for _ in range(limit):
        status = await provider.poll(job_id, data)
        seen.append(status)
        if status.state in ("completed", "failed"):
            return seen
    raise AssertionError("job never finished")


def image_request(**params: object) -> GenerationRequest:
    return GenerationRequest(
        action_type="txt2img", provider="leonardo", prompt="a corgi in a teacup",
        negative_prompt="blurry", params=params,
    )  # fmt: skip


def video_request(source: Path, meta: dict[str, Any] | None = None, **params: object) -> GenerationRequest:
    return GenerationRequest(
        action_type="img2vid", provider="leonardo", prompt="The corgi wags its tail.",
        negative_prompt="distorted paws", params=params, source_image_path=str(source),
        source_image_meta=meta or {},
    )  # fmt: skip


# ----------------------------------------------------------------- images


async def test_images_slow_job_then_fetch_and_restart(fake: FakeLeonardo, tmp_path: Path) -> None:
    fake.pending_polls = 2
    submitted = await leo_images(fake).submit(image_request(images=2), tmp_path)
    body = fake.calls("POST", "/api/rest/v1/generations")[0].json
    assert body["width"] == 720 and body["height"] == 1280 and body["num_images"] == 2
    assert body["alchemy"] is True and body["public"] is False and body["negative_prompt"] == "blurry"
    assert submitted.cost.credits == 32 and submitted.cost.note == "reported by Leonardo"

    # After a restart: a new instance polls and fetches by job id alone.
    again = leo_images(fake)
    statuses = await run_job(again, submitted.job_id, submitted.provider_data)
    assert [s.state for s in statuses] == ["running", "running", "completed"]
    files = await again.fetch(submitted.job_id, statuses[-1], tmp_path)
    assert len(files) == 2
    assert all(f.provider_item_id in fake.generated_images for f in files)
    assert all(image_size(f.local_path) == (720, 1280) for f in files)
    assert fake.count("POST", "/api/rest/v1/generations") == 1


async def test_images_validation_happens_before_any_call(fake: FakeLeonardo, tmp_path: Path) -> None:
    for params in ({"width": 721}, {"width": 1600}, {"images": 6}):
        with pytest.raises(ProviderError) as caught:
            await leo_images(fake).submit(image_request(**params), tmp_path)
        assert caught.value.kind == "invalid_request"
    assert fake.requests == []


async def test_images_rate_limit_then_success_honours_retry_after(fake: FakeLeonardo, tmp_path: Path) -> None:
    fake.scenario = "rate_limit_then_success"
    fake.retry_after = "0.2"
    started = time.monotonic()
    submitted = await leo_images(fake).submit(image_request(), tmp_path)
    assert time.monotonic() - started >= 0.2
    assert submitted.job_id
    assert fake.count("POST", "/api/rest/v1/generations") == 2


async def test_server_error_forever_gives_up_retryable(fake: FakeLeonardo, tmp_path: Path) -> None:
    fake.scenario = "server_error"
    with pytest.raises(ProviderError) as caught:
        await leo_images(fake).submit(image_request(), tmp_path)
    assert caught.value.retryable and caught.value.kind == "unavailable"
    assert fake.count("POST", "/api/rest/v1/generations") == FAST_RETRY.max_attempts


@pytest.mark.parametrize(
    ("scenario", "kind", "retryable"),
    [
        ("refused", "refused", False),
        ("malformed_json", "invalid_output", True),
        ("no_credits", "insufficient_credits", False),
    ],
)
async def test_create_failures(fake: FakeLeonardo, tmp_path: Path, scenario: str, kind: str, retryable: bool) -> None:
    fake.scenario = scenario
    with pytest.raises(ProviderError) as caught:
        await leo_images(fake).submit(image_request(), tmp_path)
    assert caught.value.kind == kind and caught.value.retryable is retryable


async def test_failed_generation_reports_failed(fake: FakeLeonardo, tmp_path: Path) -> None:
    submitted = await leo_images(fake).submit(image_request(), tmp_path)
    fake.scenario = "failed"
    status = await leo_images(fake).poll(submitted.job_id, submitted.provider_data)
    assert status.state == "failed" and status.error


async def test_truncated_download_leaves_no_file(fake: FakeLeonardo, tmp_path: Path) -> None:
    provider = leo_images(fake)
    submitted = await provider.submit(image_request(), tmp_path)
    [status] = await run_job(provider, submitted.job_id, submitted.provider_data)
    fake.scenario = "truncated_download"
    with pytest.raises(ProviderError) as caught:
        await provider.fetch(submitted.job_id, status, tmp_path)
    assert caught.value.kind == "network" and caught.value.retryable
    assert list(tmp_path.iterdir()) == []
    assert fake.count("GET", "/cdn/") == FAST_RETRY.max_attempts


async def test_wrong_key_never_leaks(fake: FakeLeonardo, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "leo-wrong-SECRET-9876543210"
    provider = LeonardoImages(wrong, base_url=fake.base_url, retry=FAST_RETRY)
    _OPEN.append(provider)
    with pytest.raises(ProviderError) as caught:
        await provider.submit(image_request(), tmp_path)
    assert caught.value.kind == "authentication" and not caught.value.retryable
    assert fake.count("POST", "/api/rest/v1/generations") == 1  # 401 is never retried
    for text in (str(caught.value), caught.value.detail, caplog.text):
        assert wrong not in text and KEY not in text


# ------------------------------------------------------------------ video


async def leonardo_image(fake: FakeLeonardo, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    provider = leo_images(fake)
    submitted = await provider.submit(image_request(), tmp_path)
    [status] = await run_job(provider, submitted.job_id, submitted.provider_data)
    [file] = await provider.fetch(submitted.job_id, status, tmp_path)
    return Path(file.local_path), {"provider": "leonardo", "provider_item_id": file.provider_item_id}


async def test_motion2_with_a_generated_image(fake: FakeLeonardo, tmp_path: Path) -> None:
    source, meta = await leonardo_image(fake, tmp_path)
    fake.pending_polls = 1
    provider = leo_video(fake)
    request = video_request(source, meta, motion_strength="subtle", frameInterpolation="true")
    submitted = await provider.submit(request, tmp_path)
    body = fake.calls("POST", "/api/rest/v1/generations-image-to-video")[0].json
    assert body["imageId"] == meta["provider_item_id"] and body["imageType"] == "GENERATED"
    assert body["model"] == "MOTION2" and body["resolution"] == "RESOLUTION_720"
    assert "duration" not in body and "motion_strength" not in body
    assert body["prompt"] == "The corgi wags its tail. Very subtle, gentle motion."
    assert body["negativePrompt"] == "distorted paws" and body["frameInterpolation"] is True
    assert submitted.cost.credits == 200
    assert fake.count("POST", "/api/rest/v1/init-image") == 0

    statuses = await run_job(leo_video(fake), submitted.job_id, submitted.provider_data)
    assert statuses[-1].state == "completed"
    [video] = await leo_video(fake).fetch(submitted.job_id, statuses[-1], tmp_path)
    assert video.media_type == "video"
    assert Path(video.local_path).read_bytes()[4:8] == b"ftyp"


async def test_veo_uploads_a_9_16_start_frame(fake: FakeLeonardo, tmp_path: Path) -> None:
    source = tmp_path / "from-openai.png"
    source.write_bytes(png_bytes(64, 96))  # 2:3, made elsewhere: must be uploaded
    out = tmp_path / "out"
    out.mkdir()
    submitted = await leo_video(fake).submit(
        video_request(source, {"provider": "openai"}, model="VEO3_1", duration="8", motion_strength=9), out
    )
    [upload] = fake.calls("POST", "/s3-upload")
    assert "authorization" not in upload.headers and upload.part_order[-1] == "file"
    [init] = fake.init_images.values()
    assert init["extension"] == "png" and init["size"] == (720, 1280)
    body = fake.calls("POST", "/api/rest/v1/generations-image-to-video")[0].json
    assert body["imageType"] == "UPLOADED" and body["imageId"] in fake.init_images
    assert body["duration"] == 8 and isinstance(body["duration"], int)
    assert body["resolution"] == "RESOLUTION_720" and (body["width"], body["height"]) == (720, 1280)
    assert body["prompt"].endswith("Lively, dynamic motion.")
    assert submitted.provider_data["image_type"] == "UPLOADED"
    assert list(out.iterdir()) == []  # the prepared start frame was a temp file


async def test_motion2_uploads_jpeg_as_jpg(fake: FakeLeonardo, tmp_path: Path) -> None:
    from tests.fakes import jpeg_bytes

    source = tmp_path / "photo.png"  # a JPEG whatever the name says
    source.write_bytes(jpeg_bytes(64, 112))
    await leo_video(fake).submit(video_request(source, model="MOTION2FAST", resolution="480"), tmp_path)
    [init] = fake.init_images.values()
    assert init["extension"] == "jpg" and init["uploaded"]
    body = fake.calls("POST", "/api/rest/v1/generations-image-to-video")[0].json
    assert body["model"] == "MOTION2FAST" and body["resolution"] == "RESOLUTION_480"


@pytest.mark.parametrize(
    "params",
    [
        {"model": "VEO3_1", "duration": "5"},
        {"model": "VEO3_1", "duration": "6", "resolution": "1080"},
        {"model": "VEO3_1FAST", "resolution": "480"},
        {"model": "MOTION2", "resolution": "1080"},
        {"model": "VEO3"},
    ],
)
async def test_video_rejects_values_the_api_would(fake: FakeLeonardo, tmp_path: Path, params: dict[str, str]) -> None:
    source = tmp_path / "pet.png"
    source.write_bytes(png_bytes(72, 128))
    with pytest.raises(ProviderError) as caught:
        await leo_video(fake).submit(video_request(source, **params), tmp_path)
    assert caught.value.kind == "invalid_request"
    assert fake.requests == []


async def test_video_truncated_download_leaves_no_file(fake: FakeLeonardo, tmp_path: Path) -> None:
    source, meta = await leonardo_image(fake, tmp_path)
    out = tmp_path / "video"
    provider = leo_video(fake)
    submitted = await provider.submit(video_request(source, meta), out)
    [status] = await run_job(provider, submitted.job_id, submitted.provider_data)
    fake.scenario = "truncated_download"
    with pytest.raises(ProviderError):
        await provider.fetch(submitted.job_id, status, out)
    assert not out.exists() or list(out.iterdir()) == []


def test_motion_strength_folds_into_the_prompt() -> None:
    assert motion_phrase("moderate") == "natural, moderate motion"
    assert motion_phrase(2) == "very subtle, gentle motion"
    assert motion_phrase("10") == "lively, dynamic motion"
    assert motion_phrase(None) is None
    assert fold_motion("A cat naps.", None) == "A cat naps."
    assert fold_motion("A cat naps", "subtle") == "A cat naps. Very subtle, gentle motion."


async def test_veo_reuses_a_9_16_leonardo_image_by_id(fake: FakeLeonardo, tmp_path: Path) -> None:
    source, meta = await leonardo_image(fake, tmp_path)  # 720x1280 already
    await leo_video(fake).submit(video_request(source, meta, model="VEO3_1FAST", duration=4), tmp_path)
    await leo_video(fake).submit(video_request(source, meta, model="veo", duration=6.0), tmp_path)
    first, second = (call.json for call in fake.calls("POST", "/api/rest/v1/generations-image-to-video"))
    assert first["imageType"] == "GENERATED" and first["model"] == "VEO3_1FAST" and first["duration"] == 4
    assert second["model"] == "VEO3_1" and second["duration"] == 6
    assert fake.count("POST", "/api/rest/v1/init-image") == 0


# ------------------------------------------------------- shared HTTP rules


def test_parse_retry_after_seconds_ms_and_http_date() -> None:
    from email.utils import formatdate

    from engine.providers.http import parse_retry_after

    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    now = time.time()
    assert parse_retry_after({"retry-after": formatdate(now + 30, usegmt=True)}, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


async def test_a_retry_after_beyond_the_cap_stops_retrying(fake: FakeLeonardo, tmp_path: Path) -> None:
    fake.scenario = "rate_limit_then_success"
    fake.retry_after = "3600"
    provider = LeonardoImages(KEY, base_url=fake.base_url, retry=RetryPolicy(max_attempts=3, max_retry_after_s=5))
    _OPEN.append(provider)
    with pytest.raises(ProviderError) as caught:
        await provider.submit(image_request(), tmp_path)
    assert caught.value.kind == "rate_limit" and caught.value.retryable and caught.value.retry_after == 3600
    assert fake.count("POST", "/api/rest/v1/generations") == 1


async def test_module_download_is_atomic(fake: FakeLeonardo, tmp_path: Path) -> None:
    from engine.providers.http import download

    provider = leo_images(fake)
    submitted = await provider.submit(image_request(), tmp_path)
    [status] = await run_job(provider, submitted.job_id, submitted.provider_data)
    url = status.result_urls[0]
    dest = tmp_path / "dl" / "one.jpg"
    assert await download(url, dest) == dest and dest.stat().st_size > 0
    fake.scenario = "truncated_download"
    with pytest.raises(ProviderError):
        await download(url, tmp_path / "dl" / "two.jpg", retry=RetryPolicy(max_attempts=1))
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["one.jpg"]
