"""The conversation providers a set of Settings gets: the small model that
understands free text, and the transcriber for voice notes.

Both need an OpenAI key. Without one the registry has neither: free text is
understood by the offline matcher, and a voice note is politely refused.
"""

from __future__ import annotations

from engine.providers.openai_llm import OpenAILLM
from engine.providers.openai_transcribe import OpenAITranscriber
from engine.providers.registry import ProviderRegistry
from engine.settings import Settings


def attach_conversation(registry: ProviderRegistry, settings: Settings) -> None:
    """The cheap understanding model and the transcriber, when OpenAI is configured."""
    if settings.openai_api_key is None:
        return
    if settings.ccbot_understand_with_llm:
        registry.understander = OpenAILLM(
            settings.openai_api_key.get_secret_value(), base_url=settings.openai_base_url,
            model=settings.openai_understand_model, max_retries=settings.openai_max_retries,
            timeout_s=min(30.0, settings.openai_timeout_s),
            prompt_cache_retention=settings.openai_prompt_cache_retention,
        )  # fmt: skip
        registry.understand_effort = settings.openai_understand_reasoning or None
    registry.transcriber = OpenAITranscriber.from_settings(settings)
