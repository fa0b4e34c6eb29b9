"""Which implementation serves each (provider, action): live or offline.

Workflow panels name a provider (`_ux.provider`) and a sub-action names an
action type; the registry maps that pair to an implementation. A provider
whose key is missing falls back to its offline stand-in (real files, no
network), and the registry says so once at start-up.

A registry is assembled from the provider slots (`engine.providers.slots`):
`live.build_registry` for the configured keys, `offline_registry()` here for
none (the engine's default).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from engine.providers.base import GenerationRequest, LLMProvider, MediaProvider, ProviderError
from engine.providers.slots import Mode, Slot, provider_slots
from engine.providers.speech import Transcriber

log = logging.getLogger(__name__)


@dataclass
class ProviderStatus:
    name: str  # e.g. "leonardo"
    capability: str  # llm, txt2img, img2vid, txt2audio
    mode: Mode
    detail: str = ""  # why offline/unavailable; never a secret


@dataclass
class ProviderRegistry:
    llm_default: LLMProvider
    llms: dict[str, LLMProvider] = field(default_factory=dict)
    media_providers: dict[tuple[str, str], MediaProvider] = field(default_factory=dict)
    statuses: list[ProviderStatus] = field(default_factory=list)
    understander: LLMProvider | None = None  # a small model that reads free text (None: the offline matcher)
    understand_effort: str | None = None  # its reasoning effort
    transcriber: Transcriber | None = None  # voice notes to text (None: voice is refused politely)

    def warm_up(self) -> None:
        """Each provider's start-up work (blocking: call it in a thread)."""
        for provider in {id(p): p for p in [self.llm_default, *self.llms.values(),
                                            *self.media_providers.values(), self.understander,
                                            self.transcriber]}.values():
            warm_up = getattr(provider, "warm_up", None)  # test doubles may not have one
            if warm_up is not None:
                warm_up()

    @classmethod
    def from_slots(cls, slots: list[Slot]) -> ProviderRegistry:
        """Build every slot's implementation; the "llm" slot is the default LLM."""
        llm_slot = next(slot for slot in slots if slot.capability == "llm")
        assert llm_slot.factory is not None
        llm: LLMProvider = llm_slot.factory()
        registry = cls(llm_default=llm, llms={"openai": llm})
        for slot in slots:
            registry.statuses.append(ProviderStatus(slot.provider, slot.capability, slot.mode, slot.detail))
            if slot.capability != "llm" and slot.factory is not None:
                impl: MediaProvider = slot.factory()
                registry.media_providers[(slot.provider, slot.capability)] = impl
        return registry

    def llm(self, name: str | None = None) -> LLMProvider:
        if name and name in self.llms:
            return self.llms[name]
        return self.llm_default

    def media(self, provider: str, action_type: str) -> MediaProvider | None:
        return self.media_providers.get((provider, action_type))

    def availability(self, provider: str, action_type: str) -> Mode:
        impl = self.media(provider, action_type)
        if impl is None:
            return "unavailable"
        return "live" if impl.live else "offline"

    def estimate(self, provider: str, action_type: str, params: dict[str, Any] | None = None) -> str:
        """What one generation with these panel parameters is estimated to cost ("~$0.52",
        "~200 credits", "free"), from the provider's own estimate; "" when the pair is
        unavailable. Workflows call it in templates as `estimate("leonardo", "img2vid")`."""
        impl = self.media(provider, action_type)
        if impl is None:
            return ""
        request = GenerationRequest(action_type=action_type, provider=provider,  # type: ignore[arg-type]
                                    prompt="estimate", params=dict(params or {}))
        try:
            return impl.estimate_cost(request).label()
        except (ProviderError, ValueError, TypeError):
            return "?"

    def unavailable_reason(self, provider: str, action_type: str) -> str:
        for status in self.statuses:
            if status.name == provider and status.capability == action_type:
                return status.detail
        return "not configured"

    @property
    def all_offline(self) -> bool:
        return not any(status.mode == "live" for status in self.statuses)

    def log_summary(self) -> None:
        for status in self.statuses:
            if status.mode != "live":
                log.warning(
                    "provider %s (%s) is %s: %s",
                    status.name,
                    status.capability,
                    status.mode,
                    status.detail,
                )
            else:
                log.info("provider %s (%s) is live", status.name, status.capability)


def offline_registry(delay_s: float = 0.0) -> ProviderRegistry:
    """Every provider on its offline stand-in: what `make demo` and the tests use.

    The no-keys case of the provider slots (the same list `live.build_registry`
    uses), with keys cleared explicitly so a developer's environment cannot leak in.
    """
    from engine.settings import Settings

    no_keys = Settings(
        _env_file=None,  # type: ignore[call-arg]
        openai_api_key=None,
        sora_api_key=None,
        sora_base_url=None,
        leonardo_api_key=None,
        elevenlabs_api_key=None,
    )
    return ProviderRegistry.from_slots(provider_slots(no_keys, delay_s, None))
