"""Leonardo.ai: images (txt2img) and image-to-video (Motion 2.0, Veo 3.1).

Both follow Leonardo's job shape: a create call returns a generationId,
`GET /generations/{id}` reports PENDING|COMPLETE|FAILED, and the finished
files are public CDN URLs downloaded into the run's media folder.

- `common`: the authenticated client, Leonardo's error rules, the job shape;
- `images`: LeonardoImages (Phoenix);
- `video`: LeonardoVideo;
- `video_options`: the video models' rules (model aliases, length,
  resolution, motion strength folded into the prompt);
- `upload`: the video's start frame (a Leonardo image id or an init-image upload).

List prices and Leonardo's reported cost are read in `engine.providers.costs`
(the one price table).
"""

from engine.providers.leonardo.common import DEFAULT_BASE_URL, PROVIDER, leonardo_error_hook
from engine.providers.leonardo.images import LeonardoImages
from engine.providers.leonardo.video import LeonardoVideo
from engine.providers.leonardo.video_options import fold_motion, motion_phrase

__all__ = [
    "DEFAULT_BASE_URL",
    "PROVIDER",
    "LeonardoImages",
    "LeonardoVideo",
    "fold_motion",
    "leonardo_error_hook",
    "motion_phrase",
]
