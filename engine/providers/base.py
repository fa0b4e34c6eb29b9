"""Provider interfaces: the small contracts the engine calls.

Four capabilities: a structured LLM call, and three kinds of media generation
(txt2img, img2vid, txt2audio) that all follow one durable job shape:

    submit()  -> a provider job id (recorded by the engine *before* polling)
    poll()    -> status and progress for that id
    fetch()   -> the finished files, downloaded into the run's media folder

A synchronous API (OpenAI images, ElevenLabs music) does its work in submit()
and hands the files back through fetch(); a restart after submit() then finds
the files on disk instead of paying again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

ActionType = Literal["txt2img", "img2img", "img2vid", "txt2audio"]
ErrorKind = Literal[
    "authentication",
    "insufficient_credits",
    "rate_limit",
    "timeout",
    "refused",
    "invalid_request",
    "invalid_output",
    "generation_failed",
    "unavailable",
    "network",
]


class ProviderError(Exception):
    """A provider failure with a message a person can read.

    `user_message` is safe to show in a chat; `detail` is for the log only and
    must never contain secrets. `retryable` says whether trying the same call
    again can succeed (429, 5xx, network); refusals and bad requests are not.
    """

    def __init__(
        self,
        user_message: str,
        *,
        kind: ErrorKind = "generation_failed",
        retryable: bool = False,
        retry_after: float | None = None,
        detail: str = "",
        provider: str = "",
    ) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.kind = kind
        self.retryable = retryable
        self.retry_after = retry_after
        self.detail = detail
        self.provider = provider

    def __str__(self) -> str:  # the log line; never includes secrets
        extra = f" ({self.detail})" if self.detail else ""
        return f"[{self.provider or 'provider'}:{self.kind}] {self.user_message}{extra}"


# --------------------------------------------------------------------------- LLM


class LLMMessage(BaseModel):
    """One message. Exactly one of `text` or `image_path` is set."""

    role: Literal["system", "user", "assistant"]
    text: str | None = None
    image_path: str | None = None  # local file, or an http(s)/data URL
    cache_ttl: int | None = None  # the spec's hint; providers map it to their caching


class LLMRequest(BaseModel):
    messages: list[LLMMessage]
    output_schema: dict[str, Any] | None = None  # an LLM output schema (never a display schema)
    schema_name: str = "response"
    model: str | None = None  # None: the provider's configured default
    metadata: dict[str, Any] = Field(default_factory=dict)  # step_id, run_id, module name: for logs
    max_output_tokens: int | None = None
    reasoning_effort: str | None = None  # e.g. "low" for a small, fast call; None: the model's default
    # workflow-supplied hints for offline writers; live providers ignore it
    hints: dict[str, Any] = Field(default_factory=dict)


class LLMUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0


class LLMResult(BaseModel):
    text: str  # the raw answer text (JSON text when a schema was given)
    model: str
    usage: LLMUsage = Field(default_factory=LLMUsage)
    cost_usd: float | None = None


class LLMProvider(ABC):
    name: str = "llm"
    live: bool = False

    def warm_up(self) -> None:
        """Work a first call would otherwise do on the event loop (e.g. building
        an SDK's models); called once at start-up, in a thread."""

    def estimate_cost(self, request: LLMRequest) -> Cost:
        """A conservative price of one call before it is made (free unless known)."""
        return Cost()

    @abstractmethod
    async def complete(self, request: LLMRequest) -> LLMResult:
        """Return the answer text. Raise ProviderError on refusal, truncation or failure."""


# ------------------------------------------------------------------ media jobs


class Cost(BaseModel):
    """An estimate or a recorded cost. Offline providers are free."""

    usd: float | None = None
    credits: float | None = None
    note: str = ""  # e.g. "list price 2026-11"

    @property
    def is_free(self) -> bool:
        return not self.usd and not self.credits

    def label(self) -> str:
        if self.is_free:
            return "free"
        parts = []
        if self.usd:
            parts.append(f"~${self.usd:.2f}")
        if self.credits:
            parts.append(f"~{self.credits:g} credits")
        return " / ".join(parts)


class GenerationRequest(BaseModel):
    """What a media provider is asked to make.

    `params` are the panel's form values after defaults, `source_field` and
    `destination_field` were applied; enum values may still be strings
    ("5", "true"): each provider converts what it needs.
    """

    action_type: ActionType
    provider: str  # panel provider id: openai, leonardo, sora, elevenlabs...
    prompt: str = ""
    negative_prompt: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    source_image_path: str | None = None  # img2vid / img2img: local file
    source_image_meta: dict[str, Any] = Field(default_factory=dict)  # e.g. provider + provider image id
    prompt_key: str = "default"
    duration_hint_s: float | None = None  # e.g. music length wanted
    # The engine's id for this job, given at submit and lookup. An API that takes no
    # client reference may fold it into something it reports back (Leonardo: the seed),
    # so that a job whose create answer was lost can be recognised.
    reference: str | None = None


class JobStatus(BaseModel):
    state: Literal["pending", "running", "completed", "failed"]
    progress: float | None = None  # 0..100 when the API reports it
    message: str = ""
    result_urls: list[str] = Field(default_factory=list)
    provider_data: dict[str, Any] = Field(default_factory=dict)  # ids needed by fetch()
    error: str | None = None  # user-readable when failed
    poll_after_s: float | None = None  # the API's hint for the next poll


class SubmitResult(BaseModel):
    job_id: str  # the provider's id (or a local id for synchronous APIs)
    provider_data: dict[str, Any] = Field(default_factory=dict)
    cost: Cost = Field(default_factory=Cost)


class FetchedFile(BaseModel):
    local_path: str
    media_type: Literal["image", "video", "audio"]
    url: str | None = None  # where the provider served it, if anywhere
    provider_item_id: str | None = None  # e.g. Leonardo generated image id (reusable for img2vid)
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None


class MediaProvider(ABC):
    """One provider's media generation for one or more action types."""

    name: str = "media"
    live: bool = False
    actions: frozenset[str] = frozenset()
    poll_interval_s: float = 5.0
    timeout_s: float = 900.0
    # True when find_submitted() can look a job up at the provider (recovery after a crash)
    can_find_submitted: bool = False

    def estimate_cost(self, request: GenerationRequest) -> Cost:
        return Cost()

    def warm_up(self) -> None:
        """As `LLMProvider.warm_up`."""

    def validate(self, request: GenerationRequest) -> None:
        """Raise ProviderError(kind="invalid_request") for params the API would reject."""

    @abstractmethod
    async def submit(self, request: GenerationRequest, out_dir: Path) -> SubmitResult:
        """Start the paid work. Must not be called twice for one job."""

    @abstractmethod
    async def poll(self, job_id: str, provider_data: dict[str, Any]) -> JobStatus:
        """Status of a submitted job. Safe to call again after a restart."""

    @abstractmethod
    async def fetch(
        self, job_id: str, status: JobStatus, out_dir: Path
    ) -> list[FetchedFile]:
        """Download the results into out_dir (temp file, then rename)."""

    async def cancel(self, job_id: str, provider_data: dict[str, Any]) -> bool:
        """Best effort; False when the API has no cancel."""
        return False

    async def find_submitted(self, request: GenerationRequest, since: float) -> list[SubmitResult] | None:
        """Recovery after a crash between the provider accepting submit() and the
        engine recording its id: the provider's jobs that match `request` and were
        created around or after `since` (epoch seconds), newest first. None: this
        provider cannot look jobs up. The engine decides which one (if any) is ours;
        the cost of an entry may be free (unknown): the engine then charges its estimate."""
        return None
