"""Pictures a person sends in the bot tests: real bytes, with what a phone would add."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from bot.telegram.tap import owner_of
from tests.bot.harness import ALICE, BotUnderTest

GINGER = (222, 130, 55)
CAPTION = "this is Biscuit, my ginger cat"


def picture(size: tuple[int, int] = (1200, 900), colour: tuple[int, int, int] = GINGER, fmt: str = "JPEG",
            orientation: int | None = None) -> bytes:
    """A photo: a ginger middle on a lighter edge (so a crop and a pad differ)."""
    img = Image.new("RGB", size, (245, 230, 210))
    w, h = size
    img.paste(Image.new("RGB", (w // 2, h // 2), colour), (w // 4, h // 4))
    buffer = io.BytesIO()
    kwargs: dict[str, Any] = {}
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif.tobytes()
    if fmt == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    img.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (600, 600), (40 * i, 80, 120)) for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


async def send_photo(bot: BotUnderTest, data: bytes | None = None, caption: str = CAPTION, user: int = ALICE,
                     **kwargs: Any) -> None:
    await bot.say(caption, user=user, photo=True, file_bytes=data or picture(), **kwargs)


async def send_file(bot: BotUnderTest, data: bytes, name: str, mime: str, caption: str = CAPTION,
                    user: int = ALICE, **kwargs: Any) -> None:
    await bot.say(caption, user=user, document=True, file_bytes=data, file_name=name, mime_type=mime, **kwargs)


async def state(bot: BotUnderTest, user: int = ALICE) -> dict[str, Any]:
    view = await bot.engine.active_run(owner_of(user))
    assert view is not None
    return await bot.engine.state(view.run_id)


async def pending_module(bot: BotUnderTest, user: int = ALICE) -> str | None:
    view = await bot.engine.active_run(owner_of(user))
    return view.pending.module_name if view is not None and view.pending is not None else None


def run_folder(bot: BotUnderTest, run_id: str, user: int = ALICE) -> Path:
    return bot.engine.services.run_dir(owner_of(user), run_id)


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size
