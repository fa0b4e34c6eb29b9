"""The finished video: the chosen clip, caption and music in one MP4 (ffmpeg).

`compose_video(spec, out_path)` renders with one ffmpeg run:

- **Clip**: looped (`-stream_loop`) or trimmed (`-t`) to the target length,
  scaled to the frame (a small aspect difference is cropped away, a big one is
  letterboxed) unless it already has the target size.
- **Caption**: one sentence on screen at a time (the caption step writes each
  sentence as one caption screen). Each paragraph gets an equal share of the
  video; inside a paragraph a sentence's time is proportional to its length
  (with a floor, so a short line is not a flash). Sentences cross-fade quickly
  (0.15 s); the first is visible from the first frame (it makes the
  thumbnail), the last stays to the end. Lines are wrapped here with Pillow
  measuring the same font file ffmpeg draws with (balanced, at most three
  lines, the font shrinks a little before a fourth), centred, white with a dark
  outline and a soft shadow, inside the 9:16 safe area: the middle 80 % of the
  width and between 15 % and 70 % of the height (around the upper third), away
  from the bottom where TikTok, Reels and Shorts put their caption, buttons and
  progress bar, and from the right-hand icon column.
- **Audio**: the music with a short fade-in and fade-out, over the clip's own
  sound ducked by a fixed 15 dB (a quiet ambient bed: clips carry room tone,
  not speech, so a fixed duck sounds steadier than a side-chain that pumps),
  through a limiter. Without music the clip's own sound plays at full level;
  without either a silent track is added: a posted video always has audio.
- **Output**: H.264 (yuv420p) + AAC, `+faststart`, exactly the target length.
  If the file is over the size limit it is rendered again at a computed bitrate.

The text goes to ffmpeg through `textfile=` files (no escaping of the words)
with `expansion=none`, and the font through `fontfile=` with the shipped font:
nothing relies on fontconfig. Characters the font has no glyph for (emoji,
most non-Latin scripts) are removed from the burned-in text on purpose.

Modules: `spec` (ComposeSpec, ComposeResult, ComposeError), `captions`
(text cleaning, wrapping, placement and timing with Pillow), `graph` (the
ffmpeg filter graph), `inputs` (clip and music checks), `render`
(compose_video: the ffmpeg run and the size limit). Import from here.
"""

from engine.compose.captions import caption_timing, drawable_text, layout_caption, plan_captions, wrap_text
from engine.compose.inputs import check_clip, check_music
from engine.compose.render import compose_video
from engine.compose.spec import CaptionCue, ComposeError, ComposeResult, ComposeSpec

__all__ = [
    "CaptionCue",
    "ComposeError",
    "ComposeResult",
    "ComposeSpec",
    "caption_timing",
    "check_clip",
    "check_music",
    "compose_video",
    "drawable_text",
    "layout_caption",
    "plan_captions",
    "wrap_text",
]
