"""A file-input interaction (`FileInputDisplay`): the prompt, what is taken, and Skip when allowed."""

from __future__ import annotations

from bot import callbacks
from bot.render.html import esc, pack
from bot.render.messages import Button, OutMessage, button_label, header
from engine.protocol import FileInputDisplay, InteractionRequest

KIND_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WebP", "heic": "HEIC"}


def size_text(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{max(1, size // 1024)} kB"


def render_file_input(req: InteractionRequest, secret: str | bytes, limit_bytes: int | None = None) -> list[OutMessage]:
    """One message: the prompt, the kinds and size taken (the smaller of the question's
    limit and `limit_bytes`, what this bot can download), and the skip button."""
    disp = req.display_data
    assert isinstance(disp, FileInputDisplay), "render_file_input needs a FileInputDisplay"
    kinds = [KIND_NAMES.get(k, k.upper()) for k in disp.accept]
    largest = min(disp.max_bytes, limit_bytes) if limit_bytes else disp.max_bytes
    taken = f"{', '.join(kinds[:-1])} or {kinds[-1]}" if len(kinds) > 1 else (kinds[0] if kinds else "any")
    parts = [header(req)]
    if disp.prompt and disp.prompt != req.title:
        parts.append(esc(disp.prompt))
    parts.append(f"<i>{esc(taken)}, up to {size_text(largest)}, at least {disp.min_short_side} pixels on the "
                 "short side.</i>")
    buttons: list[list[Button]] = []
    if disp.allow_skip:
        parts.append(f"📸 Send it now, or tap <b>{esc(disp.skip_label)}</b>.")
        buttons = [[Button(button_label(f"⏭ {disp.skip_label}"), callbacks.encode("file-skip", req.interaction_id,
                                                                                 "", secret))]]
    else:
        parts.append("📸 Send it now, as a photo or as a file.")
    return [OutMessage(text=pack(["\n".join(p for p in parts if p)])[-1], buttons=buttons)]
