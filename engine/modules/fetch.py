"""`api.fetch`: an HTTP GET whose JSON answer lands in state (cc-workflow.md §1.5: `response`).

The reference design used it to read a self-hosted server's model list into a
media panel's form (an `enum` over `{{ state.... }}`). Only hosts listed in
`CCBOT_FETCH_ALLOWED_HOSTS` are reached (none by default), redirects are not
followed, and the whole request has a time limit and its body a size limit
(read as a stream, stopped at the limit).

A fetch that cannot be done (a host not allowed, unreachable, slow, an error
status, an answer too large or not JSON) does not fail the step: `response`
is the module's `default` input (null when none), `ok` is false and `error`
says why. A panel whose choices it was to fill is then shown as unavailable
(engine/modules/media_form.py), and the run goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

import httpx

from engine.definitions import ModuleDef
from engine.modules.base import Module, ModuleContext, require_inputs
from engine.templating import has_template_syntax

if TYPE_CHECKING:
    from engine.services import FetchPolicy

log = logging.getLogger(__name__)


class FetchRefused(Exception):
    """Why a fetch was not done, safe to store and show."""


def _text_map(value: Any, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FetchRefused(f"input '{name}' must be an object")
    return {str(k): str(v) for k, v in value.items() if v is not None}


async def fetch_json(url: str, policy: FetchPolicy, params: dict[str, str] | None = None,
                     headers: dict[str, str] | None = None) -> Any:
    """GET `url` under `policy` and parse its JSON; FetchRefused says why not."""
    try:
        target = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise FetchRefused(f"{url!r} is not a web address") from None
    if target.scheme not in ("http", "https") or not target.host:
        raise FetchRefused(f"{url!r} is not an http(s) address")
    host = target.host
    if not policy.allows(host, target.port):
        raise FetchRefused(f"{host} is not in CCBOT_FETCH_ALLOWED_HOSTS, so it is not asked")
    body = bytearray()
    try:
        async with asyncio.timeout(policy.timeout_s):
            async with httpx.AsyncClient(timeout=policy.timeout_s, follow_redirects=False, trust_env=False) as client:
                async with client.stream("GET", target, params=params, headers=headers) as response:
                    if response.status_code != 200:
                        raise FetchRefused(f"{host} answered {response.status_code}")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > policy.max_bytes:
                        raise FetchRefused(f"{host}'s answer is larger than {policy.max_bytes} bytes")
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > policy.max_bytes:
                            raise FetchRefused(f"{host}'s answer is larger than {policy.max_bytes} bytes")
    except TimeoutError:
        raise FetchRefused(f"{host} did not answer within {policy.timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        raise FetchRefused(f"{host} is not reachable ({type(exc).__name__})") from None
    try:
        return json.loads(bytes(body))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise FetchRefused(f"{host}'s answer is not JSON") from None


class FetchModule(Module):
    module_id = "api.fetch"

    def check_config(self, module: ModuleDef) -> list[str]:
        problems = require_inputs(module, "url")
        method = str(module.inputs.get("method") or "GET").upper()
        if method != "GET":
            problems.append(f"method {method!r}: api.fetch only reads (GET)")
        url = module.inputs.get("url")
        if isinstance(url, str) and not has_template_syntax(url) and not url.startswith(("http://", "https://")):
            problems.append(f"input 'url' {url!r} is not an http(s) address")
        return problems

    async def execute(self, inputs: dict[str, Any], ctx: ModuleContext) -> dict[str, Any]:
        url = str(inputs.get("url") or "")
        try:
            params = _text_map(inputs.get("params"), "params")
            headers = _text_map(inputs.get("headers"), "headers")
            response = await fetch_json(url, ctx.services.fetch, params or None, headers or None)
        except FetchRefused as exc:
            log.warning("api.fetch %s in run %s: %s", ctx.module.name, ctx.run.run_id, exc)
            return {"response": inputs.get("default"), "ok": False, "error": str(exc)}
        return {"response": response, "ok": True, "error": None}
