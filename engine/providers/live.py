"""The running bot's providers: built from Settings, reported by `ccbot doctor`, closed at exit.

Live where a key is set, offline otherwise: the choice per (provider,
capability) and its reason are the provider slots (`engine.providers.slots`);
one ProviderStatus per slot says which mode won and why, without ever naming
a secret value. `doctor_report()` prints the same facts.
"""

from __future__ import annotations

from engine.providers.http import RetryPolicy
from engine.providers.registry import ProviderRegistry
from engine.providers.slots import provider_slots
from engine.providers.conversation import attach_conversation
from engine.settings import Settings


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
    registry = ProviderRegistry.from_slots(provider_slots(settings, delay, retry))
    attach_conversation(registry, settings)
    return registry


def doctor_report(settings: Settings) -> str:
    """One line per (provider, capability): mode, then model/base or the reason.

    Built from settings only: no network call, and never a secret value.
    """
    lines = []
    for slot in provider_slots(settings, 0.0, None):
        why = slot.info if slot.mode == "live" else slot.detail
        lines.append(f"{slot.provider} {slot.capability}: {slot.mode} ({why})")
    if settings.openai_api_key is not None:
        understand = (f"model {settings.openai_understand_model}" if settings.ccbot_understand_with_llm
                      else "offline matcher: CCBOT_UNDERSTAND_WITH_LLM is off")
        lines.append(f"openai understand: live ({understand})")
        lines.append(f"openai speech: live (model {settings.openai_transcribe_model})")
    else:
        lines.append("openai understand: offline (matcher; OPENAI_API_KEY not set)")
        lines.append("openai speech: unavailable (OPENAI_API_KEY not set)")
    return "\n".join(lines)


async def aclose_registry(registry: ProviderRegistry) -> None:
    """Close the live providers' HTTP clients (call once at shutdown)."""
    seen: set[int] = set()
    for impl in [registry.llm_default, *registry.llms.values(), *registry.media_providers.values(),
                 registry.understander, registry.transcriber]:
        close = getattr(impl, "aclose", None)
        if close is not None and id(impl) not in seen:
            seen.add(id(impl))
            await close()
