"""Pictures: a cute pet in a cozy room, drawn with Pillow, and the txt2img stand-in."""

from __future__ import annotations

import asyncio
import math
import random
import re
import weakref
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from engine.media import CAPTION_FONT
from engine.media.images import image_size, in_image_worker, save_atomic
from engine.providers.base import FetchedFile, GenerationRequest, ProviderError
from engine.providers.offline.jobs import OfflineJobs, dimensions, number
from engine.providers.offline.pets import detect_pet
from engine.providers.offline.seeds import stable_seed
from engine.providers.offline.text import SMALL_WORDS


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    img = Image.new("HSV", (1, 1), (int(h % 1 * 255), int(s * 255), int(v * 255)))
    return img.convert("RGB").getpixel((0, 0))  # type: ignore[return-value]


def _heart(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, fill: tuple[int, ...]) -> None:
    draw.ellipse((cx - r, cy - r * 0.6, cx, cy + r * 0.4), fill=fill)
    draw.ellipse((cx, cy - r * 0.6, cx + r, cy + r * 0.4), fill=fill)
    draw.polygon([(cx - r * 0.97, cy), (cx + r * 0.97, cy), (cx, cy + r * 1.1)], fill=fill)


Coat = tuple[tuple[int, int, int], tuple[int, int, int]]  # fur, darker outline/ears

# Coats by the words a prompt may use, so "a grey kitten" is drawn grey.
_CAT_COATS: dict[str, Coat] = {
    "ginger": ((240, 165, 90), (190, 110, 50)), "grey": ((170, 170, 180), (110, 110, 125)),
    "cream": ((245, 230, 205), (200, 170, 140)), "black": ((60, 60, 66), (30, 30, 34)),
}
_DOG_COATS: dict[str, Coat] = {
    "golden": ((225, 175, 95), (170, 110, 50)), "cream": ((245, 235, 215), (205, 175, 135)),
    "brown": ((185, 125, 80), (110, 70, 45)), "corgi": ((235, 200, 150), (150, 95, 60)),
}
_COAT_WORDS = {"orange": "ginger", "tabby": "ginger", "gray": "grey", "white": "cream", "tuxedo": "black",
               "retriever": "golden", "beagle": "brown", "chocolate": "brown", "pomeranian": "cream"}


def _coat(coats: dict[str, Coat], prompt: str, rng: random.Random) -> Coat:
    for word in re.findall(r"[a-z]+", prompt.lower()):
        name = _COAT_WORDS.get(word, word)
        if name in coats:
            return coats[name]
    return rng.choice(list(coats.values()))


def _draw_cat(draw: ImageDraw.ImageDraw, cx: float, by: float, u: float, rng: random.Random, prompt: str) -> None:
    fur, dark = _coat(_CAT_COATS, prompt, rng)
    line = max(1, int(u * 0.05))
    hy = by - 1.45 * u
    draw.arc((cx + 0.2 * u, by - 1.0 * u, cx + 1.3 * u, by + 0.1 * u), 180, 330, fill=dark, width=int(u * 0.22))
    draw.ellipse((cx - 0.75 * u, by - 1.15 * u, cx + 0.75 * u, by + 0.05 * u), fill=fur, outline=dark, width=line)
    for side in (-1, 1):  # ears before the head so the head covers their base
        outer = [(cx + side * 0.58 * u, hy - 0.15 * u), (cx + side * 0.5 * u, hy - 0.95 * u),
                 (cx + side * 0.08 * u, hy - 0.52 * u)]
        inner = [(cx + side * 0.48 * u, hy - 0.25 * u), (cx + side * 0.45 * u, hy - 0.75 * u),
                 (cx + side * 0.2 * u, hy - 0.5 * u)]
        draw.polygon(outer, fill=fur, outline=dark)
        draw.polygon(inner, fill=(245, 170, 180))
    draw.ellipse((cx - 0.62 * u, hy - 0.6 * u, cx + 0.62 * u, hy + 0.5 * u), fill=fur, outline=dark, width=line)
    _face(draw, cx, hy, u, rng, nose=(235, 130, 150))
    for side in (-1, 1):
        for k in (-1, 0, 1):
            draw.line((cx + side * 0.18 * u, hy + 0.16 * u + k * 0.05 * u,
                       cx + side * 0.85 * u, hy + 0.08 * u + k * 0.14 * u), fill=(80, 70, 70), width=max(1, line // 2))


def _draw_dog(draw: ImageDraw.ImageDraw, cx: float, by: float, u: float, rng: random.Random, prompt: str) -> None:
    fur, ear = _coat(_DOG_COATS, prompt, rng)
    line = max(1, int(u * 0.05))
    hy = by - 1.45 * u
    draw.ellipse((cx - 0.8 * u, by - 1.15 * u, cx + 0.8 * u, by + 0.05 * u), fill=fur, outline=ear, width=line)
    draw.ellipse((cx - 0.65 * u, hy - 0.62 * u, cx + 0.65 * u, hy + 0.55 * u), fill=fur, outline=ear, width=line)
    for side in (-1, 1):  # floppy ears hang over the sides of the head
        x0, x1 = sorted((cx + side * 0.42 * u, cx + side * 0.85 * u))
        draw.ellipse((x0, hy - 0.55 * u, x1, hy + 0.45 * u), fill=ear)
    draw.ellipse((cx - 0.32 * u, hy + 0.0 * u, cx + 0.32 * u, hy + 0.45 * u), fill=(250, 240, 228))
    _face(draw, cx, hy, u, rng, nose=(45, 35, 35))
    draw.ellipse((cx - 0.09 * u, hy + 0.3 * u, cx + 0.09 * u, hy + 0.5 * u), fill=(240, 120, 140))  # tongue


def _face(
    draw: ImageDraw.ImageDraw, cx: float, hy: float, u: float, rng: random.Random, *, nose: tuple[int, int, int]
) -> None:
    eye = (40, 35, 40)
    width = max(1, int(u * 0.06))
    closed = rng.random() < 0.4  # a happy squint or big round eyes
    for side in (-1, 1):
        ex = cx + side * 0.27 * u
        if closed:
            draw.arc((ex - 0.14 * u, hy - 0.2 * u, ex + 0.14 * u, hy + 0.02 * u), 200, 340, fill=eye, width=width)
        else:
            draw.ellipse((ex - 0.1 * u, hy - 0.2 * u, ex + 0.1 * u, hy + 0.02 * u), fill=eye)
            draw.ellipse((ex - 0.04 * u, hy - 0.17 * u, ex + 0.01 * u, hy - 0.11 * u), fill=(255, 255, 255))
        draw.ellipse((ex - 0.16 * u + side * 0.08 * u, hy + 0.05 * u, ex + 0.1 * u + side * 0.08 * u, hy + 0.2 * u),
                     fill=(250, 170, 175))
    draw.polygon([(cx - 0.08 * u, hy + 0.08 * u), (cx + 0.08 * u, hy + 0.08 * u), (cx, hy + 0.17 * u)], fill=nose)
    draw.arc((cx - 0.14 * u, hy + 0.1 * u, cx, hy + 0.26 * u), 20, 160, fill=eye, width=max(1, width // 2))
    draw.arc((cx, hy + 0.1 * u, cx + 0.14 * u, hy + 0.26 * u), 20, 160, fill=eye, width=max(1, width // 2))


def draw_pet_scene(width: int, height: int, prompt: str, seed: int) -> Image.Image:
    """A soft, recognisable placeholder: gradient room, window light, cushion, pet(s), caption."""
    rng = random.Random(seed)
    scale = 2 if max(width, height) <= 1600 else 1  # draw big, shrink: cheap antialiasing
    w, h = width * scale, height * scale
    hue = (stable_seed(prompt) % 1000) / 1000  # the palette follows the prompt
    top, bottom = _hsv(hue, 0.22, 0.98), _hsv(hue + 0.07, 0.35, 0.86)
    mask = Image.linear_gradient("L").resize((w, h))
    canvas = Image.composite(Image.new("RGB", (w, h), bottom), Image.new("RGB", (w, h), top), mask).convert("RGBA")
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)

    floor_y = h * 0.7
    draw.rectangle((0, floor_y, w, h), fill=(*_hsv(hue + 0.05, 0.3, 0.78), 255))
    left = rng.random() < 0.5
    wx0 = w * (0.08 if left else 0.52)
    wy0, ww, wh = h * 0.1, w * 0.4, h * 0.3
    draw.polygon([(wx0, wy0 + wh), (wx0 + ww, wy0 + wh), (wx0 + ww * 1.6 - (0 if left else ww), floor_y + h * 0.15),
                  (wx0 - ww * 0.2 - (0 if left else ww * 0.3), floor_y + h * 0.15)], fill=(255, 244, 205, 70))
    draw.rounded_rectangle((wx0, wy0, wx0 + ww, wy0 + wh), radius=w * 0.02, fill=(205, 230, 250, 255),
                           outline=(255, 255, 255, 255), width=int(w * 0.018))
    draw.line((wx0 + ww / 2, wy0, wx0 + ww / 2, wy0 + wh), fill=(255, 255, 255, 255), width=int(w * 0.012))
    draw.line((wx0, wy0 + wh / 2, wx0 + ww, wy0 + wh / 2), fill=(255, 255, 255, 255), width=int(w * 0.012))
    # a plant on the other side of the room
    px = w * (0.82 if left else 0.18)
    draw.polygon([(px - w * 0.06, floor_y - h * 0.02), (px + w * 0.06, floor_y - h * 0.02),
                  (px + w * 0.045, floor_y + h * 0.05), (px - w * 0.045, floor_y + h * 0.05)], fill=(200, 120, 90, 255))
    for k in range(5):
        angle = math.radians(-150 + k * 30)
        lx, ly = px + math.cos(angle) * w * 0.07, floor_y - h * 0.05 + math.sin(angle) * h * 0.05
        draw.ellipse((lx - w * 0.035, ly - h * 0.03, lx + w * 0.035, ly + h * 0.03), fill=(110, 165, 110, 255))

    u = min(w * 0.19, h * 0.12)
    cx, by = w * (0.5 + rng.uniform(-0.04, 0.04)), h * 0.8
    draw.ellipse((cx - 2.0 * u, by - 0.3 * u, cx + 2.0 * u, by + 0.5 * u), fill=(*_hsv(hue + 0.5, 0.3, 0.92), 255))
    pet = detect_pet(prompt)
    if pet.kind == "both":
        # "a grey kitten and a corgi puppy": each animal takes the words that follow its own noun
        cut = min((m.start() for m in re.finditer(r"pupp|dog", prompt.lower())), default=len(prompt))
        _draw_cat(draw, cx - 0.95 * u, by, u * 0.8, rng, prompt[:cut])
        _draw_dog(draw, cx + 0.95 * u, by, u * 0.85, rng, prompt[cut:] or prompt)
    elif pet.kind == "dog":
        _draw_dog(draw, cx, by, u, rng, prompt)
    else:
        _draw_cat(draw, cx, by, u, rng, prompt)
    for _ in range(rng.randint(2, 4)):
        _heart(draw, rng.uniform(w * 0.15, w * 0.85), rng.uniform(h * 0.42, h * 0.58), u * rng.uniform(0.12, 0.22),
               (255, 140, 160, 170))

    kept = prompt.replace(",", " ").split()[:5]
    while len(kept) > 1 and kept[-1].lower() in SMALL_WORDS:  # "a grey kitten and a" reads cut off
        kept.pop()
    words = " ".join(kept) or "a cozy moment"
    font = ImageFont.truetype(str(CAPTION_FONT), max(10, int(min(w, h * 0.5625) / 20)))
    box = draw.textbbox((0, 0), words, font=font)
    while box[2] - box[0] > w * 0.86 and " " in words:
        words = words.rsplit(" ", 1)[0]
        box = draw.textbbox((0, 0), words, font=font)
    tw, th = box[2] - box[0], box[3] - box[1]
    ty = h * 0.93 - th / 2
    pad = w * 0.03
    draw.rounded_rectangle(((w - tw) / 2 - pad, ty - pad * 0.7, (w + tw) / 2 + pad, ty + th + pad * 0.9),
                           radius=pad, fill=(255, 255, 255, 180))
    draw.text(((w - tw) / 2 - box[0], ty - box[1]), words, font=font, fill=(90, 70, 80, 255))

    out = Image.alpha_composite(canvas, layer).convert("RGB")
    return out.resize((width, height), Image.Resampling.LANCZOS) if scale != 1 else out


def image_notes(paths: list[str]) -> list[str]:
    """What a picture tells the offline writer, so analysis can "see" it: an offline-made PNG
    its prompt; any other picture (a person's own photo) the colours in its middle."""
    notes: list[str] = []
    for path in paths:
        try:
            with Image.open(path) as img:
                info = getattr(img, "text", {}) or {}
                if info.get("prompt"):
                    notes.append(f"Image prompt: {info['prompt']}")
                elif colours := colour_words(img):
                    notes.append(f"**Photo colours:** {', '.join(colours)}")
        except (OSError, ValueError):
            continue
    return notes


_COLOURS = {"ginger": (214, 128, 58), "cream": (236, 222, 196), "white": (246, 246, 244), "grey": (142, 142, 148),
            "black": (34, 34, 38), "brown": (116, 78, 50), "golden": (212, 168, 88)}


def colour_words(img: Image.Image, most: int = 2) -> list[str]:
    """The coat-like colour names of the middle of a picture, the largest area first."""
    small = img.convert("RGB").resize((48, 48))
    w, h = small.size
    middle = small.crop((w // 4, h // 4, w * 3 // 4, h * 3 // 4))
    counts: dict[str, int] = {}
    for count, pixel in middle.getcolors(w * h) or []:
        name = min(_COLOURS, key=lambda n: sum((a - b) ** 2 for a, b in zip(_COLOURS[n], pixel, strict=True)))
        counts[name] = counts.get(name, 0) + count
    ranked = sorted(counts, key=lambda n: -counts[n])
    total = sum(counts.values()) or 1
    return [n for n in ranked[:most] if counts[n] * 5 >= total or n == ranked[0]]


# One picture drawn at a time per process: each canvas takes ~90 MB while it is
# drawn (2x supersampled), and drawing holds the GIL in long C calls, so many at
# once inflate the bot's memory and stall its event loop. Per event loop, like
# any asyncio.Semaphore.
_DRAW_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


async def draw_scene(dest: Path, width: int, height: int, prompt: str, seed: int, job_id: str,
                     photo: str | None = None) -> tuple[int, int]:
    loop = asyncio.get_running_loop()
    slot = _DRAW_SLOTS.get(loop)
    if slot is None:
        slot = _DRAW_SLOTS[loop] = asyncio.Semaphore(1)
    async with slot:
        return await in_image_worker(_write_scene_png, dest, width, height, prompt, seed, job_id, photo)


def with_photo(scene: Image.Image, photo: str) -> Image.Image:
    """img2img offline: the person's own pet, framed in the middle of the drawn room."""
    with Image.open(photo) as opened:
        picture = opened.convert("RGB")
    box_w, box_h = int(scene.width * 0.8), int(scene.height * 0.6)
    picture.thumbnail((box_w, box_h), Image.Resampling.LANCZOS)
    border = max(4, scene.width // 60)
    framed = Image.new("RGB", (picture.width + 2 * border, picture.height + 2 * border), (255, 252, 245))
    framed.paste(picture, (border, border))
    out = scene.copy()
    out.paste(framed, ((scene.width - framed.width) // 2, int(scene.height * 0.42 - framed.height / 2)))
    return out


def _write_scene_png(dest: Path, width: int, height: int, prompt: str, seed: int, job_id: str,
                     photo: str | None = None) -> tuple[int, int]:
    img = draw_pet_scene(width, height, prompt, seed)
    if photo:
        img = with_photo(img, photo)
    meta = PngImagePlugin.PngInfo()
    meta.add_text("prompt", prompt[:2000])  # lets OfflineLLM "see" what the picture shows
    meta.add_text("generator", f"ccbot offline ({job_id})")
    save_atomic(img, dest, pnginfo=meta)
    return img.size


class OfflineImageProvider(OfflineJobs):
    """txt2img: PNG pictures of a cute pet in a cozy room, drawn with Pillow; img2img: the same
    room with the person's own photo in it."""

    actions = frozenset({"txt2img", "img2img"})

    def validate(self, request: GenerationRequest) -> None:
        super().validate(request)
        if request.action_type == "img2img" and not (request.source_image_path
                                                    and Path(request.source_image_path).is_file()):
            raise ProviderError("The photo to start from is missing; please send it again.",
                                kind="invalid_request", provider=self.name)

    async def _produce(self, job_id: str, request: GenerationRequest, out_dir: Path) -> list[FetchedFile]:
        params = request.params
        width, height = dimensions(params)
        raw_count = next((params[k] for k in ("n", "num_images", "images") if params.get(k) not in (None, "")), 2)
        count = int(min(4, max(1, number(raw_count) or 2)))
        files: list[FetchedFile] = []
        for i in range(count):
            dest = out_dir / f"{job_id}_{i}.png"
            if dest.exists():  # an earlier fetch finished this one
                w, h = await asyncio.to_thread(image_size, dest)
            else:
                photo = request.source_image_path if request.action_type == "img2img" else None
                w, h = await draw_scene(dest, width, height, request.prompt, stable_seed(job_id, i), job_id, photo)
            files.append(FetchedFile(local_path=str(dest.resolve()), media_type="image",
                                     provider_item_id=f"{job_id}_{i}", width=w, height=h))
        return files
