"""Telegram HTML: escaping, length in Telegram's units, splitting long text
into messages with tags closed and reopened at the cut, caption fitting, and
the look of a neutral `engine.presentation.Row`.

Limits (provider-apis.md §6.1): text <= 4096 and caption <= 1024, measured in
UTF-16 code units, which is never less than what Telegram counts.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

from engine.presentation import Row

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


def esc(value: Any) -> str:
    """HTML-escape for Telegram's HTML parse mode."""
    return html.escape("" if value is None else str(value), quote=False)


def tg_len(text: str) -> int:
    """Length in UTF-16 code units: an upper bound of what Telegram counts."""
    return len(text.encode("utf-16-le")) // 2


def row_html(row: Row) -> str:
    """A row as one line: titles bold, subtitles italic, fields `<i>Label:</i> value`
    (the value bold when highlighted), plain text as it is; all text escaped."""
    if row.role == "title":
        return f"<b>{esc(row.text)}</b>"
    if row.role == "subtitle":
        return f"<i>{esc(row.text)}</i>"
    if row.role == "text":
        return esc(row.text)
    value = f"<b>{esc(row.text)}</b>" if row.role == "highlight" else esc(row.text)
    return f"<i>{esc(row.label)}:</i> {value}"


def rows_html(rows: Iterable[Row]) -> str:
    return "\n".join(row_html(r) for r in rows)


# ------------------------------------------------------------------ splitting

_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)([^>]*)>")


def _track_tags(stack: list[tuple[str, str]], piece: str) -> list[tuple[str, str]]:
    stack = list(stack)
    for m in _TAG.finditer(piece):
        closing, name = m.group(1), m.group(2).lower()
        if closing:
            for k in range(len(stack) - 1, -1, -1):
                if stack[k][0] == name:
                    del stack[k:]
                    break
        elif not m.group(3).rstrip().endswith("/"):
            stack.append((name, m.group(0)))
    return stack


def _closers(stack: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _char_index_for(text: str, budget: int) -> int:
    """The largest i with tg_len(text[:i]) <= budget."""
    i = min(len(text), max(0, budget))
    while i > 0 and tg_len(text[:i]) > budget:
        i -= max(1, (tg_len(text[:i]) - budget) // 2)
    return max(0, i)


def _find_cut(text: str, budget: int, markup: bool) -> int:
    end = _char_index_for(text, budget)
    if end >= len(text):
        return len(text)
    window = text[:end]
    cut = -1
    for sep in ("\n\n", "\n", " "):
        pos = window.rfind(sep)
        if pos > end * 0.3:
            cut = pos
            break
    if cut <= 0:
        cut = end
    if markup:  # never inside a tag or an entity
        head = text[:cut]
        lt, gt = head.rfind("<"), head.rfind(">")
        if lt > gt:
            cut = lt
        head = text[:cut]
        amp = head.rfind("&")
        if amp != -1 and ";" not in head[amp:] and cut - amp < 12:
            cut = amp
    return max(1, cut)


def split_text(text: str, limit: int = TEXT_LIMIT, html_markup: bool = True) -> list[str]:
    """Split on paragraph, then line, then word boundaries so that every piece
    fits `limit`. With HTML, tags open at a cut are closed and reopened."""
    if not text:
        return []
    if tg_len(text) <= limit:
        return [text]
    if limit < 200:
        raise ValueError(f"split_text needs a limit of at least 200, not {limit}")
    chunks: list[str] = []
    rest = text
    stack: list[tuple[str, str]] = []
    reserve = 0
    while rest:
        prefix = "".join(tag for _, tag in stack) if html_markup else ""
        whole = prefix + rest
        if tg_len(whole) <= limit:
            chunks.append(whole)
            break
        budget = max(16, limit - tg_len(prefix) - reserve - (64 if html_markup else 0))
        cut = _find_cut(rest, budget, html_markup)
        piece = rest[:cut]
        new_stack = _track_tags(stack, piece) if html_markup else []
        chunk = (prefix + piece).rstrip() + (_closers(new_stack) if html_markup else "")
        if tg_len(chunk) > limit and reserve < limit // 2:  # closing tags did not fit: cut shorter
            reserve += 64
            continue
        if tg_len(chunk) > limit:  # pathological nesting: give up on markup for this piece
            piece = rest[: _char_index_for(rest, limit - tg_len(prefix) - tg_len(_closers(stack)))]
            new_stack = stack
            chunk = prefix + piece + _closers(stack)
            cut = max(1, len(piece))
        reserve = 0
        if chunk.strip():
            chunks.append(chunk)
        rest = rest[cut:].lstrip()
        stack = new_stack
    return chunks


def fit_caption(text: str, limit: int = CAPTION_LIMIT) -> tuple[str, str]:
    """(caption <= limit, the rest to send as text after the media, "" if none)."""
    if tg_len(text) <= limit:
        return text, ""
    chunks = split_text(text, limit)
    return chunks[0], "\n\n".join(chunks[1:])


def pack(blocks: list[str], limit: int = TEXT_LIMIT) -> list[str]:
    """Join blocks with blank lines into as few messages as fit; a block that is
    too long on its own is split."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        if not block:
            continue
        candidate = f"{current}\n\n{block}" if current else block
        if tg_len(candidate) <= limit:
            current = candidate
            continue
        if current:
            messages.append(current)
        if tg_len(block) <= limit:
            current = block
        else:
            parts = split_text(block, limit)
            messages.extend(parts[:-1])
            current = parts[-1]
    if current:
        messages.append(current)
    return messages
