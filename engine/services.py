"""The shared services modules and jobs use: store, providers, templates, media."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from engine.providers.registry import ProviderRegistry, offline_registry
from engine.spending import Spending
from engine.state import RunState
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
    spending: Spending
    poll_scale: float = 1.0  # tests and benchmarks shrink provider poll intervals
    _offline: ProviderRegistry | None = None

    def run_dir(self, owner: str, run_id: str) -> Path:
        return (self.media_root / safe_segment(owner) / safe_segment(run_id)).resolve()

    def owner_dir(self, owner: str) -> Path:
        return (self.media_root / safe_segment(owner)).resolve()

    def providers_for(self, run: RunState) -> ProviderRegistry:
        """The run's providers: the offline ones for a run started with no budget
        at all (it shows how things work and costs nothing), else the configured ones."""
        if run.provider_mode != "offline":
            return self.providers
        if self._offline is None:
            self._offline = offline_registry()
        return self._offline
