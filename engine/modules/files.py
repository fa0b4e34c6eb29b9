"""A file from the person, and pictures fitted to the video's frame.

`user.file` asks for a file (a `file_input` question). The front end fetches
what the person sent to a local path and answers with it (`InteractionResponse.file`);
the module checks the bytes (`engine.media.photos`), keeps an upright JPEG copy
in the run's own folder and nowhere else, and outputs `file` = {local_path,
width, height, format, size_bytes, caption, original_width, original_height}
(None when skipped) and `skipped`. A refusal is an `InvalidResponse` with the
reason for the person; it writes nothing and calls no provider.

`media.fit` (no question) writes variants of a picture at an exact size, each
`cover` (trimmed to fill the frame) or `contain` (all of it, padded with a
blurred copy of itself), and outputs them as `frames` (a list) and `by_id`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from engine.definitions import ModuleDef
from engine.media.images import afit_image, in_image_worker
from engine.media.photos import KIND_NAMES, PhotoRefused, normalise_photo
from engine.modules.base import InvalidResponse, Module, ModuleContext, ModuleFailure, RequestSpec, require_inputs
from engine.protocol import FileInputDisplay, InteractionResponse, InteractionType

CAPTION_LIMIT = 500
DEFAULT_ACCEPT = ["jpeg", "png", "webp", "heic"]
FIT_MODES = ("cover", "contain")
BROKEN = "This step of the workflow is broken; the operator has been told."


def _int(value: Any, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _path_of(value: Any) -> Path | None:
    if isinstance(value, dict):
        value = value.get("local_path") or value.get("path")
    return Path(value) if isinstance(value, str) and value.strip() else None


class FileInputModule(Module):
    module_id = "user.file"
    interactive = True
    id_prefix = "file"

    def check_config(self, module: ModuleDef) -> list[str]:
        accept = module.inputs.get("accept", DEFAULT_ACCEPT)
        unknown = [k for k in accept if k not in KIND_NAMES or k in ("gif", "avif")] if isinstance(accept, list) \
            else [accept]
        return [f"accept: unknown kind(s) {unknown} (use {sorted(set(KIND_NAMES) - {'gif', 'avif'})})"] \
            if unknown else []

    def build_request(self, inputs: dict[str, Any], ctx: ModuleContext) -> RequestSpec:
        prompt = str(inputs.get("prompt") or "Send a file")
        display = FileInputDisplay(
            prompt=prompt,
            accept=list(inputs.get("accept") or DEFAULT_ACCEPT),
            max_bytes=_int(inputs.get("max_bytes"), 20 * 1024 * 1024),
            min_short_side=_int(inputs.get("min_short_side"), 512),
            allow_skip=str(inputs.get("allow_skip", True)).lower() not in ("false", "0", "no"),
            skip_label=str(inputs.get("skip_label") or "Skip"),
        )
        return RequestSpec(InteractionType.FILE_INPUT, str(inputs.get("title") or prompt), display)

    async def handle_response(
        self, inputs: dict[str, Any], response: InteractionResponse, ctx: ModuleContext
    ) -> dict[str, Any]:
        display = FileInputDisplay.model_validate(
            ((ctx.current_interaction or {}).get("request") or {}).get("display_data") or {"prompt": ""})
        answer = response.file
        if answer is None:
            if not display.allow_skip:
                raise InvalidResponse("a file is needed here")
            return {"file": None, "skipped": True}
        source = Path(answer.path)
        if not source.is_file():
            raise InvalidResponse("the file did not arrive: please send it again")
        folder = ctx.run_dir / "photo"  # the run's own folder: deleted with the run's data, never shared
        try:
            stored = await in_image_worker(normalise_photo, source, folder, accept=display.accept,
                                           max_bytes=display.max_bytes, min_short_side=display.min_short_side,
                                           max_side=_int(inputs.get("max_side"), 2048))
        except PhotoRefused as exc:
            raise InvalidResponse(str(exc)) from None
        caption = " ".join((answer.caption or "").split())[:CAPTION_LIMIT]
        return {"file": {**stored, "caption": caption}, "skipped": False}


class FitImageModule(Module):
    """`media.fit`: a picture at an exact size, in one or more ways (`variants`)."""

    module_id = "media.fit"

    def check_config(self, module: ModuleDef) -> list[str]:
        problems = require_inputs(module, "image", "width", "height", "variants")
        variants = module.inputs.get("variants")
        if isinstance(variants, list):
            for variant in variants:
                if not isinstance(variant, dict) or not variant.get("id") or variant.get("mode") not in FIT_MODES:
                    problems.append(f"each variant needs an id and a mode ({' or '.join(FIT_MODES)})")
                    break
        return problems

    async def execute(self, inputs: dict[str, Any], ctx: ModuleContext) -> dict[str, Any]:
        source = _path_of(inputs.get("image"))
        if source is None or not source.is_file():
            raise ModuleFailure("The picture to fit is missing. Please go back and send it again.", retryable=False,
                                detail="media.fit: no image file")
        width, height = _int(inputs.get("width"), 0), _int(inputs.get("height"), 0)
        if width < 16 or height < 16:
            raise ModuleFailure(BROKEN, retryable=False, detail=f"media.fit: size {width}x{height}")
        key = hashlib.sha256(f"{source}:{width}x{height}".encode()).hexdigest()[:10]
        frames = []
        for variant in inputs.get("variants") or []:
            mode = variant.get("mode")
            if mode not in FIT_MODES:
                raise ModuleFailure(BROKEN, retryable=False, detail=f"media.fit: mode {mode!r}")
            dest = ctx.run_dir / "photo" / f"frame_{variant['id']}_{key}.jpg"
            if not dest.is_file():  # the same fit again (a retry, a restart) is the same file
                await afit_image(source, width, height, dest, mode=mode)
            frames.append({**{k: v for k, v in variant.items() if k != "mode"}, "fit": mode,
                           "local_path": str(dest), "width": width, "height": height})
        return {"frames": frames, "by_id": {f["id"]: f for f in frames}}
