"""The bot as its own process, for tests that kill it for real (SIGKILL).

    python -m tests.resilience.botproc [poll | webhook | worker]

Built exactly like `ccbot run` (bot.main.run_bot): Settings from the
environment, live providers from `build_registry(settings)` (their base URLs
point at the fake provider servers of the test process), the engine on the
configured store (SQLite, or CCBOT_DATABASE_URL), then `build_application` and
`run_polling` (poll, the default), `serve_webhook` (webhook: `ccbot run
--webhook`) or `serve_worker` (worker: `ccbot worker`, with CCBOT_ROLE=worker).
Test-only knobs, all optional, read from the environment:

    RESILIENCE_WORKFLOW      one workflow folder (default: the installed ones)
    RESILIENCE_POLL_SCALE    engine poll_scale (provider poll intervals x this)
    RESILIENCE_JOB_TIMEOUT_S give every media provider this job timeout
    RESILIENCE_RETRY         "attempts,base_s,max_s" for the httpx providers
    RESILIENCE_HTTP_TIMEOUT_S cap on every provider client's read timeout
                             (a provider that hangs is given up on quickly)
    RESILIENCE_OFFLINE       "1": offline providers (no provider servers)
    RESILIENCE_OFFLINE_DELAY offline providers' simulated latency (s)
    CCBOT_FAULT_KILL_AFTER   see tests/resilience/faults.py (installed as the store's commit hook)

On a clean stop (SIGTERM/SIGINT) it writes `proc_stats.json` (peak RSS, CPU)
into the data dir.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
from pathlib import Path


def main(mode: str = "poll") -> int:
    from bot.main import configure_logging, serve_webhook, serve_worker
    from bot.telegram.app import build_application
    from engine.providers.http import RetryPolicy
    from engine.providers.live import aclose_registry, build_registry
    from engine.providers.registry import offline_registry
    from engine.api import Engine
    from engine.settings import Settings
    from engine.store import open_store
    from tests.resilience.faults import ENV, ENV_BEFORE, kill_after

    settings = Settings(_env_file=None)
    configure_logging(settings)
    env = os.environ
    if env.get("RESILIENCE_OFFLINE") == "1":
        registry = offline_registry(float(env.get("RESILIENCE_OFFLINE_DELAY", "0") or 0))
    else:
        timeout_cap = float(env.get("RESILIENCE_HTTP_TIMEOUT_S") or 0)
        if timeout_cap:
            from engine.providers.http import client as http_client  # HttpClient reads its timeout there

            original = http_client.default_timeout
            http_client.default_timeout = lambda read_s=60.0: original(min(read_s, timeout_cap))  # type: ignore[misc]
        attempts, base, cap = (env.get("RESILIENCE_RETRY") or "4,0.02,0.1").split(",")
        registry = build_registry(settings, retry=RetryPolicy(max_attempts=int(attempts), base_delay_s=float(base),
                                                              max_delay_s=float(cap), max_retry_after_s=2.0))
        images = registry.media_providers.get(("openai", "txt2img"))
        if timeout_cap and hasattr(images, "_client"):  # the OpenAI SDK client (its floor is 180 s)
            images._client = images._client.with_options(timeout=timeout_cap)  # type: ignore[union-attr]
    if env.get("RESILIENCE_JOB_TIMEOUT_S"):
        for provider in registry.media_providers.values():
            provider.timeout_s = float(env["RESILIENCE_JOB_TIMEOUT_S"])
    workflow = env.get("RESILIENCE_WORKFLOW")

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    store = loop.run_until_complete(open_store(settings.database))
    engine = loop.run_until_complete(Engine.open(
        store=store, media_root=settings.media_root, providers=registry, settings=settings,
        budget_usd=settings.ccbot_user_budget_usd, usd_per_credit=settings.ccbot_leonardo_usd_per_credit,
        workflow_dirs=[Path(workflow)] if workflow else None,
        poll_scale=float(env.get("RESILIENCE_POLL_SCALE", "1") or 1),
    ))
    engine.services.store.after_commit = kill_after(env.get(ENV))
    engine.services.store.before_commit = kill_after(env.get(ENV_BEFORE))
    try:
        if mode == "webhook":
            loop.run_until_complete(serve_webhook(settings, engine))
        elif mode == "worker":
            loop.run_until_complete(serve_worker(engine))
        else:
            app, _ = build_application(settings, engine)
            app.run_polling(close_loop=False, poll_interval=0.0, timeout=5)
    finally:
        loop.run_until_complete(engine.close())
        loop.run_until_complete(aclose_registry(registry))
        loop.close()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        stats = {"maxrss_mb": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime}
        # written aside, then renamed: processes sharing one data folder (tests/scaled) stop at once
        part = settings.ccbot_data_dir / f".proc_stats.{os.getpid()}.json"
        part.write_text(json.dumps(stats))
        os.replace(part, settings.ccbot_data_dir / "proc_stats.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:2]))
