"""ElevenLabs music client against the local fake."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.providers.base import GenerationRequest, ProviderError
from engine.providers.costs import music_length_ms
from engine.providers.elevenlabs import ElevenLabsMusic
from engine.providers.http import RetryPolicy
from tests.fakes import tiny_mp3
from tests.fakes.elevenlabs_server import FakeElevenLabs

KEY = "xi-SECRET-key-0123456789abcdef"
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02)
_OPEN: list[ElevenLabsMusic] = []


@pytest.fixture
async def fake() -> AsyncIterator[FakeElevenLabs]:
    server = FakeElevenLabs(api_key=KEY)
    await server.start()
    yield server
    while _OPEN:
        await _OPEN.pop().aclose()
    await server.stop()


def music(fake: FakeElevenLabs, api_key: str = KEY) -> ElevenLabsMusic:
    provider = ElevenLabsMusic(api_key, base_url=fake.base_url, retry=FAST_RETRY, timeout_s=10)
    _OPEN.append(provider)
    return provider


def request(hint_s: float | None = 8.0, **params: object) -> GenerationRequest:
    return GenerationRequest(
        action_type="txt2audio", provider="elevenlabs", prompt="cheerful ukulele, light percussion",
        duration_hint_s=hint_s, params=params,
    )  # fmt: skip


async def test_success_then_restart(fake: FakeElevenLabs, tmp_path: Path) -> None:
    submitted = await music(fake).submit(request(), tmp_path)
    [call] = fake.calls("POST", "/v1/music")
    assert call.query == {"output_format": "mp3_44100_128"}
    assert call.headers["xi-api-key"] == KEY and "authorization" not in call.headers
    assert call.json == {
        "prompt": "cheerful ukulele, light percussion", "music_length_ms": 8000,
        "model_id": "music_v1", "force_instrumental": True,
    }  # fmt: skip
    assert submitted.provider_data["song_id"] == fake.song_ids[0]
    assert submitted.cost.usd == pytest.approx(0.8 * 8 / 60, abs=1e-4)

    again = music(fake)
    status = await again.poll(submitted.job_id, submitted.provider_data)
    assert status.state == "completed"
    [audio] = await again.fetch(submitted.job_id, status, tmp_path)
    assert Path(audio.local_path).read_bytes() == tiny_mp3()
    assert audio.media_type == "audio" and audio.duration_s == 8.0
    assert fake.count("POST", "/v1/music") == 1


def test_length_is_clamped_and_defaults() -> None:
    assert music_length_ms(request(1.2)) == 3000
    assert music_length_ms(request(None, duration="12")) == 12000
    assert music_length_ms(request(None)) == 15000
    assert music_length_ms(request(900.0)) == 600000


async def test_refused_prompt_gives_the_suggestion(fake: FakeElevenLabs, tmp_path: Path) -> None:
    fake.scenario = "refused"
    with pytest.raises(ProviderError) as caught:
        await music(fake).submit(request(), tmp_path)
    assert caught.value.kind == "refused" and not caught.value.retryable
    assert "upbeat acoustic pop" in caught.value.user_message
    assert list(tmp_path.iterdir()) == []


async def test_validation_error_is_not_retried(fake: FakeElevenLabs, tmp_path: Path) -> None:
    fake.scenario = "validation"
    with pytest.raises(ProviderError) as caught:
        await music(fake).submit(request(), tmp_path)
    assert caught.value.kind == "invalid_request" and "prompt" in caught.value.detail
    assert fake.count("POST", "/v1/music") == 1


async def test_rate_limit_then_success(fake: FakeElevenLabs, tmp_path: Path) -> None:
    fake.scenario = "rate_limit_then_success"
    submitted = await music(fake).submit(request(), tmp_path)
    assert Path(submitted.provider_data["file"]).is_file()
    assert fake.count("POST", "/v1/music") == 2


async def test_server_error_forever(fake: FakeElevenLabs, tmp_path: Path) -> None:
    fake.scenario = "server_error"
    with pytest.raises(ProviderError) as caught:
        await music(fake).submit(request(), tmp_path)
    assert caught.value.retryable
    assert fake.count("POST", "/v1/music") == FAST_RETRY.max_attempts
    assert list(tmp_path.iterdir()) == []


async def test_truncated_stream_leaves_no_file(fake: FakeElevenLabs, tmp_path: Path) -> None:
    fake.scenario = "truncated_download"
    with pytest.raises(ProviderError) as caught:
        await music(fake).submit(request(), tmp_path)
    assert caught.value.kind == "network" and caught.value.retryable
    assert list(tmp_path.iterdir()) == []
    assert fake.count("POST", "/v1/music") == 1  # a paid song is not silently bought twice


async def test_wrong_key(fake: FakeElevenLabs, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "xi-wrong-SECRET-777777"
    with pytest.raises(ProviderError) as caught:
        await music(fake, api_key=wrong).submit(request(), tmp_path)
    assert caught.value.kind == "authentication" and not caught.value.retryable
    for text in (str(caught.value), caught.value.detail, caplog.text):
        assert wrong not in text
