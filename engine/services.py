"""The shared services modules and jobs use: store, providers, templates, media."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class FetchPolicy:
    """What `api.fetch` may reach: only these hosts (`host` or `host:port`, lower
    case; none by default), within a time and a size limit."""

    allowed_hosts: frozenset[str] = frozenset()
    timeout_s: float = 10.0
    max_bytes: int = 1_000_000

    def allows(self, host: str, port: int | None) -> bool:
        host = host.lower()
        return host in self.allowed_hosts or (port is not None and f"{host}:{port}" in self.allowed_hosts)


@dataclass
class Services:
    store: Store
    providers: ProviderRegistry
    templates: TemplateEngine
    media_root: Path
    spending: Spending
    poll_scale: float = 1.0  # tests and benchmarks shrink provider poll intervals
    fetch: FetchPolicy = field(default_factory=FetchPolicy)
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
