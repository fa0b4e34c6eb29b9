"""Sora 2 Videos protocol client against the local fake gateway."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine.providers.base import GenerationRequest, JobStatus, ProviderError
from engine.providers.http import RetryPolicy
from engine.providers.sora import SoraVideo
from tests.fakes import image_dimensions, png_bytes
from tests.fakes.sora_server import FakeSora

KEY = "sk-sora-SECRET-0123456789abcdef"
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02)
_OPEN: list[SoraVideo] = []


@pytest.fixture
async def fake() -> AsyncIterator[FakeSora]:
    server = FakeSora(api_key=KEY)
    await server.start()
    yield server
    while _OPEN:
        await _OPEN.pop().aclose()
    await server.stop()


def sora(fake: FakeSora, api_key: str = KEY, model: str = "sora-2") -> SoraVideo:
    provider = SoraVideo(api_key, base_url=fake.base_url, model=model, retry=FAST_RETRY, timeout_s=10)
    _OPEN.append(provider)
    return provider


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "pet.png"
    path.write_bytes(png_bytes(64, 96))  # 2:3: must be cropped to the exact size
    return path


def request(photo: Path, **params: Any) -> GenerationRequest:
    return GenerationRequest(
        action_type="img2vid", provider="openai", prompt="The kitten stretches and yawns.",
        params=params, source_image_path=str(photo),
    )  # fmt: skip


async def until_done(provider: SoraVideo, job_id: str, data: dict[str, Any]) -> list[JobStatus]:
    seen = []
    for _ in range(20):
        status = await provider.poll(job_id, data)
        seen.append(status)
        if status.state in ("completed", "failed"):
            return seen
    raise AssertionError("never finished")


async def test_slow_job_with_progress_then_download_after_restart(fake: FakeSora, photo: Path, tmp_path: Path) -> None:
    fake.pending_polls = 3
    submitted = await sora(fake).submit(request(photo, seconds="8", aspect_ratio="9:16"), tmp_path)
    [create] = fake.calls("POST", "/v1/videos")
    assert create.form == {"prompt": "The kitten stretches and yawns.", "model": "sora-2", "seconds": "8",
                           "size": "720x1280"}  # fmt: skip
    assert image_dimensions(create.files["input_reference"].data) == (720, 1280)
    assert submitted.cost.usd == pytest.approx(0.80)

    again = sora(fake)  # a restarted process
    statuses = await until_done(again, submitted.job_id, submitted.provider_data)
    assert [s.state for s in statuses] == ["running", "running", "running", "completed"]
    progress = [s.progress for s in statuses]
    assert progress == sorted(progress) and progress[-1] == 100
    assert statuses[0].poll_after_s == pytest.approx(0.02)
    [video] = await again.fetch(submitted.job_id, statuses[-1], tmp_path)
    assert Path(video.local_path).read_bytes()[4:8] == b"ftyp"
    assert (video.width, video.height, video.duration_s) == (720, 1280, 8.0)
    assert fake.calls("GET", f"/v1/videos/{submitted.job_id}/content")[0].headers["authorization"] == f"Bearer {KEY}"
    assert fake.count("POST", "/v1/videos") == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    "params",
    [{"seconds": "5"}, {"seconds": "10"}, {"aspect_ratio": "1:1"}, {"size": "1024x1792"}, {"size": "1024x1024"}],
)
async def test_rejects_what_the_api_never_accepted(fake: FakeSora, photo: Path, tmp_path: Path, params: dict) -> None:
    with pytest.raises(ProviderError) as caught:
        await sora(fake).submit(request(photo, **params), tmp_path)
    assert caught.value.kind == "invalid_request"
    assert fake.requests == []


async def test_pro_model_takes_the_large_portrait_size(fake: FakeSora, photo: Path, tmp_path: Path) -> None:
    submitted = await sora(fake, model="sora-2-pro").submit(request(photo, size="1024x1792", seconds=4), tmp_path)
    [create] = fake.calls("POST", "/v1/videos")
    assert image_dimensions(create.files["input_reference"].data) == (1024, 1792)
    assert submitted.cost.usd == pytest.approx(2.0)


async def test_rate_limit_then_success(fake: FakeSora, photo: Path, tmp_path: Path) -> None:
    fake.scenario = "rate_limit_then_success"
    fake.retry_after = "0"
    submitted = await sora(fake).submit(request(photo), tmp_path)
    assert submitted.job_id.startswith("video_")
    assert fake.count("POST", "/v1/videos") == 2


async def test_server_error_forever(fake: FakeSora, photo: Path, tmp_path: Path) -> None:
    fake.scenario = "server_error"
    with pytest.raises(ProviderError) as caught:
        await sora(fake).submit(request(photo), tmp_path)
    assert caught.value.retryable
    assert fake.count("POST", "/v1/videos") == FAST_RETRY.max_attempts


async def test_refused_prompt(fake: FakeSora, photo: Path, tmp_path: Path) -> None:
    fake.scenario = "refused"
    with pytest.raises(ProviderError) as caught:
        await sora(fake).submit(request(photo), tmp_path)
    assert caught.value.kind == "refused" and not caught.value.retryable


async def test_failed_render_is_reported(fake: FakeSora, photo: Path, tmp_path: Path) -> None:
    submitted = await sora(fake).submit(request(photo), tmp_path)
    fake.scenario = "failed"
    status = await sora(fake).poll(submitted.job_id, submitted.provider_data)
    assert status.state == "failed" and "refused" in (status.error or "")


async def test_malformed_json(fake: FakeSora, photo: Path, tmp_path: Path) -> None:
    fake.scenario = "malformed_json"
    with pytest.raises(ProviderError) as caught:
        await sora(fake).submit(request(photo), tmp_path)
    assert caught.value.kind == "invalid_output"


async def test_truncated_download_leaves_no_file(fake: FakeSora, photo: Path, tmp_path: Path) -> None:
    provider = sora(fake)
    out = tmp_path / "out"
    submitted = await provider.submit(request(photo), out)
    statuses = await until_done(provider, submitted.job_id, submitted.provider_data)
    fake.scenario = "truncated_download"
    with pytest.raises(ProviderError) as caught:
        await provider.fetch(submitted.job_id, statuses[-1], out)
    assert caught.value.kind == "network"
    assert list(out.iterdir()) == []


async def test_wrong_key_never_leaks(
    fake: FakeSora, photo: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "sk-wrong-SECRET-sora-99999"
    with pytest.raises(ProviderError) as caught:
        await sora(fake, api_key=wrong).submit(request(photo), tmp_path)
    assert caught.value.kind == "authentication"
    assert fake.count("POST", "/v1/videos") == 1
    for text in (str(caught.value), caught.value.detail, caplog.text):
        assert wrong not in text
