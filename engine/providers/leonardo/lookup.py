"""Finding a Leonardo job whose create answer was lost (the process died first).

Leonardo's create calls take no client reference (no idempotency key, no
metadata of ours), so a lost job can only be recognised by what it was asked
and when: `GET /generations/user/{userId}` (newest first, images and video
alike) is read back to a little before the job was sent, and a generation
whose prompt (and, for images, model and size) equals ours is a candidate.
Where the API takes a `seed` (images, Motion 2.0) and none was chosen, the
seed is drawn from the engine's job id (`job_seed`): a generation reports its
seed back, so two jobs with the same prompt are still told apart.
The engine decides which candidate, if any, is the lost job (engine/jobs.py).
The user id comes from `GET /me` once per provider.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

from engine.providers.base import GenerationRequest
from engine.providers.http import HttpClient

SKEW_S = 120.0  # our clock against Leonardo's createdAt
SEND_WINDOW_S = 900.0  # a job is sent within this long of being marked (start-frame upload, create, retries)
PAGE = 50
PAGES = 6  # read back at most this many generations: a busy account's older ones are out of reach
SEED_RANGE = 2_000_000_000  # inside Leonardo's accepted seeds (non-negative, under 2**31)


def job_seed(request: GenerationRequest) -> int | None:
    """The seed to send: the person's, else one drawn from the job's reference (the
    same on every attempt at one job, different between jobs); None when neither."""
    chosen = request.params.get("seed")
    if chosen not in (None, ""):
        return int(float(chosen))
    if not request.reference:
        return None
    digest = hashlib.sha256(f"leonardo-seed:{request.reference}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SEED_RANGE


def created_at(record: dict[str, Any]) -> float | None:
    """`createdAt` ("2026-12-07T01:02:03.456" or with a zone; UTC when none) as epoch seconds."""
    value = record.get("createdAt")
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


async def user_id(http: HttpClient) -> str:
    body = await http.request_json("GET", "/me")
    details = body.get("user_details") if isinstance(body, dict) else None
    user = details[0].get("user") if isinstance(details, list) and details and isinstance(details[0], dict) else None
    uid = user.get("id") if isinstance(user, dict) else None
    if not uid:
        raise ValueError("GET /me named no user id")
    return str(uid)


async def generations_since(http: HttpClient, uid: str, since: float) -> list[dict[str, Any]]:
    """The account's generations created in [since - SKEW_S, since + SEND_WINDOW_S], newest first."""
    low, high = since - SKEW_S, since + SEND_WINDOW_S
    found: list[dict[str, Any]] = []
    for page in range(PAGES):
        body = await http.request_json("GET", f"/generations/user/{uid}",
                                       params={"offset": page * PAGE, "limit": PAGE})
        records = body.get("generations") if isinstance(body, dict) else None
        records = [r for r in records or [] if isinstance(r, dict)]
        times = [(r, created_at(r)) for r in records]
        found += [r for r, t in times if t is not None and low <= t <= high]
        if len(records) < PAGE or any(t is not None and t < low for _, t in times):
            break  # the end of the list, or back past the window (newest first)
    return found


def matches(record: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Every wanted field equal; only the prompt must be present in the record
    (the others are compared when we sent them and Leonardo reports them)."""
    if str(record.get("prompt") or "").strip() != str(wanted["prompt"]).strip():
        return False
    return all(record.get(k) in (None, v) for k, v in wanted.items() if k != "prompt" and v is not None)
