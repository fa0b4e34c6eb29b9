"""A small JSON server, as a workflow's `api.fetch` meets one (a self-hosted
model list): `GET /models` answers a list of model objects
(so does `/leonardo/models`, where tests/data/reference_cc looks).

Other paths misbehave on purpose: `/big` streams more than a megabyte without
saying its length, `/declared_big` says a length of 50 MB, `/slow` answers
after `slow_s`, `/moved` redirects to another host, `/text` is not JSON,
`/broken` is a 500. Every request is recorded (`requests`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from tests.fakes import FakeServer

MODELS = [
    {"model_name": "dreamy_v2", "title": "Dreamy v2", "resolutions": ["512x896", "768x1344"]},
    {"model_name": "crisp_xl", "title": "Crisp XL", "resolutions": ["768x1344", "1080x1920"]},
]


class FakeJSONServer(FakeServer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slow_s = 5.0

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_get("/models", self.models)
        app.router.add_get("/leonardo/models", self.models)
        app.router.add_get("/big", self.big)
        app.router.add_get("/declared_big", self.declared_big)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/moved", self.moved)
        app.router.add_get("/text", self.text)
        app.router.add_get("/broken", self.broken)

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response(MODELS)

    async def moved(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("http://elsewhere.example/models")

    async def text(self, request: web.Request) -> web.Response:
        return web.Response(text="<html>not json</html>")

    async def broken(self, request: web.Request) -> web.Response:
        return web.json_response({"error": "boom"}, status=500)

    async def big(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            await response.write(b"[")
            for _ in range(400):  # ~1.2 MB of JSON, a chunk at a time
                await response.write(b'"' + b"x" * 3000 + b'",')
            await response.write(b'"end"]')
        except (ConnectionResetError, RuntimeError):  # the client stopped reading at its limit
            pass
        return response

    async def declared_big(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(50_000_000)})
        await response.prepare(request)
        try:
            await response.write(b"[1, 2, 3")
        except (ConnectionResetError, RuntimeError):
            pass
        return response

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.slow_s)
        return await self.models(request)
