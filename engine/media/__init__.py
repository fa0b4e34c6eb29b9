"""Media helpers: ffmpeg (engine.media.ffmpeg), images (engine.media.images), fonts.

The caption font ships with the package because a slim machine may have no
fonts at all; always pass this path to ffmpeg/Pillow, never a font name.
"""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
FONTS_DIR = ASSETS_DIR / "fonts"

# Fredoka One (SIL OFL 1.1, licence in OFL.txt beside it): rounded and friendly.
CAPTION_FONT: Path = FONTS_DIR / "FredokaOne-Regular.ttf"

__all__ = ["ASSETS_DIR", "CAPTION_FONT", "FONTS_DIR"]
