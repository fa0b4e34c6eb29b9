"""Offline stand-ins for every provider: no network, no key, real output.

Used whenever a provider has no API key, in all tests and in `make demo`.

* `OfflineLLM` (llm.py) fills any JSON schema with schema-valid text that reads
  like a cozy pet channel's writer wrote it. The schema walk (writer.py) is
  generic; what a property says is data: `generic.json` here, plus the
  workflow's own `config.offline_writer` passed as `LLMRequest.hints`
  (writer_data.py merges them; rules.py matches, templates.py fills;
  context.py reads the request; pets.py and `pets.json` give the grammar).
  Same messages -> same answer; feedback -> a new answer.
* The media providers (pictures.py: PNGs drawn with Pillow; media.py: MP4 and
  MP3 rendered with ffmpeg) follow the durable job shape of `base.py`
  (jobs.py) with no in-memory state: everything fetch() needs travels in
  `provider_data`, and the output files are named after the job id, so a
  restarted process can poll and fetch, and a second fetch returns the files
  already on disk.
"""

from engine.providers.offline.llm import OFFLINE_MODEL, OfflineLLM
from engine.providers.offline.media import OfflineMusicProvider, OfflineVideoProvider
from engine.providers.offline.pets import Pet, detect_pet
from engine.providers.offline.pictures import OfflineImageProvider, draw_pet_scene

__all__ = [
    "OFFLINE_MODEL",
    "OfflineImageProvider",
    "OfflineLLM",
    "OfflineMusicProvider",
    "OfflineVideoProvider",
    "Pet",
    "detect_pet",
    "draw_pet_scene",
]
