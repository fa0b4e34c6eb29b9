"""The rules of Leonardo's video models: which model, resolution, length and motion a request asks for.

Motion 2.0 makes a fixed ~5 s clip at 480p or 720p; Veo 3.1 makes 4, 6 or 8
second clips at 720p, or 1080p at 8 s only. "veo"/"motion" aliases pick the
configured Veo/Motion model.

Motion strength: the spec's `motion_strength` (the LLM's subtle/moderate/
dynamic, or the old 1-10 slider) has no API field on any current Leonardo
video model (only the retired SVD endpoint had `motionStrength`). It is folded
into the prompt text instead, e.g. "very subtle, gentle motion".
"""

from __future__ import annotations

from typing import Any

from engine.providers.base import ProviderError
from engine.providers.leonardo.common import PROVIDER

MOTION_MODELS = frozenset({"MOTION2", "MOTION2FAST"})
VEO_MODELS = frozenset({"VEO3_1", "VEO3_1FAST"})
VIDEO_MODELS = MOTION_MODELS | VEO_MODELS
VEO_DURATIONS = (4, 6, 8)

MOTION_PHRASES = {
    "subtle": "very subtle, gentle motion",
    "moderate": "natural, moderate motion",
    "dynamic": "lively, dynamic motion",
}


def motion_phrase(value: Any) -> str | None:
    """subtle/moderate/dynamic, or a 1-10 slider value, as prompt words."""
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text in MOTION_PHRASES:
        return MOTION_PHRASES[text]
    try:
        level = float(text)
    except ValueError:
        return None
    if level <= 3:
        return MOTION_PHRASES["subtle"]
    if level <= 7:
        return MOTION_PHRASES["moderate"]
    return MOTION_PHRASES["dynamic"]


def fold_motion(prompt: str, motion: Any) -> str:
    """The prompt with the motion phrase appended as its own sentence."""
    phrase = motion_phrase(motion)
    if not phrase:
        return prompt
    base = prompt.strip().rstrip(".")
    return f"{base}. {phrase[0].upper()}{phrase[1:]}." if base else f"{phrase[0].upper()}{phrase[1:]}."


def resolution_value(value: Any) -> int | None:
    """ "720", "720p", "RESOLUTION_720", 720 -> 720."""
    if value is None or value == "":
        return None
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    return int(digits) if digits else None


def video_model(raw: Any, default_model: str, veo_model: str) -> str:
    """The API model id for a requested model name or alias."""
    name = str(raw or default_model).strip()
    alias = name.lower().replace(" ", "").replace("-", "").replace("_", "")
    if alias in ("veo", "veo3.1", "veo31"):
        return veo_model.upper()
    if alias in ("motion", "motion2", "motion2.0", "motion20"):
        return "MOTION2"
    return name.upper()


def video_options(params: dict[str, Any], model: str) -> dict[str, Any]:
    """Model, resolution, duration and size as the API wants them; raises on bad values."""
    if model not in VIDEO_MODELS:
        raise ProviderError(
            f"unknown Leonardo video model {model!r} (use one of {sorted(VIDEO_MODELS)})",
            kind="invalid_request", provider=PROVIDER,
        )  # fmt: skip
    resolution = resolution_value(params.get("resolution")) or 720
    options: dict[str, Any] = {"model": model}
    if model in MOTION_MODELS:
        if resolution not in (480, 720):
            raise ProviderError("Motion 2.0 makes 480p or 720p clips", kind="invalid_request", provider=PROVIDER)
        options["resolution"] = f"RESOLUTION_{resolution}"
        return options  # Motion 2.0 has a fixed ~5 s length: no duration field
    raw_duration = params.get("duration", params.get("seconds"))
    try:
        duration = int(float(raw_duration)) if raw_duration not in (None, "") else 8
    except (TypeError, ValueError):
        duration = -1
    if duration not in VEO_DURATIONS or (raw_duration not in (None, "") and float(raw_duration) != duration):
        raise ProviderError(
            "Veo 3.1 clips are 4, 6 or 8 seconds long", kind="invalid_request",
            detail=f"duration {raw_duration!r}", provider=PROVIDER,
        )  # fmt: skip
    if resolution not in (720, 1080):
        raise ProviderError("Veo 3.1 makes 720p or 1080p clips", kind="invalid_request", provider=PROVIDER)
    if resolution == 1080 and duration != 8:
        raise ProviderError("Veo 3.1 makes 1080p clips only at 8 seconds", kind="invalid_request", provider=PROVIDER)
    width, height = (720, 1280) if resolution == 720 else (1080, 1920)
    options.update(resolution=f"RESOLUTION_{resolution}", duration=duration, width=width, height=height)
    return options
