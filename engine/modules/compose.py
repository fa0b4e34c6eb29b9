"""`media.compose`: the finished video from the picked clip, caption and music.

Non-interactive. Each run writes a new `final_<id>.mp4` in the run's folder
(an earlier render, e.g. before a jump back to change the music, stays where
it is). The file is written under a temporary name and renamed when complete,
so a render cut short by a crash never counts: after a restart the engine
runs the module again, which is free and deterministic.

A missing or broken clip fails with a clear message (no way round it). Missing
or broken music, or a missing caption, fails too, but offers to finish without
it: the module's next run gets `ctx.recovery_option`.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.compose import ComposeError, ComposeSpec, compose_video, drawable_text
from engine.definitions import ModuleDef
from engine.ids import new_id
from engine.modules.base import Module, ModuleContext, ModuleFailure, require_inputs
from engine.store import NewEvent

log = logging.getLogger(__name__)

WITHOUT_MUSIC = {"id": "without_music", "label": "Finish without music"}
WITHOUT_TEXT = {"id": "without_text", "label": "Finish without caption"}
WITHOUT_BOTH = {"id": "without_music_and_text", "label": "Finish without music and caption"}


def _path_of(value: Any) -> Path | None:
    """A content dict (`local_path`) or a plain path; None when there is none."""
    if isinstance(value, dict):
        value = value.get("local_path") or value.get("path")
    if isinstance(value, Path):
        return value
    if isinstance(value, str) and value.strip():
        return Path(value.strip())
    return None


def overlay_paragraphs(overlay: Any) -> list[list[str]]:
    """The text set's paragraphs as lists of sentences. Accepts the step 6 text
    set ({paragraphs: [{sentences: [...]}]}), a list of paragraphs, a list of
    sentences or one string."""
    if overlay is None:
        return []
    if isinstance(overlay, str):
        return [[overlay]] if overlay.strip() else []
    if isinstance(overlay, dict):
        overlay = overlay.get("paragraphs") or ([overlay] if "sentences" in overlay else [])
    paragraphs: list[list[str]] = []
    if isinstance(overlay, list):
        if all(isinstance(p, str) for p in overlay):
            overlay = [overlay]
        for paragraph in overlay:
            sentences = paragraph.get("sentences") if isinstance(paragraph, dict) else paragraph
            if isinstance(sentences, str):
                sentences = [sentences]
            if isinstance(sentences, list):
                clean = [str(s).strip() for s in sentences if isinstance(s, (str, int, float)) and str(s).strip()]
                if clean:
                    paragraphs.append(clean)
    return paragraphs


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _remove_stale_parts(folder: Path) -> None:
    # A render killed mid-way leaves its temp file; the run's lock means no other render is live here.
    for part in folder.glob(".final_*.part.mp4"):
        part.unlink(missing_ok=True)


class ComposeModule(Module):
    module_id = "media.compose"
    background = True  # a render takes seconds to minutes: queued, off the person's tap

    def check_config(self, module: ModuleDef) -> list[str]:
        return require_inputs(module, "video", "duration_s")

    async def execute(self, inputs: dict[str, Any], ctx: ModuleContext) -> dict[str, Any]:
        recovery = ctx.recovery_option or ""
        skip_music = recovery in (WITHOUT_MUSIC["id"], WITHOUT_BOTH["id"])
        skip_text = recovery in (WITHOUT_TEXT["id"], WITHOUT_BOTH["id"])

        clip = _path_of(inputs.get("video"))
        if clip is None:
            raise ModuleFailure("No video clip was chosen, so there is nothing to put together.", retryable=False)
        duration = _number(inputs.get("duration_s"))
        if duration is None:
            raise ModuleFailure("The video length is missing, so the video cannot be put together.",
                                retryable=False, detail=f"duration_s={inputs.get('duration_s')!r}")
        width = int(_number(inputs.get("width")) or 720)
        height = int(_number(inputs.get("height")) or 1280)
        music = None if skip_music else _path_of(inputs.get("music"))
        paragraphs = [] if skip_text else overlay_paragraphs(inputs.get("overlay"))

        missing_music = music is None and not skip_music
        missing_text = not skip_text and not any(drawable_text(s) for p in paragraphs for s in p)
        if missing_music or missing_text:
            if missing_music and missing_text:
                message, what, option = "No music and no caption were chosen", "music and caption", WITHOUT_BOTH
            elif missing_music:
                message, what, option = "No music was chosen", "music", WITHOUT_MUSIC
            else:
                message, what, option = "No caption was chosen", "a caption", WITHOUT_TEXT
            raise ModuleFailure(f"{message} for the video. You can finish it without {what}.", options=[option])

        try:
            spec = ComposeSpec(
                clip_path=clip,
                music_path=music,
                overlay=paragraphs or None,
                duration_s=duration,
                width=width,
                height=height,
                title=str(inputs.get("title") or ""),
            )
        except ValidationError as exc:
            raise ModuleFailure("The video settings are out of range, so the video cannot be put together.",
                                retryable=False, detail=str(exc)[:500]) from None
        folder = ctx.run_dir
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(_remove_stale_parts, folder)
        out_path = folder / f"{new_id('final')}.mp4"

        last = -10.0

        async def report(percent: float) -> None:
            nonlocal last
            if ctx.progress is not None and (percent - last >= 5 or percent >= 100):
                last = percent
                await ctx.progress(round(percent, 1), "Putting your video together")

        if ctx.progress is not None:
            await ctx.progress(0.0, "Putting your video together")
        try:
            result = await compose_video(spec, out_path, progress=report)
        except ComposeError as exc:
            raise self._failure(exc, skip_text) from exc
        except OSError as exc:  # a full disk, a folder that cannot be written
            raise ModuleFailure("The video could not be saved; please try again.", detail=repr(exc)) from exc
        log.info("composed %s (%.1f s, %d bytes) in %.1f s", result.path, result.duration_s,
                 result.size_bytes, result.elapsed_s)
        ctx.emitted.append(NewEvent(
            "file_ready",
            {"path": str(result.path), "filename": result.path.name, "format": "video", "kind": "final_video"},
            ctx.step_id,
            ctx.module.name,
        ))
        final = {
            "local_path": str(result.path),
            "duration_s": result.duration_s,
            "width": result.width,
            "height": result.height,
            "size_bytes": result.size_bytes,
            "has_music": result.has_music,
            "has_text": result.has_text,
        }
        return {"final_video": final, "final_video_path": str(result.path)}

    @staticmethod
    def _failure(exc: ComposeError, skip_text: bool) -> ModuleFailure:
        detail = f"{exc}: {exc.detail}"
        if exc.part == "music":
            option = WITHOUT_BOTH if skip_text else WITHOUT_MUSIC
            return ModuleFailure(f"{exc} You can try again, or finish the video without music.",
                                 options=[option], detail=detail)
        if exc.part == "text":
            return ModuleFailure(str(exc), options=[WITHOUT_TEXT], detail=detail)
        return ModuleFailure(str(exc), detail=detail)  # the clip or the render: nothing to leave out
