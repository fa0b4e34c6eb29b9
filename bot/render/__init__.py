"""Protocol -> Telegram-ready message specs. Pure: no network, no `telegram` import.

What a screen shows comes from `engine.presentation` (neutral rows driven by
the display schema's `_ux` hints, never by step ids or state key names, so a
new workflow renders without a Python change); this package adds Telegram:
HTML (all workflow and LLM text escaped, parse_mode HTML), the 4096/1024
limits, keyboards with signed callback data (`bot.callbacks`), <= 100 buttons.

- `html`: esc, tg_len, split_text, fit_caption, the look of a row;
- `messages`: Button, OutMessage and the parts every screen shares;
- `select`, `text_input`, `media`, `status`: the screens.
"""

from __future__ import annotations

from typing import Any

from bot.render.file_input import render_file_input, size_text
from bot.render.html import CAPTION_LIMIT, TEXT_LIMIT, esc, fit_caption, split_text, tg_len
from bot.render.media import render_contents, render_media
from bot.render.messages import Button, OutMessage
from bot.render.select import item_html, preview_media, render_select
from bot.render.status import render_job_progress, render_status
from bot.render.text_input import render_text_input
from engine.presentation import (
    generated_contents,
    next_param_choice,
    panel_params,
    params_signature,
    selectable_items,
    selection_indices,
    shorten,
)
from engine.protocol import FileInputDisplay, InteractionRequest, SelectDisplay, TextInputDisplay



def render_request(
    req: InteractionRequest,
    secret: str | bytes,
    *,
    chosen: set[int] | None = None,
    param_choices: dict[str, dict[str, Any]] | None = None,
    page: int = 0,
    details: bool = False,
    settings: str | None = None,
    file_limit: int | None = None,
) -> list[OutMessage]:
    """Render any interaction request by its display kind: one message, whose
    buttons carry the question (`details`: a select's details; `settings`: a
    media provider's settings, by its prompt key; `file_limit`: the largest file
    this bot can fetch, for a file question)."""
    disp = req.display_data
    if isinstance(disp, SelectDisplay):
        return render_select(req, chosen, secret, page=page, details=details)
    if isinstance(disp, TextInputDisplay):
        return render_text_input(req, secret)
    if isinstance(disp, FileInputDisplay):
        return render_file_input(req, secret, file_limit)
    return render_media(req, secret, param_choices, settings)


__all__ = [
    "CAPTION_LIMIT",
    "TEXT_LIMIT",
    "Button",
    "OutMessage",
    "esc",
    "fit_caption",
    "generated_contents",
    "item_html",
    "next_param_choice",
    "panel_params",
    "params_signature",
    "preview_media",
    "render_contents",
    "render_file_input",
    "render_job_progress",
    "render_media",
    "render_request",
    "render_select",
    "render_status",
    "render_text_input",
    "selectable_items",
    "selection_indices",
    "shorten",
    "size_text",
    "split_text",
    "tg_len",
]
