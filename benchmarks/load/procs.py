"""The processes of the bot-load benchmark: start with a small environment, stop cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


async def spawn(cmd: list[str], env: dict[str, str], cwd: Path, log: Path | None,
                stdin: bool = False) -> asyncio.subprocess.Process:
    out: Any = open(log, "ab") if log else asyncio.subprocess.PIPE  # noqa: SIM115, ASYNC230 - handed to the child
    try:
        return await asyncio.create_subprocess_exec(
            *cmd, cwd=str(cwd), env=env, stdout=out, stderr=out if log else None,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL)
    finally:
        if log:
            out.close()


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def base_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
            "LANG": os.environ.get("LANG", "C.UTF-8")}


async def start_providers(seed: int, delay: str) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    env = base_env() | {"PYTHONPATH": str(ROOT)}
    proc = await spawn([sys.executable, "-m", "benchmarks.load.providers", "--seed", str(seed), "--delay", delay],
                       env, ROOT, None, stdin=True)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 300)
    if not line.startswith(b"{"):
        raise SystemExit(f"the provider fakes did not start: {line!r}")
    return proc, json.loads(line)


async def stop_providers(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    import psutil

    assert proc.stdin is not None and proc.stdout is not None
    times = psutil.Process(proc.pid).cpu_times()
    proc.stdin.write(b"stop\n")
    await proc.stdin.drain()
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    await stop(proc)
    return (json.loads(line) if line.startswith(b"{") else {}) | {"cpu_s": times.user + times.system}


def ccbot_env(tg: Any, urls: dict[str, str], user_ids: list[int], data_dir: Path) -> dict[str, str]:
    """`ccbot run`'s environment, as an operator would set it: the fake Bot API `tg`, the
    people allowed, a data dir, and the live provider clients pointed at the fakes (`urls`)."""
    from benchmarks.load.providers import KEYS

    return base_env() | {
        "TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_BASE_URL": tg.base_url, "TELEGRAM_API_FILE_URL": tg.base_file_url,
        "CCBOT_ALLOWED_USERS": ",".join(map(str, user_ids)), "CCBOT_DATA_DIR": str(data_dir),
        "OPENAI_API_KEY": KEYS["openai"], "OPENAI_BASE_URL": urls["openai"],
        "LEONARDO_API_KEY": KEYS["leonardo"], "LEONARDO_BASE_URL": urls["leonardo"],
        "ELEVENLABS_API_KEY": KEYS["elevenlabs"], "ELEVENLABS_BASE_URL": urls["elevenlabs"]}


async def wait_ready(procs: list[asyncio.subprocess.Process], ready: Any, what: str, log: Path,
                     timeout: float = 120.0) -> None:
    """Until `ready()` is true; exits with the end of `log` when a process died or it took too long."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not ready():
        if any(p.returncode is not None for p in procs) or asyncio.get_running_loop().time() > deadline:
            raise SystemExit(f"{what} did not start:\n{log.read_text(errors='replace')[-3000:]}")
        await asyncio.sleep(0.05)


def ccbot_command() -> list[str]:
    entry = Path(sys.executable).with_name("ccbot")
    return [str(entry), "run"] if entry.exists() else [sys.executable, "-m", "bot", "run"]
