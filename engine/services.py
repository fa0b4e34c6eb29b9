"""The shared services modules and jobs use: store, providers, templates, media."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from engine.providers.registry import ProviderRegistry
from engine.store import Store
from engine.templating import TemplateEngine

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_segment(value: str) -> str:
    """A path segment made from an owner or run id: never `..`, never a slash."""
    cleaned = _UNSAFE.sub("_", value).strip("_")
    return cleaned[:80] or "_"


@dataclass
class Services:
    store: Store
    providers: ProviderRegistry
    templates: TemplateEngine
    media_root: Path
    poll_scale: float = 1.0  # tests and benchmarks shrink provider poll intervals

    def run_dir(self, owner: str, run_id: str) -> Path:
        return (self.media_root / safe_segment(owner) / safe_segment(run_id)).resolve()
