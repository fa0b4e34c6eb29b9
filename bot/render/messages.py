"""Message specs and the pieces every Telegram screen shares: the header, the
keyboard grid and the retry/jump option buttons.

Telegram limits kept here (provider-apis.md §6.1): callback data <= 64 bytes
(bot.callbacks refuses more), <= 100 buttons per keyboard, ForceReply
placeholder <= 64 chars.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot import callbacks
from bot.render.html import esc
from engine.presentation import shorten
from engine.protocol import InteractionRequest, Retryable

BUTTON_LABEL_LIMIT = 40
PLACEHOLDER_LIMIT = 64
MAX_BUTTONS = 100
FIELD_LIMITS = (700, 400, 200, 100, 50, 0)  # per-field characters, tried in turn until things fit

Kind = Literal["text", "photo", "video", "media_group", "document"]


@dataclass
class Button:
    text: str
    callback_data: str


@dataclass
class OutMessage:
    """One message to send. For photo/video/document `text` is the caption;
    for media_group `captions` holds one caption per item (no buttons: Telegram
    allows no keyboard on an album)."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    parse_mode: str | None = "HTML"
    kind: Kind = "text"
    media_paths: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    force_reply: bool = False
    placeholder: str | None = None

    def all_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]


def header(req: InteractionRequest, with_title: bool = True) -> str:
    """The step name in bold, then the request's title."""
    parts = [f"<b>{esc(shorten(req.step_name, 120))}</b>"] if req.step_name else []
    if with_title and req.title and req.title != req.step_name:
        parts.append(esc(shorten(req.title, 400)))
    return "\n".join(parts)


def button_label(text: str, limit: int = 48) -> str:
    return shorten(text, limit) or "…"


def grid(buttons: list[Button], per_row: int) -> list[list[Button]]:
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


def option_buttons(
    req: InteractionRequest, retryable: Retryable | None, secret: str | bytes, include_continue: bool
) -> list[list[Button]]:
    """One row per retry/jump option (and "continue" when asked)."""
    rows: list[list[Button]] = []
    if not retryable:
        return rows
    icons = {"continue": "✔️", "retry": "🔄", "jump": "↩️"}
    for idx, option in enumerate(retryable.options):
        if option.mode == "continue" and not include_continue:
            continue
        text = button_label(f"{icons.get(option.mode, '•')} {option.label}")
        rows.append([Button(text, callbacks.encode("opt", req.interaction_id, idx, secret))])
    return rows
