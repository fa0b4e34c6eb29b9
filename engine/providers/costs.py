"""Published prices and credit costs: ONE table, with the date it was read.

Every number here is a list price for an estimate shown to the person before a
paid call, never a bill. Entries marked `confirmed=False` come from third-party
pages or are educated guesses; check them against the provider's pricing page
before relying on them. When a provider returns the real cost (Leonardo's
`cost`/`apiCreditCost`, OpenAI's token usage) that wins over the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.providers.base import Cost, GenerationRequest, LLMUsage

PRICES_AS_OF = "2026-11"


@dataclass(frozen=True)
class Price:
    amount: float
    unit: str  # "usd/image", "usd/second", "credits/clip", "usd/minute", "usd/1M tokens"
    confirmed: bool
    source: str


# ------------------------------------------------------------------ the table
# Keys are (provider, model, variant). Variants name the quality/size tier.
PRICES: dict[tuple[str, str, str], Price] = {
    # OpenAI gpt-image-2 bills by image tokens ($30 / 1M output tokens); these
    # per-image figures for a <=1536 px portrait are third-party retail numbers.
    ("openai", "gpt-image-2", "low"): Price(0.012, "usd/image", False, "third-party retail, 2026"),
    ("openai", "gpt-image-2", "medium"): Price(0.047, "usd/image", False, "third-party retail, 2026"),
    ("openai", "gpt-image-2", "high"): Price(0.128, "usd/image", False, "third-party retail, 2026"),
    ("openai", "gpt-image-2", "auto"): Price(0.128, "usd/image", False, "auto billed like high [P]"),
    # Sora 2 Videos protocol (OpenAI's own API is shut down; a gateway may differ).
    ("sora", "sora-2", "720p"): Price(0.10, "usd/second", True, "OpenAI list price before shutdown"),
    ("sora", "sora-2-pro", "720p"): Price(0.30, "usd/second", True, "OpenAI list price before shutdown"),
    ("sora", "sora-2-pro", "1024p"): Price(0.50, "usd/second", True, "OpenAI list price before shutdown"),
    # Leonardo Motion 2.0: a fixed ~5 s clip. Credits, not dollars.
    ("leonardo", "MOTION2", "clip"): Price(200, "credits/clip", False, "public integrations [P]"),
    ("leonardo", "MOTION2FAST", "clip"): Price(100, "credits/clip", False, "guess: half of MOTION2"),
    # Veo 3.1 through Leonardo: Leonardo's credit price is unknown; Google's
    # per-second list price is used as the dollar estimate.
    ("leonardo", "VEO3_1", "second"): Price(0.40, "usd/second", False, "Google Veo 3.1 list price"),
    ("leonardo", "VEO3_1FAST", "second"): Price(0.15, "usd/second", False, "Google Veo 3.1 Fast list price"),
    # Leonardo images (Phoenix at ~720x1280): credits per image.
    ("leonardo", "image", "alchemy"): Price(16, "credits/image", False, "guess from the pricing calculator"),
    ("leonardo", "image", "plain"): Price(8, "credits/image", False, "guess from the pricing calculator"),
    # ElevenLabs music (Creator overage).
    ("elevenlabs", "music", "minute"): Price(0.80, "usd/minute", False, "Creator overage [U]"),
    # LLM, per 1M tokens.
    ("openai", "gpt-5.2", "input"): Price(1.75, "usd/1M tokens", False, "OpenAI pricing page as quoted, 2026"),
    ("openai", "gpt-5.2", "cached_input"): Price(0.175, "usd/1M tokens", False, "OpenAI pricing page as quoted, 2026"),
    ("openai", "gpt-5.2", "output"): Price(14.0, "usd/1M tokens", False, "OpenAI pricing page as quoted, 2026"),
    ("openai", "gpt-5.6-luna", "input"): Price(0.20, "usd/1M tokens", False, "OpenAI model page as quoted, 2026"),
    ("openai", "gpt-5.6-luna", "cached_input"): Price(0.02, "usd/1M tokens", False, "OpenAI model page as quoted"),
    ("openai", "gpt-5.6-luna", "output"): Price(1.20, "usd/1M tokens", False, "OpenAI model page as quoted, 2026"),
    # speech to text, per minute of audio
    ("openai", "gpt-transcribe", "minute"): Price(0.0045, "usd/minute", False, "OpenAI model page as quoted"),
    ("openai", "gpt-4o-mini-transcribe", "minute"): Price(0.003, "usd/minute", False, "third-party estimate"),
    ("openai", "whisper-1", "minute"): Price(0.006, "usd/minute", False, "provider-apis.md 9.1"),
}


def price(provider: str, model: str, variant: str) -> Price | None:
    return PRICES.get((provider, model, variant))


def _note(*prices: Price | None) -> str:
    known = [p for p in prices if p is not None]
    if not known:
        return "no list price known"
    tag = "" if all(p.confirmed for p in known) else ", unconfirmed"
    return f"list price {PRICES_AS_OF}{tag}"


# ---------------------------------------------------------------- LLM usage


def llm_cost_usd(model: str, usage: LLMUsage) -> float | None:
    """Dollar cost of one call from its usage; None when the model is not in the table.

    Cached input tokens are part of `input_tokens` and billed at the cached rate.
    Reasoning tokens are part of `output_tokens`.
    """
    base = _llm_family(model)
    p_in, p_cached, p_out = (price("openai", base, v) for v in ("input", "cached_input", "output"))
    if p_in is None or p_out is None:
        return None
    cached = min(usage.cached_tokens, usage.input_tokens)
    fresh = usage.input_tokens - cached
    cached_rate = p_cached.amount if p_cached else p_in.amount
    total = fresh * p_in.amount + cached * cached_rate + usage.output_tokens * p_out.amount
    return round(total / 1_000_000, 8)


def transcription_cost_usd(model: str, seconds: float | None) -> float | None:
    """Dollar cost of transcribing `seconds` of audio; None when unknown."""
    p = price("openai", model, "minute")
    if p is None or seconds is None:
        return None
    return round(p.amount * max(0.0, seconds) / 60, 8)


def _llm_family(model: str) -> str:
    """Dated snapshots share the alias's price: gpt-5.2-2025-12-11 -> gpt-5.2."""
    for known in {key[1] for key in PRICES if key[0] == "openai"}:
        if model == known or model.startswith(known + "-20"):
            return known
    return model


# --------------------------------------------------------- media estimates


def _int_param(params: dict[str, Any], *names: str, default: int) -> int:
    for name in names:
        value = params.get(name)
        if value is None or value == "":
            continue
        try:
            return int(float(value))
        except (TypeError, ValueError):
            continue
    return default


def image_count(params: dict[str, Any], default: int = 1) -> int:
    return max(1, _int_param(params, "n", "images", "num_images", default=default))


def openai_image_cost(model: str, quality: str, n: int) -> Cost:
    p = price("openai", model, quality) or price("openai", model, "medium")
    if p is None:
        return Cost(note="no list price known")
    return Cost(usd=round(p.amount * n, 4), note=_note(p))


def sora_cost(model: str, size: str, seconds: int) -> Cost:
    tier = "1024p" if size in ("1024x1792", "1792x1024") else "720p"
    p = price("sora", model, tier)
    if p is None:
        return Cost(note="no list price known")
    return Cost(usd=round(p.amount * seconds, 4), note=_note(p))


def leonardo_video_cost(model: str, seconds: int | None) -> Cost:
    clip = price("leonardo", model, "clip")
    if clip is not None:
        return Cost(credits=clip.amount, note=_note(clip))
    per_second = price("leonardo", model, "second")
    if per_second is not None:
        return Cost(usd=round(per_second.amount * (seconds or 8), 4), note=_note(per_second))
    return Cost(note="no list price known")


def leonardo_image_cost(n: int, alchemy: bool) -> Cost:
    p = price("leonardo", "image", "alchemy" if alchemy else "plain")
    assert p is not None
    return Cost(credits=p.amount * n, note=_note(p))


MUSIC_MIN_MS = 3_000
MUSIC_MAX_MS = 600_000
MUSIC_DEFAULT_MS = 15_000


def music_length_ms(request: GenerationRequest) -> int:
    """The music length to ask for: the duration hint, else params, within 3 s..10 min."""
    params = request.params
    if request.duration_hint_s:
        length = int(round(float(request.duration_hint_s) * 1000))
    elif params.get("music_length_ms") not in (None, ""):
        length = _int_param(params, "music_length_ms", default=MUSIC_DEFAULT_MS)
    else:
        seconds = _int_param(params, "duration_s", "duration", "seconds", default=0)
        length = seconds * 1000 if seconds > 0 else MUSIC_DEFAULT_MS
    return max(MUSIC_MIN_MS, min(MUSIC_MAX_MS, length))


def music_cost(length_ms: int) -> Cost:
    p = price("elevenlabs", "music", "minute")
    assert p is not None
    return Cost(usd=round(p.amount * length_ms / 60_000, 4), note=_note(p))


def leonardo_cost_from_job(job: dict[str, Any]) -> Cost | None:
    """The cost Leonardo reports on a create answer (`cost{amount,unit}` or `apiCreditCost`)."""
    cost = job.get("cost")
    if isinstance(cost, dict) and isinstance(cost.get("amount"), (int, float)):
        unit = str(cost.get("unit", "CREDITS")).upper()
        if unit == "DOLLARS":
            return Cost(usd=float(cost["amount"]), note="reported by Leonardo")
        return Cost(credits=float(cost["amount"]), note="reported by Leonardo")
    credits = job.get("apiCreditCost")
    if isinstance(credits, (int, float)):
        return Cost(credits=float(credits), note="reported by Leonardo")
    return None


def estimate_cost(request: GenerationRequest, *, settings: Any = None) -> Cost:
    """A list-price estimate for a media request, before any call.

    `settings` (engine.settings.Settings) supplies default models when the
    request's params do not name one.
    """
    params = request.params
    provider = request.provider
    action = request.action_type
    if action == "txt2img" and provider == "openai":
        model = str(params.get("model") or getattr(settings, "openai_image_model", "gpt-image-2"))
        quality = str(params.get("quality") or getattr(settings, "openai_image_quality", "medium"))
        return openai_image_cost(model, quality, image_count(params))
    if action == "txt2img" and provider == "leonardo":
        alchemy = str(params.get("alchemy", "true")).lower() not in ("false", "0", "no")
        return leonardo_image_cost(image_count(params), alchemy)
    if action == "img2vid" and provider in ("openai", "sora"):
        model = str(params.get("model") or getattr(settings, "sora_model", "sora-2"))
        seconds = _int_param(params, "seconds", "duration", default=4)
        size = str(params.get("size") or "720x1280")
        return sora_cost(model, size, seconds)
    if action == "img2vid" and provider == "leonardo":
        model = str(params.get("model") or getattr(settings, "leonardo_motion_model", "MOTION2")).upper()
        seconds = _int_param(params, "duration", "seconds", default=8)
        return leonardo_video_cost(model, seconds)
    if action == "txt2audio" and provider == "elevenlabs":
        return music_cost(music_length_ms(request))
    return Cost(note="no list price known")
