"""Select, multi-select and review interactions as Telegram messages, and the
files a select shows before its question."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot import callbacks
from bot.render.html import TEXT_LIMIT, esc, pack, rows_html, split_text, tg_len
from bot.render.messages import (
    BUTTON_LABEL_LIMIT,
    FIELD_LIMITS,
    MAX_BUTTONS,
    Button,
    OutMessage,
    button_label,
    grid,
    header,
    option_buttons,
)
from engine import presentation
from engine.presentation import (
    choice_bounds,
    index_badges,
    item_rows,
    item_title,
    option_number,
    paginate,
    section_label,
    selectable_items,
)
from engine.protocol import InteractionRequest, SelectDisplay

MAX_SELECT_MESSAGES = 3  # beyond this, options are summarised rather than sent as a flood
PAGE_SIZE = 60  # options per page when a list is too long for one keyboard
ONE_ROW = 20  # up to this many options a page: one button a row with full labels
SEND_KIND = {"video": "video", "image": "photo", "audio": "audio", "media": "document"}


def item_html(item: Any, schema: Any = None, *, include_title: bool = False, field_limit: int = 700) -> str:
    """The visible fields of an item as HTML lines (see `engine.presentation.item_rows`)."""
    return rows_html(item_rows(item, schema, field_limit, include_title))


def preview_media(data: Any, schema: Any) -> list[presentation.Preview]:
    """`engine.presentation.preview_media` with the kind to send the file as
    (video, photo, audio, document)."""
    return [replace(p, kind=SEND_KIND[p.kind]) for p in presentation.preview_media(data, schema)]


def render_select(
    req: InteractionRequest, chosen: set[int] | None, secret: str | bytes, page: int = 0
) -> list[OutMessage]:
    """A select / multi-select / review interaction as messages; the keyboard
    is on the last message. `chosen` holds the ticked option numbers (0-based)."""
    disp = req.display_data
    assert isinstance(disp, SelectDisplay), "render_select needs a SelectDisplay"
    chosen = set(chosen or ())
    iid = req.interaction_id
    items = selectable_items(disp.data, disp.display_schema)
    review = disp.mode == "review"
    multi = disp.multi_select and not review

    extra_rows = option_buttons(req, disp.retryable, secret, include_continue=review)
    reserved = sum(len(r) for r in extra_rows) + 3  # confirm + two page buttons
    at = paginate(len(items), page, max(10, min(PAGE_SIZE, MAX_BUTTONS - reserved)))
    shown = list(enumerate(items))[at.start : at.stop]

    label = section_label(disp.display_schema, items)
    intro = [header(req), f"<i>{esc(label)}</i>" if label else ""]
    if multi:
        want = choice_bounds(disp.min_selections, disp.max_selections)
        intro.append(f"Tap to tick or untick, then <b>Done</b>. Choose {want}. Selected: {len(chosen)}.")
    elif not review and items:
        intro.append("Tap a button to choose.")
    if at.count > 1:
        intro.append(f"Options {at.start + 1}–{at.stop} of {len(items)}.")
    intro_text = "\n".join(p for p in intro if p)
    badge = index_badges(items)

    def mark(i: int) -> str:
        return ("✅ " if i in chosen else "▫️ ") if multi else ""

    def blocks_for(field_limit: int) -> list[str]:
        out = []
        room = TEXT_LIMIT - tg_len(intro_text) - 4
        for i, (_path, item, item_schema) in shown:
            title = item_title(item, item_schema, 160 if field_limit else 60)
            head = f"{mark(i)}<b>{option_number(i, badge)} {esc(title)}</b>"
            details = item_html(item, item_schema, field_limit=field_limit)
            block = f"{head}\n{details}" if details else head
            if tg_len(block) > room:  # one option never needs two messages
                block = split_text(block, max(1000, room))[0]
            out.append(block)
        return out

    def whole_for(field_limit: int) -> list[str]:  # nothing selectable (a review of an object)
        return [item_html(disp.data, disp.display_schema, include_title=True, field_limit=field_limit)]

    texts: list[str] = []
    for field_limit in FIELD_LIMITS:
        texts = pack([intro_text] + (blocks_for(field_limit) if items else whole_for(field_limit)))
        if len(texts) <= MAX_SELECT_MESSAGES:
            break

    rows: list[list[Button]] = []
    if not review:
        action = "toggle" if multi else "pick"
        # always a readable label; long lists get shorter labels, two per row
        limit = BUTTON_LABEL_LIMIT if len(shown) <= ONE_ROW else 18
        buttons = [
            Button(
                button_label(f"{mark(i)}{i + 1}. {item_title(item, item_schema, limit)}"),
                callbacks.encode(action, iid, i, secret),
            )
            for i, (_path, item, item_schema) in shown
        ]
        rows.extend(grid(buttons, 1 if len(shown) <= ONE_ROW else 2))
    if at.count > 1:
        nav = []
        if at.has_previous:
            nav.append(Button("◀ Previous", callbacks.encode("page", iid, at.number - 1, secret)))
        if at.has_next:
            nav.append(Button("Next ▶", callbacks.encode("page", iid, at.number + 1, secret)))
        rows.append(nav)
    if multi:
        rows.append([Button(f"Done ({len(chosen)} selected)", callbacks.encode("confirm", iid, "", secret))])
    has_continue = any(o.mode == "continue" for o in (disp.retryable.options if disp.retryable else []))
    if review and not has_continue:
        rows.append([Button("✔️ Continue", callbacks.encode("confirm", iid, "", secret))])
    rows.extend(extra_rows)

    messages = [OutMessage(text=t) for t in texts] or [OutMessage(text=header(req) or "…")]
    messages[-1].buttons = rows
    return messages
