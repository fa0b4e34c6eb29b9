"""A person's own picture: what it really is, whether it can be used, and an upright copy.

`engine.media.images.sniff` names the real format from the first bytes (never
the file name or the sender's MIME type). `normalise_photo` refuses, with a reason a person can
read (`PhotoRefused`), anything that is not a still picture the video can be
made from: not an image, a video or an animated GIF/WebP/PNG, a file Pillow
cannot decode to the end (a cut-off JPEG), too few pixels on the short side,
far too many pixels in all. What it accepts is written upright (the EXIF
rotation applied), opaque, at most `max_side` pixels long, as a JPEG without
any metadata (so no GPS position travels on to a provider).

Blocking Pillow work: call it through `in_image_worker`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from engine.media.images import save_atomic, sniff

KIND_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WebP", "heic": "HEIC/HEIF", "gif": "GIF", "avif": "AVIF"}
MAX_PIXELS = 60_000_000  # a 60 MP picture is already more than any phone takes
_PIL_FORMATS = {"jpeg": {"JPEG", "MPO"}, "png": {"PNG"}, "webp": {"WEBP"}, "gif": {"GIF"}, "heic": {"HEIF"}}


class PhotoRefused(ValueError):
    """A file that cannot be used as a photo; `str()` is the reason, for a person."""


def kinds_text(accept: list[str]) -> str:
    names = [KIND_NAMES.get(k, k.upper()) for k in accept]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{max(1, size // 1024)} kB"


def check_size(size: int | None, max_bytes: int) -> None:
    """Refuse a file larger than `max_bytes` (front ends call it before downloading)."""
    if size is not None and size > max_bytes:
        raise PhotoRefused(f"That file is {_megabytes(size)}; the most I can take is {_megabytes(max_bytes)}. "
                           "Please send a smaller photo (a Telegram photo is always small enough).")


def _open(src: Path, kind: str) -> Image.Image:
    if kind == "heic":
        try:
            from pillow_heif import register_heif_opener
        except ImportError:  # the wheel is a dependency; a broken install should still say something clear
            raise PhotoRefused("HEIC photos cannot be read here right now. Please send it as a JPEG.") from None
        register_heif_opener()
    try:
        return Image.open(src)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise PhotoRefused("That picture could not be opened: it may be damaged. Please send it again.") from None


def normalise_photo(src: str | os.PathLike[str], dest_dir: str | os.PathLike[str], *, accept: list[str],
                    max_bytes: int, min_short_side: int, max_side: int = 2048) -> dict[str, Any]:
    """Check `src` and write its upright, opaque JPEG copy into `dest_dir` (named by a hash of
    the bytes: the same photo twice is one file). Returns local_path, width, height, format,
    size_bytes and the original's width and height. Raises PhotoRefused."""
    source = Path(src)
    size = source.stat().st_size
    if size == 0:
        raise PhotoRefused("That file is empty. Please send the photo again.")
    check_size(size, max_bytes)
    with source.open("rb") as handle:
        kind = sniff(handle.read(64))
    if kind == "video":
        raise PhotoRefused("That is a video. Please send a still photo of your pet instead.")
    if kind in ("pdf", "unknown"):
        raise PhotoRefused(f"That file is not a picture. Please send a photo ({kinds_text(accept)}).")
    img = _open(source, kind)
    try:
        if img.format not in _PIL_FORMATS.get(kind, {img.format}):
            raise PhotoRefused("That picture could not be opened: it may be damaged. Please send it again.")
        if getattr(img, "is_animated", False) and getattr(img, "n_frames", 1) > 1:
            raise PhotoRefused("That is an animated picture. Please send a still photo of your pet.")
        if kind not in accept:
            raise PhotoRefused(f"{KIND_NAMES.get(kind, kind)} pictures are not taken here. "
                               f"Please send a photo ({kinds_text(accept)}).")
        if img.width * img.height > MAX_PIXELS:
            raise PhotoRefused(f"That picture is {img.width}×{img.height} pixels, more than I can work with. "
                               "Please send a smaller copy.")
        try:
            img.load()  # a cut-off file fails here ("image file is truncated")
            upright = ImageOps.exif_transpose(img)
        except (OSError, ValueError, SyntaxError):
            raise PhotoRefused("That picture is damaged or cut off (it did not arrive whole). "
                               "Please send it again.") from None
        width, height = upright.size
        if min(width, height) < min_short_side:
            raise PhotoRefused(f"That picture is only {width}×{height} pixels. I need at least {min_short_side} "
                               "pixels on its short side to make a sharp video: please send a larger photo.")
        opaque = _opaque(upright)
        if max(width, height) > max_side:
            opaque.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    finally:
        img.close()
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    dest = Path(dest_dir) / f"pet_photo_{digest}.jpg"
    save_atomic(opaque, dest, quality=92)
    return {"local_path": str(dest.resolve()), "width": opaque.width, "height": opaque.height, "format": kind,
            "size_bytes": dest.stat().st_size, "original_width": width, "original_height": height}


def _opaque(img: Image.Image) -> Image.Image:
    """RGB; transparent areas become white."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        base = Image.new("RGB", rgba.size, (255, 255, 255))
        base.paste(rgba, (0, 0), rgba.getchannel("A"))
        return base
    return img.convert("RGB")
