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
from engine.modules.query import pipeline_problems, run_pipeline
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


KEYWORD_POOL = 2000  # the most a pipeline looks through (the person's heaviest keywords first)
KEYWORD_RESULT = 500  # the most a load hands on


class WeightedKeywordsModule(Module):
    """`io.weighted_keywords`: the per-user keyword history that keeps scene ideas fresh.

    Load: `source` + `limit` (the heaviest first), or the reference design's
    `pipeline` ($match / $sort / $limit ... over records of `keyword`,
    `category`, `weight`, `source`, `last_used`). Save: `keywords` or the
    reference's `weighted_keywords`; each record keeps its own `source` unless
    the module names one; `accumulate_weight` adds to (default) or replaces
    the stored weight."""

    module_id = "io.weighted_keywords"

    def check_config(self, module: ModuleDef) -> list[str]:
        mode = module.inputs.get("mode")
        if mode not in ("load", "save"):
            return [f"mode must be 'load' or 'save', not {mode!r}"]
        if mode == "load":
            return pipeline_problems(module)
        if "keywords" not in module.inputs and "weighted_keywords" not in module.inputs:
            return ["missing input 'weighted_keywords' (or 'keywords'): the keywords to save"]
        return []

    async def execute(self, inputs: dict[str, Any], ctx: ModuleContext) -> dict[str, Any]:
        store = ctx.services.store
        owner, workflow_id = ctx.run.owner, ctx.run.workflow_id
        if inputs.get("mode") == "load":
            pipeline = inputs.get("pipeline")
            if pipeline is None:
                source = str(inputs.get("source") or "generated")
                limit = max(1, min(int(inputs.get("limit") or 50), KEYWORD_RESULT))
                rows = await store.load_keywords(owner, workflow_id, source, limit)
            else:
                pool = await store.load_keywords(owner, workflow_id, inputs.get("source"), KEYWORD_POOL)
                rows = run_pipeline(pool, pipeline)[:KEYWORD_RESULT]
            return {"weighted_keywords": rows, "count": len(rows)}
        keywords = inputs.get("weighted_keywords", inputs.get("keywords")) or []
        if isinstance(keywords, dict):
            keywords = [keywords]
        clean = [k for k in keywords if isinstance(k, dict) and k.get("keyword")] if isinstance(keywords, list) else []
        by_source: dict[str, list[dict[str, Any]]] = {}
        for item in clean:
            source = str(inputs.get("source") or item.get("source") or "generated")
            by_source.setdefault(source, []).append(item)
        saved = 0
        for source, items in by_source.items():
            saved += await store.save_keywords(owner, workflow_id, items, source,
                                               accumulate=_as_bool(inputs.get("accumulate_weight", True)))
        return {"saved_count": saved}


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


class ExtractModule(Module):
    """`transform.extract`: echoes every input not starting with `_`."""

    module_id = "transform.extract"

    async def execute(self, inputs: dict[str, Any], ctx: ModuleContext) -> dict[str, Any]:
        return {k: v for k, v in inputs.items() if not k.startswith("_") and k != "resolver_schema"}
