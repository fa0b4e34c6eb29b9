"""Select, multi-select and review interactions as Telegram messages, and the
files a select shows before its question."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot import callbacks
from bot.render.html import TEXT_LIMIT, esc, rows_html, split_text, tg_len
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


QUESTION_LIMIT = 1000  # characters before the buttons: a question reads in one glance on a phone
SUMMARY_LIMITS = (90, 60, 40, 0)  # an option's one-line summary, cut shorter until the list fits


def _summary(item: Any, schema: Any, limit: int) -> str:
    """An option's one line after its title: its subtitle, else its first shown field."""
    if limit <= 0:
        return ""
    rows = item_rows(item, schema, limit)
    first = next((r for r in rows if r.role == "subtitle"), rows[0] if rows else None)
    return first.text if first is not None else ""


def render_select(
    req: InteractionRequest, chosen: set[int] | None, secret: str | bytes, page: int = 0, details: bool = False
) -> list[OutMessage]:
    """A select / multi-select / review interaction as ONE message: the question
    and a line per option (under `QUESTION_LIMIT` characters), the buttons, and
    "ℹ️ Details" when there is more to read; with `details`, every option's
    fields (cut to fit one message) and "◀ Short list". `chosen` holds the
    ticked option numbers (0-based)."""
    disp = req.display_data
    assert isinstance(disp, SelectDisplay), "render_select needs a SelectDisplay"
    chosen = set(chosen or ())
    iid = req.interaction_id
    items = selectable_items(disp.data, disp.display_schema)
    review = disp.mode == "review"
    multi = disp.multi_select and not review

    extra_rows = option_buttons(req, disp.retryable, secret, include_continue=review)
    reserved = sum(len(r) for r in extra_rows) + 4  # confirm, two page buttons, details
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

    def detailed(field_limit: int) -> list[str]:
        if not items:  # nothing selectable (a review of an object)
            return [item_html(disp.data, disp.display_schema, include_title=True, field_limit=field_limit)]
        out = []
        for i, (_path, item, item_schema) in shown:
            head = f"{mark(i)}<b>{option_number(i, badge)} {esc(item_title(item, item_schema, 160))}</b>"
            body = item_html(item, item_schema, field_limit=field_limit)
            out.append(f"{head}\n{body}" if body else head)
        return out

    def compact(summary_limit: int) -> list[str]:
        lines = []
        for i, (_path, item, item_schema) in shown:
            summary = _summary(item, item_schema, summary_limit)
            line = f"{mark(i)}<b>{option_number(i, badge)} {esc(item_title(item, item_schema, 60))}</b>"
            lines.append(f"{line} — {esc(summary)}" if summary else line)
        return ["\n".join(lines)] if lines else []

    full = _fit(intro_text, detailed, FIELD_LIMITS, TEXT_LIMIT)
    short = _fit(intro_text, compact if items else detailed, SUMMARY_LIMITS if items else (300, 150, 80, 0),
                 QUESTION_LIMIT)
    if tg_len(short) > QUESTION_LIMIT:  # even the titles are too many: the buttons carry them
        short = intro_text
    more = tg_len(full) > tg_len(short) + 40  # there is something to see one tap away
    text = full if details and more else short

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
    if more:
        toggle = ("◀ Short list", "0") if details else ("ℹ️ Details", "1")
        rows.append([Button(toggle[0], callbacks.encode("info", iid, toggle[1], secret))])
    rows.extend(extra_rows)
    return [OutMessage(text=text or header(req) or "…", buttons=rows)]


def _fit(intro: str, blocks: Any, limits: tuple[int, ...], budget: int) -> str:
    """The intro and the blocks made with the first limit whose text fits `budget`
    (else the shortest, cut to one message)."""
    text = intro
    for limit in limits:
        text = "\n\n".join(b for b in [intro, *blocks(limit)] if b)
        if tg_len(text) <= budget:
            return text
    return split_text(text, max(budget, 200))[0] if tg_len(text) > TEXT_LIMIT else text
