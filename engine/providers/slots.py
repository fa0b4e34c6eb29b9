"""Which implementation each (provider, capability) gets for given Settings, and why.

One slot per pair: the live implementation where its key is set, else the
offline stand-in (real files, no network), or nothing ("unavailable"). The
slot's `detail` says why a pair is not live and its `info` names model and
base URL for `ccbot doctor`; neither ever contains a secret value. Both the
live registry (`live.build_registry`) and the all-offline one
(`registry.offline_registry`) are built from this one list.

The "openai" img2vid slot is the Sora 2 Videos protocol. OpenAI shut its own
Videos API down on 2026-09-24, so it is live only with SORA_BASE_URL pointing
at a gateway that still serves it. Without that it is offline in pure demo
mode (no key at all), else unavailable: offering a fake video next to real
ones would mislead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from engine.providers.http import RetryPolicy, safe_url
from engine.settings import Settings

Mode = Literal["live", "offline", "unavailable"]

SORA_SHUTDOWN = (
    "OpenAI shut the Sora 2 Videos API down on 2026-09-24; set SORA_BASE_URL to a gateway that still serves it"
)


@dataclass
class Slot:
    provider: str
    capability: str  # llm, txt2img, img2img, img2vid, txt2audio
    mode: Mode
    factory: Callable[[], Any] | None  # builds the implementation; None when unavailable
    detail: str = ""  # why offline/unavailable
    info: str = ""  # model and base URL for the doctor report (never a key)


def _any_key(settings: Settings) -> bool:
    return any(
        key is not None
        for key in (
            settings.openai_api_key,
            settings.sora_api_key,
            settings.leonardo_api_key,
            settings.elevenlabs_api_key,
        )
    )


def provider_slots(settings: Settings, delay_s: float, retry: RetryPolicy | None) -> list[Slot]:
    """Every (provider, capability) slot, in the order the doctor report lists them.

    `delay_s` is the offline stand-ins' simulated latency; `retry` overrides
    the httpx providers' retry policy.
    """
    from engine.providers.elevenlabs import ElevenLabsMusic
    from engine.providers.leonardo import LeonardoImages, LeonardoVideo
    from engine.providers.offline import (
        OfflineImageProvider,
        OfflineLLM,
        OfflineMusicProvider,
        OfflineVideoProvider,
    )
    from engine.providers.openai_images import OpenAIImages
    from engine.providers.openai_llm import OpenAILLM

    slots: list[Slot] = []

    def add(provider: str, capability: str, key: object, key_name: str, live: Any, offline: Any, info: str) -> None:
        if key is not None:
            slots.append(Slot(provider, capability, "live", live, info=info))
        else:
            slots.append(Slot(provider, capability, "offline", offline, detail=f"{key_name} not set"))

    openai_key, openai_base = settings.openai_api_key, safe_url(settings.openai_base_url)
    leonardo_key, leonardo_base = settings.leonardo_api_key, safe_url(settings.leonardo_base_url)
    eleven_key, eleven_base = settings.elevenlabs_api_key, safe_url(settings.elevenlabs_base_url)

    add("openai", "llm", openai_key, "OPENAI_API_KEY",
        lambda: OpenAILLM.from_settings(settings),
        lambda: OfflineLLM(delay_s=delay_s),
        f"model {settings.openai_llm_model}, base {openai_base}")  # fmt: skip
    # txt2img, and img2img: a picture made from the person's own photo (OpenAI image edits,
    # Leonardo guided by the photo as an init image): the same implementations
    for capability, how in (("txt2img", ""), ("img2img", "from your photo, ")):
        add("openai", capability, openai_key, "OPENAI_API_KEY",
            lambda: OpenAIImages.from_settings(settings),
            lambda: OfflineImageProvider("openai", delay_s=delay_s),
            f"{how}model {settings.openai_image_model}, size {settings.openai_image_size}, "
            f"base {openai_base}")  # fmt: skip
    for capability, how in (("txt2img", ""), ("img2img", "from your photo, ")):
        add("leonardo", capability, leonardo_key, "LEONARDO_API_KEY",
            lambda: LeonardoImages.from_settings(settings, retry=retry),
            lambda: OfflineImageProvider("leonardo", delay_s=delay_s),
            f"{how}model {settings.leonardo_image_model_id}, base {leonardo_base}")  # fmt: skip
    add("leonardo", "img2vid", leonardo_key, "LEONARDO_API_KEY",
        lambda: LeonardoVideo.from_settings(settings, retry=retry),
        lambda: OfflineVideoProvider("leonardo", delay_s=delay_s),
        f"models {settings.leonardo_motion_model} (default), {settings.leonardo_veo_model}, "
        f"base {leonardo_base}")  # fmt: skip
    slots.append(_sora_slot(settings, retry, lambda: OfflineVideoProvider("sora", delay_s=delay_s)))
    add("elevenlabs", "txt2audio", eleven_key, "ELEVENLABS_API_KEY",
        lambda: ElevenLabsMusic.from_settings(settings, retry=retry),
        lambda: OfflineMusicProvider("elevenlabs", delay_s=delay_s),
        f"model {settings.elevenlabs_music_model}, base {eleven_base}")  # fmt: skip
    return slots


def _sora_slot(settings: Settings, retry: RetryPolicy | None, offline: Callable[[], Any]) -> Slot:
    from engine.providers.sora import SoraVideo

    provider, capability = "openai", "img2vid"
    if settings.sora_base_url and settings.effective_sora_key is not None:
        info = f"Sora protocol, model {settings.sora_model}, base {safe_url(settings.sora_base_url)}"
        return Slot(provider, capability, "live", lambda: SoraVideo.from_settings(settings, retry=retry), info=info)
    if not _any_key(settings):
        return Slot(provider, capability, "offline", offline, detail="no API key configured (demo mode)")
    if settings.sora_base_url:
        detail = "SORA_BASE_URL is set but neither SORA_API_KEY nor OPENAI_API_KEY is"
    else:
        detail = SORA_SHUTDOWN
    return Slot(provider, capability, "unavailable", None, detail=detail)
