"""Shared fixtures: scripted providers and engines on temporary SQLite files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from engine.providers.base import (
    FetchedFile,
    GenerationRequest,
    JobStatus,
    LLMProvider,
    LLMRequest,
    LLMResult,
    MediaProvider,
    SubmitResult,
)
from engine.providers.registry import ProviderRegistry, ProviderStatus

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "tests" / "data" / "mini"


class ScriptedLLM(LLMProvider):
    """Answers the mini workflow's idea schema; can be told to misbehave."""

    name = "scripted"

    def __init__(self) -> None:
        self.requests: list[LLMRequest] = []
        self.bad_answers: list[str] = []  # served first, one per call

    async def complete(self, request: LLMRequest) -> LLMResult:
        self.requests.append(request)
        if self.bad_answers:
            return LLMResult(text=self.bad_answers.pop(0), model="scripted")
        user_text = " ".join(m.text or "" for m in request.messages if m.role == "user")
        pet = "Cat" if "Pet: Cat" in user_text else "Dog"
        n = len(self.requests)
        ideas = [{"title": f"{pet} idea {n}.{i}", "features": [f"tail {i}", f"ears {i}", f"paws {i}"]} for i in range(3)]
        return LLMResult(text=json.dumps({"ideas": ideas}), model="scripted")


class CountingImages(MediaProvider):
    """Counts paid submissions; writes a real tiny PNG per image."""

    name = "counting"
    actions = frozenset({"txt2img"})
    poll_interval_s = 0.01

    def __init__(self) -> None:
        self.submits = 0
        self.polls = 0

    async def submit(self, request: GenerationRequest, out_dir: Path) -> SubmitResult:
        self.submits += 1
        return SubmitResult(job_id=f"ext-{self.submits}", provider_data={"n": int(request.params.get("n", 1))})

    async def poll(self, job_id: str, provider_data: dict[str, Any]) -> JobStatus:
        self.polls += 1
        return JobStatus(state="completed")

    async def fetch(self, job_id: str, status: JobStatus, out_dir: Path) -> list[FetchedFile]:
        from PIL import Image

        files = []
        for i in range(2):
            path = out_dir / f"{job_id}_{i}.png"
            if not path.exists():
                Image.new("RGB", (18, 32), (200, 120 + i, 90)).save(path)
            files.append(FetchedFile(local_path=str(path), media_type="image", width=18, height=32))
        return files


def scripted_registry(llm: ScriptedLLM | None = None, images: CountingImages | None = None) -> ProviderRegistry:
    llm = llm or ScriptedLLM()
    registry = ProviderRegistry(llm_default=llm, llms={"openai": llm})
    registry.media_providers[("openai", "txt2img")] = images or CountingImages()
    registry.statuses.append(ProviderStatus("openai", "txt2img", "offline", "test"))
    return registry


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(scope="session", autouse=True)
def _database_server() -> Any:
    """With CCBOT_TEST_DATABASE=postgres: one throwaway PostgreSQL for the session
    (missing here: the run says why and skips; in CI it is an error)."""
    from tests import databases, pg

    if databases.BACKEND != "postgres":
        yield None
        return
    reason = pg.missing_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.exit(f"CI must run the PostgreSQL tests, but {reason}", returncode=3)
        pytest.skip(f"PostgreSQL tests skipped: {reason}", allow_module_level=True)
    server = pg.PostgresServer().start()
    databases.use_server(server.url())
    try:
        yield server
    finally:
        databases.use_server(None)
        server.stop()


@pytest.fixture(autouse=True)
def _quick_queues(monkeypatch: pytest.MonkeyPatch) -> None:
    """With CCBOT_JOBS=dbos: queued work is looked for every 50 ms (production: every second)."""
    if "CCBOT_QUEUE_POLL_S" not in os.environ:
        monkeypatch.setenv("CCBOT_QUEUE_POLL_S", "0.05")


@pytest.fixture(autouse=True)
def _no_real_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see a developer's real keys."""
    for key in list(os.environ):
        if key.endswith("_API_KEY") or key == "TELEGRAM_BOT_TOKEN":
            monkeypatch.delenv(key, raising=False)
