"""OpenAI LLM (Responses API) and images through the real SDK against a local fake."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.media.images import image_size
from engine.providers.base import GenerationRequest, LLMMessage, LLMRequest, ProviderError
from engine.providers.openai_images import REFUSED_MESSAGE, OpenAIImages
from engine.providers.openai_llm import OpenAILLM
from engine.providers.openai_request import prompt_cache_key
from engine.providers.openai_schema import is_strict_compatible, strip_ux_keys
from tests.fakes import png_bytes
from tests.fakes.openai_server import FakeOpenAI

KEY = "sk-test-SECRET-0123456789abcdefXYZ"

IDEA_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["ideas"],
    "properties": {
        "ideas": {
            "type": "array",
            "minItems": 2,
            "maxItems": 4,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["title", "mood", "note"],
                "properties": {
                    "title": {"type": "string", "description": "short title"},
                    "mood": {"type": "string", "enum": ["cosy", "playful"]},
                    "note": {"type": ["string", "null"]},
                },
            },
        }
    },
}


_OPEN: list[OpenAILLM | OpenAIImages] = []


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI(api_key=KEY)
    await server.start()
    yield server
    # Close SDK clients inside the loop that opened them.
    while _OPEN:
        await _OPEN.pop().aclose()
    await server.stop()


def llm(fake: FakeOpenAI, api_key: str = KEY, **kwargs: object) -> OpenAILLM:
    options: dict[str, object] = {"base_url": fake.base_url, "max_retries": 1, "timeout_s": 10.0}
    options.update(kwargs)
    provider = OpenAILLM(api_key, **options)  # type: ignore[arg-type]
    _OPEN.append(provider)
    return provider


def images(fake: FakeOpenAI, **kwargs: object) -> OpenAIImages:
    options: dict[str, object] = {"base_url": fake.base_url, "max_retries": 1, "timeout_s": 10.0}
    options.update(kwargs)
    provider = OpenAIImages(KEY, **options)  # type: ignore[arg-type]
    _OPEN.append(provider)
    return provider


def idea_request(tmp_path: Path) -> LLMRequest:
    photo = tmp_path / "pet.jpg"  # a PNG with a misleading extension: the real type must win
    photo.write_bytes(png_bytes(32, 48))
    return LLMRequest(
        messages=[
            LLMMessage(role="user", text="Here is my pet."),
            LLMMessage(role="system", text="You are a pet video director.", cache_ttl=10800),
            LLMMessage(role="user", image_path=str(photo)),
            LLMMessage(role="assistant", text='{"ideas": []}'),
            LLMMessage(role="user", text="Give me ideas."),
        ],
        output_schema=IDEA_SCHEMA,
        schema_name="pet ideas!",
        metadata={"step_id": "ideas", "workflow": "cc"},
        max_output_tokens=800,
    )


# ------------------------------------------------------------------ LLM


async def test_llm_success_sends_the_documented_shape(
    fake: FakeOpenAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = await llm(fake).complete(idea_request(tmp_path))
    assert KEY not in caplog.text

    body = fake.calls("POST", "/v1/responses")[0].json
    assert fake.calls("POST", "/v1/responses")[0].headers["authorization"] == f"Bearer {KEY}"
    assert [item["role"] for item in body["input"]] == ["developer", "user", "assistant", "user"]
    assert body["input"][0]["content"] == [{"type": "input_text", "text": "You are a pet video director."}]
    image_part = body["input"][1]["content"][1]
    assert image_part["type"] == "input_image" and image_part["image_url"].startswith("data:image/png;base64,")
    assert body["input"][2]["content"][0]["type"] == "output_text"
    fmt = body["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["strict"] is True and fmt["name"] == "pet_ideas_"
    assert "json_schema" not in fmt and fmt["schema"] == IDEA_SCHEMA
    assert body["max_output_tokens"] == 800
    assert body["prompt_cache_retention"] == "24h"
    assert body["prompt_cache_key"] == prompt_cache_key({"step_id": "ideas", "workflow": "cc"})
    assert "cache_ttl" not in str(body)

    assert result.model.startswith("gpt-5.2")
    assert '"ideas"' in result.text
    assert result.usage.input_tokens == 1500 and result.usage.cached_tokens == 1024
    assert result.usage.reasoning_tokens == 32
    expected = (476 * 1.75 + 1024 * 0.175 + 80 * 14.0) / 1_000_000
    assert result.cost_usd == pytest.approx(expected)



async def test_a_big_picture_goes_to_the_model_as_a_jpeg_of_the_same_pixels(tmp_path: Path) -> None:
    import base64
    import io
    import os

    from PIL import Image

    from engine.providers.openai_request import JPEG_OVER_BYTES, image_url

    frame = tmp_path / "frame.png"  # noise: a PNG of over half a megabyte
    Image.frombytes("RGB", (864, 1536), os.urandom(864 * 1536 * 3)).save(frame)
    assert frame.stat().st_size > JPEG_OVER_BYTES
    url = await image_url(str(frame))
    assert url.startswith("data:image/jpeg;base64,")
    sent = base64.b64decode(url.split(",", 1)[1])
    assert len(sent) < frame.stat().st_size
    with Image.open(io.BytesIO(sent)) as picture:
        assert picture.format == "JPEG" and picture.size == (864, 1536)
    small = tmp_path / "small.png"
    small.write_bytes(png_bytes(32, 48))
    assert (await image_url(str(small))).startswith("data:image/png;base64,")  # small ones go as they are

async def test_llm_strips_ux_keys_and_sends_non_strict_schemas_non_strict(fake: FakeOpenAI) -> None:
    loose = {
        "type": "object",
        "_ux": {"widget": "cards"},
        "properties": {"caption": {"type": "string", "_ux_label": "Caption", "default": "hi"}},
        "required": [],
    }
    request = LLMRequest(messages=[LLMMessage(role="user", text="caption?")], output_schema=loose)
    await llm(fake).complete(request)
    fmt = fake.calls("POST", "/v1/responses")[0].json["text"]["format"]
    assert fmt["strict"] is False
    assert "_ux" not in str(fmt)


def test_is_strict_compatible() -> None:
    assert is_strict_compatible(IDEA_SCHEMA)
    open_object = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    assert not is_strict_compatible(open_object)
    optional = {**open_object, "additionalProperties": False, "required": []}
    assert not is_strict_compatible(optional)
    with_default = {
        "type": "object", "additionalProperties": False, "required": ["a"],
        "properties": {"a": {"type": "string", "default": "x"}},
    }  # fmt: skip
    assert not is_strict_compatible(with_default)
    assert not is_strict_compatible({"type": "array", "items": {"type": "string"}})
    assert not is_strict_compatible({**IDEA_SCHEMA, "allOf": []})
    assert strip_ux_keys({"a": {"_ux": 1, "b": [{"_ux_x": 2, "c": 3}]}}) == {"a": {"b": [{"c": 3}]}}


async def test_llm_refusal_is_not_retryable(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.scenario = "refused"
    with pytest.raises(ProviderError) as caught:
        await llm(fake).complete(idea_request(tmp_path))
    assert caught.value.kind == "refused" and not caught.value.retryable


@pytest.mark.parametrize(("scenario", "kind"), [("incomplete", "invalid_output"), ("content_filter", "refused")])
async def test_llm_incomplete_answers_fail(fake: FakeOpenAI, tmp_path: Path, scenario: str, kind: str) -> None:
    fake.scenario = scenario
    with pytest.raises(ProviderError) as caught:
        await llm(fake).complete(idea_request(tmp_path))
    assert caught.value.kind == kind


@pytest.mark.parametrize("scenario", ["malformed_json", "malformed_body"])
async def test_llm_malformed_answers_are_invalid_output(fake: FakeOpenAI, tmp_path: Path, scenario: str) -> None:
    fake.scenario = scenario
    with pytest.raises(ProviderError) as caught:
        await llm(fake).complete(idea_request(tmp_path))
    assert caught.value.kind == "invalid_output" and caught.value.retryable


async def test_llm_rate_limit_then_success(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.scenario = "rate_limit_then_success"
    result = await llm(fake).complete(idea_request(tmp_path))
    assert result.text
    assert fake.count("POST", "/v1/responses") == 2


async def test_llm_server_error_forever_gives_up_retryable(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.scenario = "server_error"
    with pytest.raises(ProviderError) as caught:
        await llm(fake, max_retries=1).complete(idea_request(tmp_path))
    assert caught.value.kind == "unavailable" and caught.value.retryable
    assert fake.count("POST", "/v1/responses") == 2


async def test_llm_insufficient_quota_is_not_retryable(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.scenario = "insufficient_quota"
    with pytest.raises(ProviderError) as caught:
        await llm(fake, max_retries=0).complete(idea_request(tmp_path))
    assert caught.value.kind == "insufficient_credits" and not caught.value.retryable
    assert "credit" in caught.value.user_message


async def test_llm_wrong_key_never_leaks(fake: FakeOpenAI, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "sk-wrong-SECRET-abcdef0123456789"
    provider = llm(fake, api_key=wrong, max_retries=0)
    with pytest.raises(ProviderError) as caught:
        await provider.complete(idea_request(tmp_path))
    assert caught.value.kind == "authentication"
    for text in (str(caught.value), caught.value.detail, repr(caught.value.args), caplog.text):
        assert wrong not in text and wrong[:12] not in text


# ----------------------------------------------------------------- images


def image_request(**params: object) -> GenerationRequest:
    return GenerationRequest(action_type="txt2img", provider="openai", prompt="a corgi in a teacup", params=params)


async def test_images_success_and_restart(fake: FakeOpenAI, tmp_path: Path) -> None:
    provider = images(fake)
    submitted = await provider.submit(image_request(images=2, quality="low"), tmp_path)
    body = fake.calls("POST", "/v1/images/generations")[0].json
    assert body == {
        "model": "gpt-image-2", "prompt": "a corgi in a teacup", "n": 2,
        "size": "864x1536", "quality": "low", "output_format": "png",
    }  # fmt: skip
    assert submitted.cost.usd == pytest.approx(0.024)

    # A new instance (after a restart) finishes the job from its id and data alone.
    again = images(fake)
    status = await again.poll(submitted.job_id, submitted.provider_data)
    assert status.state == "completed"
    files = await again.fetch(submitted.job_id, status, tmp_path)
    assert len(files) == 2
    assert all(image_size(f.local_path) == (864, 1536) for f in files)
    assert fake.count("POST", "/v1/images/generations") == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


async def test_the_images_answer_is_parsed_off_the_event_loop(fake: FakeOpenAI, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # the answer is megabytes of base64 in JSON: parsed on the loop, it held every tap up ~9 ms
    from openai._legacy_response import LegacyAPIResponse

    real_parse, threads = LegacyAPIResponse.parse, []

    def parse(self: LegacyAPIResponse, **kwargs: object) -> object:
        threads.append(threading.current_thread())
        return real_parse(self, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(LegacyAPIResponse, "parse", parse)
    submitted = await images(fake).submit(image_request(images=2), tmp_path)
    assert len(submitted.provider_data["files"]) == 2
    assert threads and threading.main_thread() not in threads


async def test_images_fall_back_to_2_3_and_pad_to_9_16(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.scenario = "reject_custom_size"
    provider = images(fake)
    submitted = await provider.submit(image_request(), tmp_path)
    sizes = [call.json["size"] for call in fake.calls("POST", "/v1/images/generations")]
    assert sizes == ["864x1536", "1024x1536"]
    [path] = submitted.provider_data["files"]
    assert image_size(path) == (864, 1536)


async def test_images_refused(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.scenario = "refused"
    with pytest.raises(ProviderError) as caught:
        await images(fake).submit(image_request(), tmp_path)
    assert caught.value.kind == "refused" and not caught.value.retryable
    assert caught.value.user_message == REFUSED_MESSAGE
    assert list(tmp_path.iterdir()) == []


async def test_images_rate_limit_then_success(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.scenario = "rate_limit_then_success"
    submitted = await images(fake).submit(image_request(), tmp_path)
    assert len(submitted.provider_data["files"]) == 1
    assert fake.count("POST", "/v1/images/generations") == 2


async def test_images_server_error_forever(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.scenario = "server_error"
    with pytest.raises(ProviderError) as caught:
        await images(fake, max_retries=1).submit(image_request(), tmp_path)
    assert caught.value.retryable and caught.value.kind == "unavailable"
    assert fake.count("POST", "/v1/images/generations") == 2


async def test_images_malformed_body(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.scenario = "malformed_body"
    with pytest.raises(ProviderError) as caught:
        await images(fake).submit(image_request(), tmp_path)
    assert caught.value.kind == "invalid_output"


async def test_images_poll_fails_when_files_are_gone(fake: FakeOpenAI, tmp_path: Path) -> None:
    submitted = await images(fake).submit(image_request(), tmp_path)
    for path in submitted.provider_data["files"]:
        Path(path).unlink()
    status = await images(fake).poll(submitted.job_id, submitted.provider_data)
    assert status.state == "failed" and status.error


def test_images_validate_rejects_bad_params(fake: FakeOpenAI) -> None:
    provider = images(fake)
    for params in ({"n": 11}, {"quality": "ultra"}, {"size": "1000x1000"}):
        with pytest.raises(ProviderError) as caught:
            provider.validate(image_request(**params))
        assert caught.value.kind == "invalid_request"


def test_warm_up_imports_the_sdk_resources_a_first_call_would_import_on_the_event_loop() -> None:
    """The SDK imports `client.responses` (and builds its models) on first use: ~0.1 s that
    stalled every person's taps at the first model call. A fresh interpreter shows it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from engine.providers.registry import ProviderRegistry\n"
        "from engine.providers.openai_llm import OpenAILLM\n"
        "from engine.providers.openai_images import OpenAIImages\n"
        "from engine.providers.openai_transcribe import OpenAITranscriber\n"
        "key, url = 'sk-test-0123456789abcdef', 'http://127.0.0.1:9/v1'\n"
        "wanted = ['openai.resources.responses.responses', 'openai.resources.images', 'openai.resources.audio']\n"
        "before = [m for m in wanted if m in sys.modules]\n"
        "registry = ProviderRegistry(llm_default=OpenAILLM(key, base_url=url),\n"
        "    media_providers={'openai': OpenAIImages(key, base_url=url)},\n"
        "    transcriber=OpenAITranscriber(key, base_url=url))\n"
        "registry.warm_up()\n"
        "print(before, [m for m in wanted if m not in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["[]", "[]"], "nothing imported before; nothing missing after"
