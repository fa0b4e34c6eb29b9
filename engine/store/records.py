"""The rows the store reads and writes, and how payloads are encoded.

Plain dataclasses, no database types: the engine and every front end pass
these around without knowing which database is behind the store.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

COMPRESS_OVER = 768  # bytes of JSON; smaller payloads stay readable text


@dataclass
class Event:
    seq: int
    run_id: str
    type: str
    step_id: str | None
    module_name: str | None
    data: dict[str, Any]
    created_at: float


@dataclass
class NewEvent:
    type: str
    data: dict[str, Any]
    step_id: str | None = None
    module_name: str | None = None


@dataclass
class RunRow:
    run_id: str
    owner: str
    workflow_id: str
    status: str
    created_at: float
    updated_at: float


@dataclass
class JobChange:
    job_id: str
    interaction_id: str
    status: str
    request_key: str | None = None


@dataclass
class SessionRow:
    """A front end's conversation state for one run: opaque JSON to the store."""

    run_id: str
    owner: str
    key: str | None
    data: dict[str, Any]
    updated_at: float


@dataclass
class SpendChange:
    """One paid call in the accounting: reserved at its estimate before the call,
    then charged with what the provider reported (or released when it surely
    was not paid), always in the same transaction as the event that says so."""

    key: str  # the job id, or the id of one LLM call
    owner: str
    provider: str
    kind: str  # llm, image, video, music, transcription
    status: str  # reserved, charged, released
    run_id: str = ""
    estimate_usd: float | None = None  # None: keep the one recorded at reservation
    actual_usd: float | None = None
    credits: float | None = None


@dataclass
class SpendRow:
    key: str
    owner: str
    run_id: str
    provider: str
    kind: str
    estimate_usd: float
    actual_usd: float | None
    credits: float | None
    status: str
    month: str
    created_at: float

    @property
    def amount_usd(self) -> float:
        """What counts against a budget: the reported cost once known, else the estimate."""
        if self.status == "released":
            return 0.0
        return self.actual_usd if self.actual_usd is not None else self.estimate_usd


@dataclass
class PersonRow:
    owner: str
    allowed: bool | None  # None: as the starting list says
    budget_usd: float | None  # None: the default budget
    updated_at: float


@dataclass
class ExecutorRow:
    executor_id: str
    role: str
    token: str  # one per process start: two live processes with one id show up as two tokens
    last_seen: float


def dumps(data: Any) -> str | bytes:
    """JSON text; big payloads (LLM answers, display data) zlib-compressed: 3-5x smaller."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    if len(text) > COMPRESS_OVER:
        return zlib.compress(text.encode("utf-8"), 1)
    return text


def loads(value: str | bytes) -> Any:
    if isinstance(value, (bytes, memoryview)):
        raw = bytes(value)
        # plain JSON text stored as bytes (PostgreSQL's BYTEA) starts like JSON; zlib never does
        value = raw.decode("utf-8") if raw[:1] in (b"{", b"[", b'"') else zlib.decompress(raw).decode("utf-8")
    return json.loads(value)


def dumps_bytes(data: Any) -> bytes:
    """`dumps` as bytes, for a database column of bytes."""
    value = dumps(data)
    return value.encode("utf-8") if isinstance(value, str) else value


def keyword_record(keyword: str, category: str, weight: float, source: str, last_used: float) -> dict[str, Any]:
    """A stored keyword as `io.weighted_keywords` hands it on (`last_used` as ISO text)."""
    return {"keyword": keyword, "category": category, "weight": weight, "source": source,
            "last_used": datetime.fromtimestamp(last_used, timezone.utc).isoformat(timespec="seconds")}
