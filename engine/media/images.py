"""Image helpers: exact-size fitting for video APIs, size and real type.

Pillow work is CPU-bound and memory-hungry, so from async code it runs in
`in_image_worker`: a small bounded pool (not the default one, where six fits
at once starved the bot), after which the memory it freed goes back to the
system (`malloc_trim`) instead of staying in the process.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import io
import os
import sys
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, TypeVar

from PIL import Image, ImageFilter, ImageOps

FitMode = Literal["cover", "contain"]

# Where the crop window sits when trimming height: 0 = top, 0.5 = centre.
# A pet's face is usually in the upper middle of a portrait, so lean up a little.
_COVER_VERTICAL_BIAS = 0.4

_SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
IMAGE_WORKERS = 1  # one picture at a time: a fit is ~0.1 s of CPU and ~50 MB of pixels
_WORKER = ThreadPoolExecutor(max_workers=IMAGE_WORKERS, thread_name_prefix="images")
T = TypeVar("T")


def release_memory() -> None:
    """Give the memory freed after picture work back to the system (glibc keeps it otherwise)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).malloc_trim(0)
        except (OSError, AttributeError):
            pass


def _then_release(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    try:
        return fn(*args, **kwargs)
    finally:
        release_memory()


async def in_image_worker(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run Pillow work `fn(*args, **kwargs)` in the bounded image worker."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_WORKER, functools.partial(_then_release, fn, *args, **kwargs))


def _load_rgb(src: Path) -> tuple[Image.Image, Image.Image | None]:
    """The upright image as RGB, plus its alpha mask when it has one."""
    with Image.open(src) as opened:
        img = ImageOps.exif_transpose(opened)  # phone photos carry rotation in EXIF
        img.load()
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        return rgba.convert("RGB"), rgba.getchannel("A")
    return img.convert("RGB"), None


def _cover(img: Image.Image, width: int, height: int) -> Image.Image:
    # Scale so both sides reach the target, then trim only the overflow.
    scale = max(width / img.width, height / img.height)
    scaled_w = max(width, round(img.width * scale))
    scaled_h = max(height, round(img.height * scale))
    resized = img.resize((scaled_w, scaled_h), Image.Resampling.LANCZOS)
    left = (scaled_w - width) // 2
    top = round((scaled_h - height) * _COVER_VERTICAL_BIAS)
    return resized.crop((left, top, left + width, top + height))


def _contain(img: Image.Image, alpha: Image.Image | None, width: int, height: int) -> Image.Image:
    # Backdrop: the same picture stretched to cover and heavily blurred, so the
    # padding carries the image's own colours instead of black bars.
    backdrop = _cover(img, width, height)
    small = backdrop.resize((max(1, width // 8), max(1, height // 8)), Image.Resampling.BILINEAR)
    small = small.filter(ImageFilter.GaussianBlur(radius=max(2, min(width, height) // 80)))
    backdrop = small.resize((width, height), Image.Resampling.BICUBIC)
    backdrop = Image.blend(backdrop, Image.new("RGB", backdrop.size, (255, 255, 255)), 0.15)

    scale = min(width / img.width, height / img.height)
    fg_w = min(width, max(1, round(img.width * scale)))
    fg_h = min(height, max(1, round(img.height * scale)))
    foreground = img.resize((fg_w, fg_h), Image.Resampling.LANCZOS)
    mask = alpha.resize((fg_w, fg_h), Image.Resampling.LANCZOS) if alpha is not None else None
    backdrop.paste(foreground, ((width - fg_w) // 2, (height - fg_h) // 2), mask)
    return backdrop


def _flatten(img: Image.Image, alpha: Image.Image | None) -> Image.Image:
    # Video APIs want opaque frames: transparent areas become white.
    if alpha is None:
        return img
    base = Image.new("RGB", img.size, (255, 255, 255))
    base.paste(img, (0, 0), alpha)
    return base


def save_atomic(img: Image.Image, dest: Path, **save_kwargs: object) -> Path:
    """Save under a temp name and rename, so a half-written file never appears."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fmt = _SAVE_FORMATS.get(dest.suffix.lower())
    if fmt is None:
        raise ValueError(f"unsupported image extension {dest.suffix!r} (use .png, .jpg or .webp)")
    if fmt == "JPEG":
        save_kwargs.setdefault("quality", 92)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        img.save(tmp, format=fmt, **save_kwargs)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def fit_image(
    src: str | os.PathLike[str],
    width: int,
    height: int,
    dest: str | os.PathLike[str],
    *,
    mode: FitMode = "cover",
) -> Path:
    """Write `src` resized to exactly width x height at `dest` (format from its extension).

    cover: fill the frame, trimming only the overflow (centred across,
    slightly above centre vertically). contain: keep the whole picture and
    pad with a blurred copy of it.
    """
    if width < 1 or height < 1:
        raise ValueError(f"target size must be positive, got {width}x{height}")
    if mode not in ("cover", "contain"):
        raise ValueError(f"unknown fit mode {mode!r}")
    img, alpha = _load_rgb(Path(src))
    if mode == "cover":
        out = _cover(_flatten(img, alpha), width, height)
    else:
        out = _contain(img, alpha, width, height)
    return save_atomic(out, Path(dest))


def jpeg_bytes(src: str | os.PathLike[str], quality: int = 90) -> bytes:
    """The upright picture as JPEG bytes at its own pixel size (transparent areas white)."""
    img, alpha = _load_rgb(Path(src))
    out = io.BytesIO()
    _flatten(img, alpha).save(out, format="JPEG", quality=quality)
    return out.getvalue()


async def afit_image(
    src: str | os.PathLike[str],
    width: int,
    height: int,
    dest: str | os.PathLike[str],
    *,
    mode: FitMode = "cover",
) -> Path:
    return await in_image_worker(fit_image, src, width, height, dest, mode=mode)


_ORIENTATION_TAG = 0x0112
_SWAPPED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF rotations of 90/270 degrees


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) as displayed, i.e. after the EXIF rotation. Reads the
    header only: for a PNG, only an EXIF chunk before the pixels is looked at
    (Pillow's getexif() would decode the whole picture to find a later one)."""
    with Image.open(path) as img:
        width, height = img.size
        if img.format == "PNG":
            raw = img.info.get("exif")
            if not raw:
                return width, height
            exif = Image.Exif()
            exif.load(raw if isinstance(raw, bytes) else bytes(raw))
        else:
            exif = img.getexif()
        if exif.get(_ORIENTATION_TAG) in _SWAPPED_ORIENTATIONS:
            return height, width
        return width, height


_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}


def sniff(head: bytes) -> str:
    """jpeg, png, webp, gif, heic, avif, video, pdf or unknown, from a file's first 64 bytes."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[4:8] == b"ftyp":  # ISO media: HEIF pictures and MP4/MOV videos share the box
        size = int.from_bytes(head[:4], "big")
        brands = {head[8:12]} | {head[i:i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
        if brands & _AVIF_BRANDS:
            return "avif"
        return "heic" if brands & _HEIF_BRANDS else "video"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free") or head.startswith(b"\x1aE\xdf\xa3"):
        return "video"  # old QuickTime, Matroska / WebM
    if head.startswith(b"%PDF"):
        return "pdf"
    return "unknown"


def mime_type(path: str | os.PathLike[str]) -> str:
    """The real type from the file's first bytes, whatever its extension says."""
    with open(path, "rb") as fh:
        kind = sniff(fh.read(64))
    if kind not in _MIME:
        raise ValueError(f"{Path(path).name} is not a PNG, JPEG, WebP or GIF image")
    return _MIME[kind]
