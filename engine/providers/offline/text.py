"""Small wording helpers: capitals, lists, and fitting text to a length."""

from __future__ import annotations

from collections.abc import Sequence

SMALL_WORDS = {"a", "an", "the", "and", "or", "of", "for", "with", "in", "on", "to", "at", "by", "like"}


def cap(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def decap(text: str) -> str:
    # "A sunlit seat" -> "a sunlit seat" mid-sentence; leaves "Sora" or "TV" alone.
    first = text.split(" ", 1)[0]
    if first in ("A", "An", "The") or (len(first) > 1 and first[1:].islower()):
        return text[:1].lower() + text[1:]
    return text


def listing(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def fit_chars(text: str, lo: int, hi: int | None, fillers: Sequence[str]) -> str:
    """Pad with soft filler phrases or trim at a word boundary to lo..hi characters."""
    if hi is not None and hi < lo:
        hi = lo
    i = 0
    while len(text) < lo:
        end = text[-1] if text and text[-1] in ".!?" else ""
        body = text[:-1] if end else text
        text = f"{body}{', ' if body else ''}{fillers[i % len(fillers)]}{end}"
        i += 1
    if hi is not None and len(text) > hi:
        cut = text[: hi + 1]
        cut = cut[: cut.rfind(" ")] if " " in cut.strip() else text[:hi]
        text = cut.rstrip(" ,;:-") or text[:hi]
        text = text[:hi]
    if len(text) < lo:  # only for contradictory hints: pad with spaces rather than fail
        text = text.ljust(lo)
    return text


def fit_words(text: str, lo: int, hi: int, fillers: Sequence[str]) -> str:
    """Trim to at most `hi` words (never ending on "the" or "for") or pad to `lo`."""
    words = text.split()
    end = "." if text.rstrip().endswith(".") else ""
    if len(words) > hi:
        kept = words[:hi]
        while len(kept) > max(lo, 1) and kept[-1].lower().strip(",;:.") in SMALL_WORDS:
            kept.pop()
        text = " ".join(kept).rstrip(",;:-.") + end
    i = 0
    while len(text.split()) < lo:
        text = text.rstrip(".") + f", {fillers[i % len(fillers)]}{end}"
        i += 1
    return text
