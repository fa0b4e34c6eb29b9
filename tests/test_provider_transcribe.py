"""Speech to text against the fake OpenAI server (the real openai SDK), and
the conversation providers a set of Settings gets."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest

from engine.providers.base import ProviderError
from engine.providers.costs import transcription_cost_usd
from engine.providers.live import aclose_registry, build_registry
from engine.providers.openai_llm import OpenAILLM
from engine.providers.openai_transcribe import OpenAITranscriber
from engine.settings import Settings
from tests.fakes.openai_server import FakeOpenAI


def voice_note(path: Path) -> Path:
    """A real one-second OGG/Opus file, as Telegram records voice notes."""
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", "sine=frequency=300:duration=1", "-c:a", "libopus", str(path)], check=True, timeout=60)
    return path


async def test_a_voice_note_goes_as_it_is_and_is_converted_only_when_refused(tmp_path: Path) -> None:
    fake = FakeOpenAI()
    base = await fake.start()
    transcriber = OpenAITranscriber(fake.api_key, base_url=base, max_retries=0)
    try:
        note = voice_note(tmp_path / "voice.ogg")
        fake.transcript = "a corgi chasing bubbles"
        heard = await transcriber.transcribe(note, 1)
        assert heard.text == "a corgi chasing bubbles" and heard.model == "gpt-transcribe"
        assert heard.cost_usd is not None and heard.cost_usd > 0
        first = fake.calls("POST", "/v1/audio/transcriptions")
        assert len(first) == 1 and first[0].files["file"].data == note.read_bytes()

        fake.scenario = "reject_ogg"  # a model that does not take the container: converted once
        assert (await transcriber.transcribe(note, 1)).text == "a corgi chasing bubbles"
        sent = fake.calls("POST", "/v1/audio/transcriptions")[1:]
        assert [r.files["file"].filename for r in sent] == ["voice.ogg", "voice.mp3"]
        assert sent[-1].files["file"].data[:3] == b"ID3", "an MP3 made by the bundled ffmpeg"

        odd = tmp_path / "recording.audio"  # a name the endpoint does not know: converted first
        odd.write_bytes(note.read_bytes())
        fake.scenario = "success"
        await transcriber.transcribe(odd, 1)
        assert fake.calls("POST", "/v1/audio/transcriptions")[-1].files["file"].filename == "voice.mp3"
    finally:
        await transcriber.aclose()
        await fake.stop()


async def test_a_refused_model_is_a_readable_error(tmp_path: Path) -> None:
    fake = FakeOpenAI()
    transcriber = OpenAITranscriber(fake.api_key, base_url=await fake.start(), model="whisper-9", max_retries=0)
    try:
        with pytest.raises(ProviderError) as caught:
            await transcriber.transcribe(voice_note(tmp_path / "v.ogg"), 1)
        assert caught.value.kind == "invalid_request" and "speech-to-text" in caught.value.user_message
    finally:
        await transcriber.aclose()
        await fake.stop()


async def test_settings_give_the_cheap_model_and_the_transcriber_only_with_a_key() -> None:
    none = build_registry(Settings(_env_file=None))
    assert none.understander is None and none.transcriber is None
    keyed = build_registry(Settings(_env_file=None, openai_api_key="sk-test-talk"))
    try:
        assert isinstance(keyed.understander, OpenAILLM) and keyed.understander.model == "gpt-5.6-luna"
        assert keyed.understand_effort == "low"
        assert isinstance(keyed.transcriber, OpenAITranscriber) and keyed.transcriber.model == "gpt-transcribe"
    finally:
        await aclose_registry(keyed)
    matcher_only = build_registry(Settings(_env_file=None, openai_api_key="sk-test-talk",
                                           ccbot_understand_with_llm=False))
    try:
        assert matcher_only.understander is None and matcher_only.transcriber is not None
    finally:
        await aclose_registry(matcher_only)
    assert transcription_cost_usd("gpt-transcribe", 60) == pytest.approx(0.0045)
    assert transcription_cost_usd("unknown-model", 60) is None
