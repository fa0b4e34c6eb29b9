"""Non-interactive data modules: templates, files, keyword history, extract."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any

from engine.definitions import ModuleDef
from engine.modules.base import Module, ModuleContext, ModuleFailure, require_inputs
from engine.store import NewEvent
from engine.templating import Where

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class RenderTemplateModule(Module):
    """`io.render_template`: renders `template` over the run state."""

    module_id = "io.render_template"

    def check_config(self, module: ModuleDef) -> list[str]:
        return require_inputs(module, "template")

    async def execute(self, inputs: dict[str, Any], ctx: ModuleContext) -> dict[str, Any]:
        template = inputs.get("template")
        if not isinstance(template, str):
            raise ModuleFailure("The summary template is missing.", retryable=False)
        where = Where(ctx.step_id, ctx.module.name, "template")
        rendered = ctx.templates.render_text(template, ctx.template_context(), where)
        return {"rendered": rendered}


def write_atomic(path: Path, content: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, path)


class ClientWriteModule(Module):
    """`io.client_write`: writes a file into the run's folder for the front end to deliver."""

    module_id = "io.client_write"

    def check_config(self, module: ModuleDef) -> list[str]:
        return require_inputs(module, "content", "filename")

    async def execute(self, inputs: dict[str, Any], ctx: ModuleContext) -> dict[str, Any]:
        filename = _SAFE_NAME.sub("_", str(inputs.get("filename") or "output.txt")).strip("._") or "output.txt"
        content = inputs.get("content")
        if inputs.get("format") == "json" and not isinstance(content, str):
            content = json.dumps(content, indent=2, ensure_ascii=False)
        text = "" if content is None else str(content)
        folder = ctx.run_dir
        path = folder / filename
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(write_atomic, path, text)
        ctx.emitted.append(
            NewEvent(
                "file_ready",
                {"path": str(path), "filename": filename, "format": inputs.get("format", "text")},
                ctx.step_id,
                ctx.module.name,
            )
        )
        return {"file_path": str(path), "filename": filename, "success": True}


class WeightedKeywordsModule(Module):
    """`io.weighted_keywords`: the per-user keyword history that keeps scene ideas fresh."""

    module_id = "io.weighted_keywords"

    def check_config(self, module: ModuleDef) -> list[str]:
        mode = module.inputs.get("mode")
        if mode not in ("load", "save"):
            return [f"mode must be 'load' or 'save', not {mode!r}"]
        return require_inputs(module, "keywords") if mode == "save" else []

    async def execute(self, inputs: dict[str, Any], ctx: ModuleContext) -> dict[str, Any]:
        store = ctx.services.store
        source = str(inputs.get("source") or "generated")
        if inputs.get("mode") == "load":
            limit = max(1, min(int(inputs.get("limit") or 50), 500))
            rows = await store.load_keywords(ctx.run.owner, ctx.run.workflow_id, source, limit)
            return {"weighted_keywords": rows, "count": len(rows)}
        keywords = inputs.get("keywords") or []
        if isinstance(keywords, dict):
            keywords = [keywords]
        clean = [k for k in keywords if isinstance(k, dict) and k.get("keyword")]
        saved = await store.save_keywords(
            ctx.run.owner,
            ctx.run.workflow_id,
            clean,
            source,
            accumulate=bool(inputs.get("accumulate_weight", True)),
        )
        return {"saved_count": saved}


class ExtractModule(Module):
    """`transform.extract`: echoes every input not starting with `_`."""

    module_id = "transform.extract"

    async def execute(self, inputs: dict[str, Any], ctx: ModuleContext) -> dict[str, Any]:
        return {k: v for k, v in inputs.items() if not k.startswith("_") and k != "resolver_schema"}
