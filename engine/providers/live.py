"""Build the provider registry from Settings: live where a key is set, offline otherwise.

One ProviderStatus per (provider, capability) says which mode won and why,
without ever naming a secret value. `doctor_report()` prints the same facts
for `ccbot doctor`.

The "openai" img2vid slot is the Sora 2 Videos protocol. OpenAI shut its own
Videos API down on 2026-09-24, so it is live only with SORA_BASE_URL pointing
at a gateway that still serves it. Without that it is offline in pure demo
mode (no key at all), else unavailable: offering a fake video next to real
ones would mislead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.providers.base import LLMProvider, MediaProvider
from engine.providers.http import RetryPolicy, safe_url
from engine.providers.registry import ProviderRegistry, ProviderStatus
from engine.settings import Settings

SORA_SHUTDOWN = (
    "OpenAI shut the Sora 2 Videos API down on 2026-09-24; set SORA_BASE_URL to a gateway that still serves it"
)


@dataclass
class _Slot:
    provider: str
    capability: str
    status: ProviderStatus
    factory: Callable[[], Any] | None  # builds the implementation; None when unavailable
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


def _slots(settings: Settings, delay_s: float, retry: RetryPolicy | None) -> list[_Slot]:
    from engine.providers.offline import (
        OfflineImageProvider,
        OfflineLLM,
        OfflineMusicProvider,
        OfflineVideoProvider,
    )

    slots: list[_Slot] = []

    def add(provider: str, capability: str, live: Any, offline: Any, missing: str, info: str) -> None:
        if live is not None:
            slots.append(_Slot(provider, capability, ProviderStatus(provider, capability, "live"), live, info))
        else:
            status = ProviderStatus(provider, capability, "offline", f"{missing} not set")
            slots.append(_Slot(provider, capability, status, offline, ""))

    has_openai = settings.openai_api_key is not None
    has_leonardo = settings.leonardo_api_key is not None
    has_elevenlabs = settings.elevenlabs_api_key is not None
    openai_base = safe_url(settings.openai_base_url)
    leonardo_base = safe_url(settings.leonardo_base_url)

    from engine.providers.elevenlabs import ElevenLabsMusic
    from engine.providers.leonardo import LeonardoImages, LeonardoVideo
    from engine.providers.openai_images import OpenAIImages
    from engine.providers.openai_llm import OpenAILLM

    add(
        "openai", "llm",
        (lambda: OpenAILLM.from_settings(settings)) if has_openai else None,
        lambda: OfflineLLM(delay_s=delay_s),
        "OPENAI_API_KEY",
        f"model {settings.openai_llm_model}, base {openai_base}",
    )  # fmt: skip
    add(
        "openai", "txt2img",
        (lambda: OpenAIImages.from_settings(settings)) if has_openai else None,
        lambda: OfflineImageProvider("openai", delay_s=delay_s),
        "OPENAI_API_KEY",
        f"model {settings.openai_image_model}, size {settings.openai_image_size}, base {openai_base}",
    )  # fmt: skip
    add(
        "leonardo", "txt2img",
        (lambda: LeonardoImages.from_settings(settings, retry=retry)) if has_leonardo else None,
        lambda: OfflineImageProvider("leonardo", delay_s=delay_s),
        "LEONARDO_API_KEY",
        f"model {settings.leonardo_image_model_id}, base {leonardo_base}",
    )  # fmt: skip
    add(
        "leonardo", "img2vid",
        (lambda: LeonardoVideo.from_settings(settings, retry=retry)) if has_leonardo else None,
        lambda: OfflineVideoProvider("leonardo", delay_s=delay_s),
        "LEONARDO_API_KEY",
        f"models {settings.leonardo_motion_model} (default), {settings.leonardo_veo_model}, base {leonardo_base}",
    )  # fmt: skip
    slots.append(_sora_slot(settings, delay_s, retry, OfflineVideoProvider))
    add(
        "elevenlabs", "txt2audio",
        (lambda: ElevenLabsMusic.from_settings(settings, retry=retry)) if has_elevenlabs else None,
        lambda: OfflineMusicProvider("elevenlabs", delay_s=delay_s),
        "ELEVENLABS_API_KEY",
        f"model {settings.elevenlabs_music_model}, base {safe_url(settings.elevenlabs_base_url)}",
    )  # fmt: skip
    return slots


def _sora_slot(settings: Settings, delay_s: float, retry: RetryPolicy | None, offline_cls: Any) -> _Slot:
    from engine.providers.sora import SoraVideo

    provider, capability = "openai", "img2vid"
    key = settings.effective_sora_key
    if settings.sora_base_url and key is not None:
        info = f"Sora protocol, model {settings.sora_model}, base {safe_url(settings.sora_base_url)}"
        factory = lambda: SoraVideo.from_settings(settings, retry=retry)  # noqa: E731
        return _Slot(provider, capability, ProviderStatus(provider, capability, "live"), factory, info)
    if not _any_key(settings):
        status = ProviderStatus(provider, capability, "offline", "no API key configured (demo mode)")
        return _Slot(provider, capability, status, lambda: offline_cls("sora", delay_s=delay_s))
    if settings.sora_base_url:
        detail = "SORA_BASE_URL is set but neither SORA_API_KEY nor OPENAI_API_KEY is"
    else:
        detail = SORA_SHUTDOWN
    return _Slot(provider, capability, ProviderStatus(provider, capability, "unavailable", detail), None)


def build_registry(
    settings: Settings,
    *,
    delay_s: float | None = None,
    retry: RetryPolicy | None = None,
) -> ProviderRegistry:
    """Live implementation per (provider, capability) where its key is set, else offline.

    `delay_s` is the offline stand-ins' simulated latency (default: the
    CCBOT_OFFLINE_DELAY_S setting); `retry` overrides the httpx providers'
    retry policy (tests pass tiny delays).
    """
    delay = settings.ccbot_offline_delay_s if delay_s is None else delay_s
    slots = _slots(settings, delay, retry)
    llm_slot = next(slot for slot in slots if slot.capability == "llm")
    assert llm_slot.factory is not None
    llm: LLMProvider = llm_slot.factory()
    registry = ProviderRegistry(llm_default=llm, llms={"openai": llm})
    for slot in slots:
        registry.statuses.append(slot.status)
        if slot.capability != "llm" and slot.factory is not None:
            impl: MediaProvider = slot.factory()
            registry.media_providers[(slot.provider, slot.capability)] = impl
    return registry


def doctor_report(settings: Settings) -> str:
    """One line per (provider, capability): mode, then model/base or the reason.

    Built from settings only: no network call, and never a secret value.
    """
    lines = []
    for slot in _slots(settings, 0.0, None):
        why = slot.info if slot.status.mode == "live" else slot.status.detail
        lines.append(f"{slot.provider} {slot.capability}: {slot.status.mode} ({why})")
    return "\n".join(lines)


async def aclose_registry(registry: ProviderRegistry) -> None:
    """Close the live providers' HTTP clients (call once at shutdown)."""
    seen: set[int] = set()
    for impl in [registry.llm_default, *registry.llms.values(), *registry.media_providers.values()]:
        close = getattr(impl, "aclose", None)
        if close is not None and id(impl) not in seen:
            seen.add(id(impl))
            await close()
