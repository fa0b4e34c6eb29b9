"""build_registry / doctor_report: which implementation serves each slot, and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.providers.base import GenerationRequest
from engine.providers.elevenlabs import ElevenLabsMusic
from engine.providers.http import RetryPolicy
from engine.providers.leonardo import LeonardoImages, LeonardoVideo
from engine.providers.live import aclose_registry, build_registry, doctor_report
from engine.providers.offline import OfflineLLM, OfflineVideoProvider
from engine.providers.openai_images import OpenAIImages
from engine.providers.openai_llm import OpenAILLM
from engine.providers.slots import SORA_SHUTDOWN
from engine.providers.sora import SoraVideo
from engine.settings import Settings
from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.leonardo_server import FakeLeonardo

SECRETS = {
    "openai_api_key": "sk-openai-SECRET-aaaa1111",
    "leonardo_api_key": "leo-SECRET-bbbb2222",
    "elevenlabs_api_key": "xi-SECRET-cccc3333",
}


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def modes(registry: Any) -> dict[tuple[str, str], tuple[str, str]]:
    return {(s.name, s.capability): (s.mode, s.detail) for s in registry.statuses}


async def test_no_keys_is_pure_demo_mode() -> None:
    registry = build_registry(settings(), delay_s=0)
    assert registry.all_offline
    assert isinstance(registry.llm(), OfflineLLM)
    found = modes(registry)
    assert len(found) == 8  # img2img (your own photo) on OpenAI and Leonardo too
    assert found[("leonardo", "img2vid")] == ("offline", "LEONARDO_API_KEY not set")
    assert found[("openai", "img2vid")][0] == "offline"
    assert isinstance(registry.media("openai", "img2vid"), OfflineVideoProvider)


async def test_all_keys_without_a_sora_gateway() -> None:
    registry = build_registry(settings(**SECRETS))
    try:
        assert isinstance(registry.llm(), OpenAILLM)
        assert isinstance(registry.media("openai", "txt2img"), OpenAIImages)
        assert isinstance(registry.media("leonardo", "txt2img"), LeonardoImages)
        assert isinstance(registry.media("leonardo", "img2vid"), LeonardoVideo)
        assert isinstance(registry.media("elevenlabs", "txt2audio"), ElevenLabsMusic)
        assert registry.media("openai", "img2vid") is None
        assert registry.availability("openai", "img2vid") == "unavailable"
        assert registry.unavailable_reason("openai", "img2vid") == SORA_SHUTDOWN
        assert not registry.all_offline
    finally:
        await aclose_registry(registry)


async def test_mixed_keys() -> None:
    registry = build_registry(settings(leonardo_api_key="leo-SECRET-x1"))
    try:
        found = modes(registry)
        assert found[("openai", "llm")] == ("offline", "OPENAI_API_KEY not set")
        assert found[("leonardo", "txt2img")][0] == "live"
        assert found[("elevenlabs", "txt2audio")] == ("offline", "ELEVENLABS_API_KEY not set")
        assert found[("openai", "img2vid")] == ("unavailable", SORA_SHUTDOWN)
    finally:
        await aclose_registry(registry)


@pytest.mark.parametrize(
    ("values", "mode"),
    [
        ({"sora_base_url": "https://gw.example/v1", "openai_api_key": "sk-SECRET-1"}, "live"),
        ({"sora_base_url": "https://gw.example/v1", "sora_api_key": "sk-SECRET-2"}, "live"),
        ({"sora_base_url": "https://gw.example/v1"}, "offline"),
        ({"sora_base_url": "https://gw.example/v1", "leonardo_api_key": "leo-SECRET-3"}, "unavailable"),
    ],
)
async def test_sora_slot(values: dict[str, str], mode: str) -> None:
    registry = build_registry(settings(**values))
    try:
        assert registry.availability("openai", "img2vid") == mode
        if mode == "live":
            assert isinstance(registry.media("openai", "img2vid"), SoraVideo)
    finally:
        await aclose_registry(registry)


def test_doctor_report_never_shows_a_secret() -> None:
    report = doctor_report(
        settings(
            **SECRETS,
            sora_api_key="sk-sora-SECRET-dddd4444",
            sora_base_url="https://user:gw-SECRET-pass@gateway.example/v1?token=SECRET-q",
        )
    )
    assert "openai llm: live (model gpt-5.2, base https://api.openai.com/v1)" in report
    assert "openai img2vid: live (Sora protocol, model sora-2, base https://gateway.example/v1)" in report
    assert "openai understand: live (model gpt-5.6-luna)" in report and "openai speech: live" in report
    assert "openai img2img: live (from your photo," in report and "leonardo img2img: live (from your photo," in report
    assert len(report.splitlines()) == 10
    assert "SECRET" not in report

    offline = doctor_report(settings())
    assert "leonardo img2vid: offline (LEONARDO_API_KEY not set)" in offline
    partial = doctor_report(settings(elevenlabs_api_key="xi-SECRET-1"))
    assert f"openai img2vid: unavailable ({SORA_SHUTDOWN})" in partial


async def test_registry_runs_live_jobs_against_fakes(tmp_path: Path) -> None:
    leonardo, eleven = (
        FakeLeonardo(api_key=SECRETS["leonardo_api_key"]),
        FakeElevenLabs(api_key=SECRETS["elevenlabs_api_key"]),
    )
    leo_base, eleven_base = await leonardo.start(), await eleven.start()
    registry = build_registry(
        settings(
            leonardo_api_key=SECRETS["leonardo_api_key"], leonardo_base_url=leo_base,
            elevenlabs_api_key=SECRETS["elevenlabs_api_key"], elevenlabs_base_url=eleven_base,
        ),
        retry=RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.02),
    )  # fmt: skip
    try:
        images = registry.media("leonardo", "txt2img")
        assert images is not None and images.live
        job = await images.submit(
            GenerationRequest(action_type="txt2img", provider="leonardo", prompt="a pug"), tmp_path
        )
        status = await images.poll(job.job_id, job.provider_data)
        [file] = await images.fetch(job.job_id, status, tmp_path)
        assert Path(file.local_path).is_file()

        music = registry.media("elevenlabs", "txt2audio")
        assert music is not None
        request = GenerationRequest(action_type="txt2audio", provider="elevenlabs", prompt="lofi", duration_hint_s=6)
        track = await music.submit(request, tmp_path)
        assert Path(track.provider_data["file"]).stat().st_size > 0
        # Offline stand-ins keep working beside the live ones.
        assert isinstance(registry.llm(), OfflineLLM)
    finally:
        await aclose_registry(registry)
        await leonardo.stop()
        await eleven.stop()
