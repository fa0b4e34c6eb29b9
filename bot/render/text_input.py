"""A text-input interaction: the prompt with ForceReply, then the shortcut buttons."""

from __future__ import annotations

from bot import callbacks
from bot.render.html import esc, pack
from bot.render.messages import PLACEHOLDER_LIMIT, Button, OutMessage, header
from engine.presentation import shorten
from engine.protocol import InteractionRequest, TextInputDisplay


def render_text_input(req: InteractionRequest, secret: str | bytes) -> list[OutMessage]:
    """The prompt with ForceReply (+ placeholder); a second message carries
    "Use default" / "Skip" (Telegram allows one reply_markup per message)."""
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
    texts = pack(["\n".join(p for p in parts if p)])
    default_hint = f"Default: {disp.default_value}" if disp.default_value else "Type your answer…"
    placeholder = disp.placeholder or default_hint
    messages = [OutMessage(text=t) for t in texts]
    messages[-1].force_reply = True
    messages[-1].placeholder = shorten(placeholder, PLACEHOLDER_LIMIT) or None
    if disp.default_value:
        action, intro, label = "text-default", "…or keep the default:", "Use default"
    elif disp.allow_empty:
        action, intro, label = "skip", "…or leave it empty:", "Skip"
    else:
        return messages
    button = Button(label, callbacks.encode(action, req.interaction_id, "", secret))
    messages.append(OutMessage(text=intro, buttons=[[button]]))
    return messages
