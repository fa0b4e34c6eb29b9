"""A select / multi-select / review interaction, neutrally: the options and
their numbers, what the person may choose, pages of a long list, and the files
shown before the question."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.presentation.values import properties, schema_at
from engine.protocol import InteractionRequest, SelectDisplay
from engine.selection import Path, selectable_items, ux, wire_paths

Option = tuple[Path, Any, dict[str, Any]]  # (path, item, item schema), as selectable_items gives them


def selection_indices(req: InteractionRequest, chosen: Iterable[int]) -> list[Any]:
    """`InteractionResponse.selected_indices` (wire form) for option numbers (0-based)."""
    disp = req.display_data
    assert isinstance(disp, SelectDisplay)
    items = selectable_items(disp.data, disp.display_schema)
    paths = [items[i][0] for i in sorted(set(chosen)) if 0 <= i < len(items)]
    return wire_paths(paths, disp.multi_select)


def section_label(schema: Any, items: list[Option]) -> str:
    """The `display_label` of the list the options come from ("Scene ideas"), or ""."""
    if not items:
        return ""
    return str(ux(schema_at(schema, items[0][0][:-1])).get("display_label") or "")


def index_badges(items: list[Option]) -> bool:
    """True when the options carry the `index-badge` nudge: numbered "#1" rather than "1."."""
    return any("index-badge" in (ux(schema).get("nudges") or []) for _, _, schema in items[:1])


def option_number(index: int, badge: bool) -> str:
    """How option `index` (0-based) is numbered."""
    return f"#{index + 1}" if badge else f"{index + 1}."


def choice_bounds(low: int, high: int | None) -> str:
    """How many to choose, in words: "exactly 2", "1–3", "up to 3", "at least 1", "any number"."""
    if high is not None and high == low:
        return f"exactly {low}"
    if high is not None:
        return f"{low}–{high}" if low else f"up to {high}"
    return f"at least {low}" if low else "any number"


@dataclass(frozen=True)
class Page:
    number: int  # 0-based, clamped into range
    count: int  # how many pages (at least 1)
    start: int  # the first option on the page (0-based)
    stop: int  # one past the last

    @property
    def has_previous(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return self.number < self.count - 1


def paginate(total: int, page: int, page_size: int) -> Page:
    """Page `page` of `total` options, `page_size` a page; out-of-range pages clamp."""
    size = max(1, page_size)
    count = max(1, -(-total // size))
    number = min(max(0, page), count - 1)
    start = number * size
    return Page(number, count, start, min(total, start + size))


MEDIA_RENDER_AS = ("video", "image", "audio", "media")


@dataclass(frozen=True)
class Preview:
    kind: str  # the media's `render_as`: video, image, audio or media; a front end may map it
    path: str
    label: str


def preview_media(data: Any, schema: Any) -> list[Preview]:
    """Files a select/review shows before its question: data fields whose schema
    says `_ux.render_as` video/image/audio/media and whose value is a local path
    (or an object holding one in `_ux.media_field`, default `local_path`)."""
    found: list[Preview] = []

    def walk(value: Any, node: Any) -> None:
        if not isinstance(node, dict):
            return
        hints = ux(node)
        kind = hints.get("render_as")
        if kind in MEDIA_RENDER_AS and value:
            path = value.get(hints.get("media_field", "local_path")) if isinstance(value, dict) else value
            if isinstance(path, str) and path:
                found.append(Preview(kind, path, str(hints.get("display_label") or "")))
            return
        if isinstance(value, dict):
            for key, sub in properties(node).items():
                if key in value:
                    walk(value[key], sub)

    walk(data, schema)
    return found
