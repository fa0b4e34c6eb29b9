"""Caption planning with Pillow: which words can be drawn, how they wrap, where and when each screen shows.

One sentence per caption screen. Each paragraph gets an equal share of the
video; inside a paragraph a sentence's time is proportional to its length
(with a floor, so a short line is not a flash), the last stays to the end.
Lines are wrapped with Pillow measuring the same font file ffmpeg draws with
(balanced, at most three lines, the font shrinks a little before a fourth),
inside the 9:16 safe area: the middle 80 % of the width and between 15 % and
70 % of the height (around the upper third), away from the bottom where
TikTok, Reels and Shorts put their caption, buttons and progress bar, and
from the right-hand icon column. Characters the font has no glyph for
(emoji, most non-Latin scripts) are removed on purpose.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from engine.compose.spec import CaptionCue, ComposeSpec
from engine.media import CAPTION_FONT

# Safe area, as fractions of the frame.
SAFE_WIDTH = 0.80  # the text block fits the middle 80 % of the width
SAFE_TOP = 0.15  # below the platforms' top bar
SAFE_BOTTOM = 0.70  # above their caption, buttons and progress bar
TEXT_CENTER = 0.33  # the block's preferred centre: the upper third
MAX_LINES = 3  # per caption screen; longer sentences get a smaller font
MIN_CUE_WEIGHT = 14  # characters: a very short line still gets time to be read


_ALWAYS_DROP = re.compile(
    "[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufe00-\ufe0f\u20e3\ufeff"
    "\U0001f3fb-\U0001f3ff\U000e0000-\U000e007f]"
)  # zero-width and direction marks, variation selectors, keycaps, skin tones, tags


@lru_cache(maxsize=64)
def _font(font_path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_path, size)


@lru_cache(maxsize=4096)
def _has_glyph(font_path: str, char: str) -> bool:
    font = _font(font_path, 48)
    def signature(c: str) -> tuple[object, ...]:
        mask = font.getmask(c)
        return mask.size, bytes(mask), font.getlength(c)
    # a missing glyph renders as the font's .notdef box, like an unassigned code point does
    return signature(char) != signature("\U0010fffd")


def drawable_text(text: str, font_path: Path | str = CAPTION_FONT) -> str:
    """`text` with what the font cannot draw removed (emoji, unsupported scripts,
    control and zero-width characters) and whitespace collapsed."""
    font = str(font_path)
    gone = "\0"  # marks a removed character until the gaps are tidied
    text = _ALWAYS_DROP.sub(gone, unicodedata.normalize("NFC", str(text).replace(gone, "")))
    kept = []
    for char in text:
        if char.isspace():
            kept.append(" ")
        elif char == gone or unicodedata.category(char)[0] == "C" or not _has_glyph(font, char):
            kept.append(gone)
        else:
            kept.append(char)
    # "nap 🐾!" must not become "nap !": a removal before punctuation takes its space along
    cleaned = re.sub(r"[\s\0]*\0[\s\0]*(?=[,.!?;:…])", "", "".join(kept)).replace(gone, "")
    return re.sub(r"\s+", " ", cleaned).strip()


def _split_long_word(word: str, font: ImageFont.FreeTypeFont, max_w: float) -> list[str]:
    parts, current = [], ""
    for char in word:
        if current and font.getlength(current + char) > max_w:
            parts.append(current)
            current = char
        else:
            current += char
    return parts + ([current] if current else [])


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_w: float) -> list[str]:
    """Greedy word wrap measured with the font; a word wider than a line is split."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        pieces = [word] if font.getlength(word) <= max_w else _split_long_word(word, font, max_w)
        for piece in pieces:
            candidate = f"{current} {piece}" if current else piece
            if current and font.getlength(candidate) > max_w:
                lines.append(current)
                current = piece
            else:
                current = candidate
    if current:
        lines.append(current)
    return lines


def balanced_wrap(text: str, font: ImageFont.FreeTypeFont, max_w: float) -> list[str]:
    """The fewest lines `wrap_text` needs, made as even as possible (no lone last word)."""
    lines = wrap_text(text, font, max_w)
    if len(lines) < 2:
        return lines
    low, high = max_w / len(lines), max_w
    best = lines
    for _ in range(12):  # binary search for the narrowest width that keeps the line count
        middle = (low + high) / 2
        attempt = wrap_text(text, font, middle)
        if len(attempt) <= len(lines) and all(font.getlength(line) <= middle for line in attempt):
            best, high = attempt, middle
        else:
            low = middle
    return best


def caption_style(size: int) -> tuple[int, int, int]:
    """(outline width, line spacing, shadow offset) for a font size."""
    return max(2, round(size / 14)), round(size * 0.18), max(1, round(size / 22))


def layout_caption(text: str, width: int, height: int, font_path: Path | str) -> tuple[list[str], int, tuple[int, int, int, int]]:
    """Wrap `text` for a `width` x `height` frame: (lines, font size, block box)."""
    base = round(min(width * 0.07, height * 0.04))
    size = base
    max_w = width * SAFE_WIDTH
    while True:
        font = _font(str(font_path), size)
        border, spacing, _ = caption_style(size)
        lines = balanced_wrap(text, font, max_w - 2 * border)
        if len(lines) <= MAX_LINES or size <= base * 0.7:
            break
        size -= 2
    ascent, descent = font.getmetrics()
    line_h = ascent + descent
    block_w = max(font.getlength(line) for line in lines) + 2 * border
    block_h = len(lines) * line_h + (len(lines) - 1) * spacing + 2 * border
    top = min(max(height * TEXT_CENTER - block_h / 2, height * SAFE_TOP), height * SAFE_BOTTOM - block_h)
    top = max(0.0, top)
    x0 = (width - block_w) / 2
    box = (int(x0), int(top), int(x0 + block_w + 0.999), int(top + block_h + 0.999))
    return lines, size, box


def caption_timing(paragraphs: list[list[str]], duration_s: float) -> list[tuple[float, float, str]]:
    """(start, end, sentence) for each sentence: equal shares per paragraph,
    length-weighted shares per sentence inside it, end to end over the video."""
    paragraphs = [p for p in paragraphs if p]
    cues: list[tuple[float, float, str]] = []
    if not paragraphs:
        return cues
    share = duration_s / len(paragraphs)
    for index, sentences in enumerate(paragraphs):
        start = index * share
        weights = [max(len(s), MIN_CUE_WEIGHT) for s in sentences]
        total = sum(weights)
        for sentence, weight in zip(sentences, weights):
            end = start + share * weight / total
            cues.append((round(start, 3), round(end, 3), sentence))
            start = end
    last_start, _, last_text = cues[-1]
    cues[-1] = (last_start, round(duration_s, 3), last_text)
    return cues


def plan_captions(spec: ComposeSpec) -> list[CaptionCue]:
    paragraphs = []
    for paragraph in spec.overlay or []:
        sentences = [drawable_text(s, spec.font_path) for s in paragraph]
        sentences = [s for s in sentences if s]
        if sentences:
            paragraphs.append(sentences)
    cues = []
    for start, end, sentence in caption_timing(paragraphs, spec.duration_s):
        lines, size, box = layout_caption(sentence, spec.width, spec.height, spec.font_path)
        cues.append(CaptionCue(start_s=start, end_s=end, lines=lines, font_size=size, box=box))
    return cues
