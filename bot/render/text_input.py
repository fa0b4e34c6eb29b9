"""A text-input interaction: the prompt with ForceReply, then the shortcut buttons."""

from __future__ import annotations

from bot import callbacks
from bot.render.html import esc, pack
from bot.render.messages import PLACEHOLDER_LIMIT, Button, OutMessage, header
from engine.presentation import shorten
from engine.protocol import InteractionRequest, TextInputDisplay


def render_text_input(req: InteractionRequest, secret: str | bytes) -> list[OutMessage]:
    """One message: the prompt, and "Use default" / "Skip" as buttons when the
    question allows them (any message typed next is the answer); with no such
    button, the prompt asks for a reply (ForceReply with a placeholder)."""
    disp = req.display_data
    assert isinstance(disp, TextInputDisplay), "render_text_input needs a TextInputDisplay"
    parts = [header(req)]
    if disp.prompt and disp.prompt != req.title:
        parts.append(esc(disp.prompt))
    if disp.default_value:
        parts.append(f"<i>Default:</i> {esc(shorten(disp.default_value, 1500))}")
    hint = "Reply with your text"
    if disp.max_length:
        hint += f" (up to {disp.max_length} characters)"
    parts.append(f"✏️ {hint}.")
    if disp.default_value:
        action, label = "text-default", "Use default"
    elif disp.allow_empty:
        action, label = "skip", "Skip"
    else:
        default_hint = "Type your answer…"
        message = OutMessage(text=pack(["\n".join(p for p in parts if p)])[-1], force_reply=True,
                             placeholder=shorten(disp.placeholder or default_hint, PLACEHOLDER_LIMIT) or None)
        return [message]
    parts[-1] = f"✏️ {hint}, or tap <b>{label}</b>."
    button = Button(label, callbacks.encode(action, req.interaction_id, "", secret))
    return [OutMessage(text=pack(["\n".join(p for p in parts if p)])[-1], buttons=[[button]])]
