"""The fake Leonardo's account routes: `GET /me` and `GET /generations/user/{userId}`.

Shapes as Leonardo's v1 API answers them: `/me` -> `{"user_details": [{"user":
{"id", "username"}, ...}]}`; the list -> `{"generations": [...]}` newest first,
`offset` (default 0) and `limit` (default 10), each record with `id`, `prompt`,
`status`, `createdAt` (ISO 8601, UTC, no zone), `seed` and `generated_images`. An id
other than the key's user is refused as Leonardo does (403)."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timezone
from typing import Any

from aiohttp import web


def iso_utc(epoch: float) -> str:
    """Leonardo's createdAt: "2026-12-07T01:02:03.456" (UTC, no zone)."""
    return datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds")


class LeonardoAccount:
    """Mixed into FakeLeonardo (which has `generations` and `_pre_checks`)."""

    scenario: str
    user_id = str(uuid.UUID(int=0x1E0_0000_0000_4000_8000_0000_0000_0001))
    generations: dict[str, dict[str, Any]]

    def account_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/rest/v1/me", self.me)
        app.router.add_get("/api/rest/v1/generations/user/{uid}", self.generations_of_user)

    def _pre_checks(self, request: web.Request, *, create: bool) -> web.Response | None:
        raise NotImplementedError

    def _as_record(self, gid: str, generation: dict[str, Any]) -> dict[str, Any]:
        """A generation as Leonardo reports it (polled or listed): COMPLETE once its outputs are made."""
        images = generation.get("images")
        status = "FAILED" if self.scenario == "failed" else "COMPLETE" if images is not None else "PENDING"
        record: dict[str, Any] = {"id": gid, "status": status, "prompt": generation["prompt"],
                                  "createdAt": iso_utc(generation["created"]), "seed": generation.get("seed"),
                                  "generated_images": images if status == "COMPLETE" else []}
        if generation["kind"] == "image":
            record.update(modelId=generation["model_id"], imageWidth=generation["w"], imageHeight=generation["h"])
        return record

    @staticmethod
    def _seed(body: dict[str, Any]) -> int:
        """The seed a generation reports: the one sent, else one Leonardo picks."""
        return int(body["seed"]) if body.get("seed") is not None else random.randrange(2**31)

    async def me(self, request: web.Request) -> web.Response:
        early = self._pre_checks(request, create=False)
        if early is not None:
            return early
        return web.json_response({"user_details": [{
            "user": {"id": self.user_id, "username": "fake-ccbot"},
            "tokenRenewalDate": None, "paidTokens": 0, "subscriptionTokens": 0,
            "apiPaidTokens": 10000, "apiSubscriptionTokens": 0, "apiConcurrencySlots": 10,
        }]})

    async def generations_of_user(self, request: web.Request) -> web.Response:
        early = self._pre_checks(request, create=False)
        if early is not None:
            return early
        if request.match_info["uid"] != self.user_id:
            return web.json_response({"error": "not allowed to read this user's generations",
                                      "code": "access-denied"}, status=403)
        try:
            offset = int(request.query.get("offset", "0"))
            limit = int(request.query.get("limit", "10"))
        except ValueError:
            return web.json_response({"error": "offset and limit must be integers"}, status=400)
        newest = sorted(self.generations.items(), key=lambda item: item[1]["created"], reverse=True)
        page = newest[max(0, offset):max(0, offset) + max(0, limit)]
        return web.json_response({"generations": [self._as_record(gid, g) for gid, g in page]})
