"""What both Leonardo providers share: the authenticated client, its error rules, the job shape.

A create call answers with a job holding a generationId (and often its cost);
`GET /generations/{id}` reports PENDING|COMPLETE|FAILED with the finished
files. LeonardoJobProvider wraps that once for images and video.
"""

from __future__ import annotations

from typing import Any

import httpx

from engine.providers import costs
from engine.providers.base import Cost, GenerationRequest, JobStatus, MediaProvider, ProviderError, SubmitResult
from engine.providers.http import HttpClient, RetryPolicy, body_message, safe_url
from engine.providers.leonardo.lookup import generations_since, matches, user_id

PROVIDER = "leonardo"
DEFAULT_BASE_URL = "https://cloud.leonardo.ai/api/rest/v1"
REFUSAL_HINTS = ("moderat", "nsfw", "inappropriate", "content policy", "not allowed", "prohibited")


def as_bool(value: Any) -> bool | None:
    """A form value ("true", "0", True...) as a bool; None when it is not set."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def leonardo_error_hook(response: httpx.Response, body: Any) -> ProviderError | None:
    """Leonardo specifics: 402 = out of credits; moderation text = refused."""
    message = body_message(body)
    lowered = message.lower()
    detail = f"HTTP {response.status_code} {safe_url(response.request.url)}: {message}"
    out_of_credits = "not enough" in lowered and "credit" in lowered
    if response.status_code == 402 or (out_of_credits and response.status_code < 500):
        return ProviderError(
            "the Leonardo account is out of API credits: top it up and try again",
            kind="insufficient_credits", detail=detail, provider=PROVIDER,
        )  # fmt: skip
    if response.status_code in (400, 403) and any(hint in lowered for hint in REFUSAL_HINTS):
        return ProviderError(
            "Leonardo refused this prompt or picture: try rephrasing",
            kind="refused", detail=detail, provider=PROVIDER,
        )  # fmt: skip
    return None


def _job(body: Any, key: str) -> dict[str, Any]:
    """`sdGenerationJob` / `motionVideoGenerationJob` out of a create answer."""
    job = body.get(key) if isinstance(body, dict) else None
    if not isinstance(job, dict) or not job.get("generationId"):
        message = body_message(body) if body else "no job in the answer"
        raise ProviderError(
            "Leonardo did not start the job", kind="invalid_output", retryable=False,
            detail=f"{key} missing: {message}", provider=PROVIDER,
        )  # fmt: skip
    return job


def _status_from(record: dict[str, Any], provider_data: dict[str, Any]) -> JobStatus:
    status = str(record.get("status") or "PENDING").upper()
    if status == "FAILED":
        return JobStatus(
            state="failed", provider_data=provider_data,
            error="Leonardo could not make this one (the job failed): try again or change the prompt",
        )  # fmt: skip
    if status != "COMPLETE":
        return JobStatus(state="running" if record else "pending", message=status.lower(), provider_data=provider_data)
    return JobStatus(state="completed", progress=100.0, provider_data=provider_data)


class LeonardoJobProvider(MediaProvider):
    """A Leonardo MediaProvider: one HttpClient, jobs started by a create call and polled by id."""

    name = PROVIDER
    live = True
    can_find_submitted = True  # by prompt and time: see lookup

    def __init__(self, api_key: str, *, base_url: str, retry: RetryPolicy | None, timeout_s: float) -> None:
        self.base_url = base_url
        self._http = HttpClient(
            PROVIDER,
            base_url,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout_s,
            retry=retry,
            error_hook=leonardo_error_hook,
            secrets=(api_key,),
        )
        self._user_id: str | None = None  # the account's, for the generations list (asked once)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _create(
        self, path: str, body: dict[str, Any], job_key: str, request: GenerationRequest
    ) -> tuple[str, Cost]:
        """POST a create call: (generationId, cost Leonardo reported, else the list-price estimate)."""
        answer = await self._http.request_json("POST", path, json_body=body)
        job = _job(answer, job_key)
        cost = costs.leonardo_cost_from_job(job) or self.estimate_cost(request)
        return str(job["generationId"]), cost

    async def _generation(self, job_id: str, provider_data: dict[str, Any]) -> tuple[dict[str, Any], JobStatus]:
        """The generation record and its JobStatus (provider_data copied, ready to extend)."""
        body = await self._http.request_json("GET", f"/generations/{job_id}")
        record = body.get("generations_by_pk") if isinstance(body, dict) else None
        record = record if isinstance(record, dict) else {}
        return record, _status_from(record, dict(provider_data))

    def _sent(self, request: GenerationRequest) -> dict[str, Any]:
        """What the create call sends that Leonardo reports back on a generation (at least the prompt)."""
        raise NotImplementedError

    def _provider_data(self, job_id: str, request: GenerationRequest) -> dict[str, Any]:
        """The provider_data submit() would have returned, as far as it follows from the request."""
        raise NotImplementedError

    async def find_submitted(self, request: GenerationRequest, since: float) -> list[SubmitResult] | None:
        if self._user_id is None:
            try:
                self._user_id = await user_id(self._http)
            except ValueError as exc:
                raise ProviderError("Leonardo did not say who we are", kind="invalid_output",
                                    detail=str(exc), provider=PROVIDER) from None
        wanted = self._sent(request)
        records = await generations_since(self._http, self._user_id, since)
        return [SubmitResult(job_id=str(r["id"]), provider_data=self._provider_data(str(r["id"]), request))
                for r in records if r.get("id") and matches(r, wanted)]
