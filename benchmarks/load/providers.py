"""The fake OpenAI, Leonardo and ElevenLabs servers in a process of their own.

    python -m benchmarks.load.providers --seed 1 --delay 1,3

Prints one JSON line with the three base URLs once they listen (after the
media are made), serves until stdin closes or a line arrives, then prints one
JSON line of counts (requests, and answers that were not 2xx).

The fakes keep every request check of tests/fakes (a wrong field is still
refused); on top of that each piece of work takes a seeded random 1-3 s (an
LLM answer, an image request, a clip job, a song), the files are of realistic
size (benchmarks/load/media.py), and the fakes' own CPU work (base64 and JSON
of the images, writing the LLM answers) runs in threads, off their event loop.
Being a separate process, none of this takes time from the bot's process or
from the fake Telegram server's loop (beyond sharing the machine's cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from collections import Counter
from typing import Any

KEYS = {"openai": "sk-bench-openai-0001", "leonardo": "leo-bench-0002", "elevenlabs": "xi-bench-0003"}


def _answer_in_thread() -> Any:
    from tests.players import offline_answer

    def write(body: dict[str, Any]) -> str:
        return asyncio.run(offline_answer(body))

    async def answer(body: dict[str, Any]) -> str:
        return await asyncio.to_thread(write, body)

    return answer


async def serve(seed: int, low: float, high: float) -> None:
    from benchmarks.load.media import make_media
    from tests.fakes.elevenlabs_server import FakeElevenLabs
    from tests.fakes.leonardo_server import FakeLeonardo
    from tests.fakes.openai_server import FakeOpenAI

    media = await asyncio.to_thread(make_media)
    rng = random.Random(seed)
    delays: list[tuple[str, float]] = []

    def delay(kind: str) -> float:
        seconds = rng.uniform(low, high)
        delays.append((kind, seconds))
        return seconds

    openai = FakeOpenAI(api_key=KEYS["openai"])
    openai.answer_with = _answer_in_thread()
    fakes = {"openai": openai, "leonardo": FakeLeonardo(api_key=KEYS["leonardo"]),
             "elevenlabs": FakeElevenLabs(api_key=KEYS["elevenlabs"])}
    for fake in fakes.values():
        fake.work_delay, fake.media, fake.offload, fake.keep_bodies = delay, media, True, False
        await fake.start()
    print(json.dumps({name: fake.base_url for name, fake in fakes.items()} | {"media": media.sizes()}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    counts: dict[str, Any] = {}
    for name, fake in fakes.items():
        counts[name] = {"requests": len(fake.requests),
                        "not_2xx": sum(1 for r in fake.requests if not 200 <= r.status < 300),
                        "statuses": dict(Counter(r.status for r in fake.requests))}
        await fake.stop()
    counts["work"] = dict(Counter(kind for kind, _ in delays))
    print(json.dumps(counts), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--delay", default="1,3", help="seconds each piece of work takes: low,high")
    args = parser.parse_args()
    low, high = (float(x) for x in args.delay.split(","))
    asyncio.run(serve(args.seed, low, high))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
