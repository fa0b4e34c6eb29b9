"""Real questions of the CC workflow, for the understanding tests: an offline
engine run is driven to every question (one generation at each media step),
and the questions whose options the offline writer makes up get fixed titles,
so that phrasings can name them."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from engine.api import Engine
from engine.presentation import generated_contents
from engine.protocol import InteractionRequest, MediaDisplay, SelectDisplay, SubActionRequest
from engine.providers.registry import offline_registry
from tests.players import play_first_choices

ROOT = Path(__file__).resolve().parents[2]
CC = ROOT / "workflows" / "cc"

SCENES = [("Little Explorer, Big Meadow", "A kitten finds the softest patch of clover in a sunny meadow."),
          ("Cozy Window Nap", "A sleepy kitten naps in the sun on the window seat."),
          ("Snow Day Zoomies", "The first snow turns a calm cat into a furry rocket.")]
MOTION = [("Steam from the teacup", "rising wisps"), ("Curtain", "gentle breeze ripple"),
          ("Candle flame", "soft flicker"), ("Falling snow", "slow drift")]
MUSIC = [("Cozy Window Waltz", "Acoustic folk with a gentle glockenspiel."),
         ("Velvet Paw Lullaby", "Hushed lo-fi jazz with a soft celesta."),
         ("Marshmallow Morning", "A nostalgic tune on warm felt piano."),
         ("Raindrop Reverie", "Playful pizzicato on a nylon-string guitar."),
         ("Sunlit Whiskers", "Serene piano and an airy alto flute.")]
FIXED = {"select_scene": SCENES, "select_motion_elements": MOTION, "select_music_option": MUSIC}


def _retitle(req: InteractionRequest, titles: list[tuple[str, str]]) -> InteractionRequest:
    """The request with its options' title and first shown field replaced."""
    from engine.presentation import item_rows, selectable_items, title_key

    disp = req.display_data
    assert isinstance(disp, SelectDisplay)
    data: Any = disp.model_copy(deep=True).data
    for (path, item, schema), (title, detail) in zip(selectable_items(data, disp.display_schema), titles,
                                                      strict=False):
        key = title_key(item, schema)
        item[key] = title
        rows = item_rows(item, schema, 300)
        first = next((r for r in rows if r.role == "subtitle"), rows[0] if rows else None)
        for name, value in list(item.items()):
            if first is not None and name != key and isinstance(value, str) and value.strip() == first.text:
                item[name] = detail
                break
    new = disp.model_copy(update={"data": data})
    return req.model_copy(update={"display_data": new})


MEDIA_STEPS = ("generate_and_select_images", "generate_and_select_videos", "generate_and_select_music")


async def _collect(folder: Path) -> dict[str, InteractionRequest]:
    engine = await Engine.open(db_path=folder / "db.sqlite", media_root=folder / "media", providers=offline_registry(),
                               workflow_dirs=[CC], poll_scale=0.01)
    seen: dict[str, InteractionRequest] = {}

    def keep(req: InteractionRequest) -> None:
        if isinstance(req.display_data, SelectDisplay):
            seen[req.module_name] = req

    try:
        run_id = (await engine.start_run("talk-tests")).run_id
        for stop in (*MEDIA_STEPS, "review_final_video"):
            await play_first_choices(engine, run_id, stop_at=stop, on_request=keep)
            req = (await engine.get_run(run_id)).pending
            assert req is not None and req.module_name == stop
            if isinstance(req.display_data, MediaDisplay):  # one generation, so that there is something to pick
                panel = next(p for p in req.display_data.panels if p.availability != "unavailable")
                await engine.start_sub_action(run_id, SubActionRequest(interaction_id=req.interaction_id,
                                                                       prompt_key=panel.prompt_key))
                await engine.wait_idle(run_id)
                req = (await engine.get_run(run_id)).pending
                assert req is not None and generated_contents(req.display_data)  # type: ignore[arg-type]
            seen[stop] = req
    finally:
        await engine.close()
    for name, titles in FIXED.items():
        seen[name] = _retitle(seen[name], titles)
    return seen


def cc_questions() -> dict[str, InteractionRequest]:
    """Every question of a CC run, by module name (a fresh offline run, ~3 s)."""
    with tempfile.TemporaryDirectory(prefix="ccbot-talk-") as folder:
        return asyncio.run(_collect(Path(folder)))
