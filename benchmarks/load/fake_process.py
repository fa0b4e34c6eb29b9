"""The fake Telegram Bot API in a process of its own, driven over a pipe.

The fake's clock is the benchmark's clock: it stamps when an update is handed
over and when each of the bot's requests arrives. Sharing a process with the
people (their folds of the run log, their decisions, the memory sampler), its
loop lagged up to 431 ms in a ccbot phase against 2 ms in the baseline's, even
on a thread of its own (one GIL): that lateness was counted against ccbot. In
a process of its own it does only a Bot API server's work (parsing requests
and uploads, keeping messages), for either bot alike.

    python -m benchmarks.load.fake_process --keep-upload-bytes N   (started by FakeTelegramProcess)

The pipe carries one JSON object per line. Down (stdin): commands with an id
(`command`, `callback`, `proxy_targets`, `deliveries`, `lag_start`,
`lag_stop`, `stop`). Up (stdout): `ready` once, a `call` for every request
the bot made (its parameters, times, status, and of its result only the
message id and buttons), and a `reply` to each command. The parent keeps the
calls and, per chat, the buttons of the bot's messages, as the people read them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.fakes.telegram_server import Call

ROOT = Path(__file__).resolve().parents[2]
SENDS = {"sendMessage", "sendPhoto", "sendVideo", "sendAudio", "sendDocument", "sendAnimation"}
EDITS = {"editMessageText", "editMessageCaption", "editMessageReplyMarkup"}
SCREEN = SENDS | EDITS  # calls whose result is the message as it now stands


def _brief(result: Any) -> Any:
    """What the parent needs of a call's result: a message's id and buttons."""
    if isinstance(result, dict) and "message_id" in result:
        return {"message_id": result["message_id"], "reply_markup": result.get("reply_markup")}
    if isinstance(result, list):
        return [_brief(r) for r in result if isinstance(r, dict) and "message_id" in r]
    return result if isinstance(result, bool) else None


# ======================================================================= child


async def serve(keep_upload_bytes: int) -> None:
    from benchmarks.load.measure import LoopLag
    from tests.fakes.telegram_server import FakeTelegramServer

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, sys.stdout)
    writer = asyncio.StreamWriter(transport, protocol, None, loop)

    def emit(obj: dict[str, Any]) -> None:  # buffered by the transport: never blocks the loop
        writer.write(json.dumps(obj, separators=(",", ":"), default=str).encode() + b"\n")

    def on_call(call: Call) -> None:
        emit({"e": "call", "m": call.method, "p": call.params, "t": call.time, "d": time.monotonic(),
              "s": call.status, "x": call.error, "r": None if call.method == "getUpdates" else _brief(call.result)})

    tg = FakeTelegramServer(keep_upload_bytes=keep_upload_bytes)
    await tg.start()
    tg.listeners.append(on_call)
    emit({"e": "ready", "token": tg.token, "base_url": tg.base_url, "base_file_url": tg.base_file_url})
    lag = LoopLag()
    while line := await reader.readline():
        cmd = json.loads(line)
        op, reply = cmd["op"], {"e": "reply", "id": cmd.get("id")}
        if op == "command":
            reply["at"] = time.monotonic()
            tg.inject_command(cmd["user"], cmd["text"])
        elif op == "callback":
            reply["at"] = time.monotonic()
            reply["query_id"] = tg.inject_callback(cmd["user"], cmd["message_id"], cmd["data"])
        elif op == "proxy_targets":
            tg.proxy_targets = list(cmd["targets"])
        elif op == "deliveries":
            reply["list"] = tg.webhook_deliveries
        elif op == "lag_start":
            lag = LoopLag()
            lag.start()
        elif op == "lag_stop":
            await lag.stop()
            reply |= {"lags": lag.lags_ms, "gc": lag.gc_ms}
        elif op == "stop":
            await tg.stop()
            times = os.times()
            reply["cpu_s"] = times.user + times.system
        emit(reply)
        await writer.drain()
        if op == "stop":
            break


# ====================================================================== parent


class FakeTelegramProcess:
    """The parent's handle on the fake: its address, its calls (kept as they finish),
    the buttons on screen per chat, and the commands that change it."""

    def __init__(self, keep_upload_bytes: int = 64 * 1024) -> None:
        self.keep_upload_bytes = keep_upload_bytes
        self.calls: list[Call] = []
        self.token = self.base_url = self.base_file_url = ""
        self.cpu_s = 0.0  # the fake's own CPU time, known once stopped
        self._listeners: list[Callable[[Call, float], None]] = []
        self._screens: dict[int, dict[int, Any]] = {}  # chat -> bot message id -> its reply_markup
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next_id = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._reading: asyncio.Task[None] | None = None

    async def start(self) -> None:
        env = os.environ | {"PYTHONPATH": str(ROOT)}
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.load.fake_process", "--keep-upload-bytes", str(self.keep_upload_bytes),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT, env=env, limit=1 << 24)
        assert self._proc.stdout is not None
        ready = json.loads(await asyncio.wait_for(self._proc.stdout.readline(), 60) or b"{}")
        if ready.get("e") != "ready":
            raise SystemExit("the fake Bot API did not start")
        self.token, self.base_url, self.base_file_url = ready["token"], ready["base_url"], ready["base_file_url"]
        self._reading = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._proc is None:
            return
        proc, self._proc = self._proc, None  # stopped once
        self.cpu_s = float((await self._ask("stop", proc=proc)).get("cpu_s", 0.0))
        await proc.wait()
        if self._reading is not None:
            await self._reading

    @property
    def pid(self) -> int:
        assert self._proc is not None, "start() first"
        return self._proc.pid

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def listen(self, listener: Callable[[Call, float], None]) -> None:
        """`listener(call, finished_at)` after each call the bot made (the fake's clock)."""
        self._listeners.append(listener)

    def buttons(self, chat: int) -> Iterator[tuple[int, list[list[dict[str, Any]]]]]:
        """The bot's messages in `chat` that have buttons, newest first: (message id, rows)."""
        screen = self._screens.get(chat, {})
        for message_id in sorted(screen, reverse=True):
            rows = (screen[message_id] or {}).get("inline_keyboard")
            if rows:
                yield message_id, rows

    # ----------------------------------------------------------- commands
    async def inject_command(self, user_id: int, text: str) -> float:
        """Hand the bot a command; returns the moment it was handed over (the fake's clock)."""
        return float((await self._ask("command", user=user_id, text=text))["at"])

    async def inject_callback(self, user_id: int, message_id: int, data: str) -> tuple[float, str]:
        """Tap a button: (the moment, by the fake's clock; the callback query id)."""
        reply = await self._ask("callback", user=user_id, message_id=message_id, data=data)
        return float(reply["at"]), str(reply["query_id"])

    async def set_proxy_targets(self, targets: list[str]) -> None:
        await self._ask("proxy_targets", targets=targets)

    async def deliveries(self) -> list[tuple[int, int | None]]:
        """Webhook deliveries so far: (update id, HTTP status or None)."""
        return [tuple(d) for d in (await self._ask("deliveries"))["list"]]  # type: ignore[misc]

    async def start_lag(self) -> None:
        """Start measuring how late the fake's loop wakes up (a late one would inflate latencies)."""
        await self._ask("lag_start")

    async def stop_lag(self) -> tuple[list[float], list[float]]:
        """(the loop's lags, its GC pauses), in ms."""
        reply = await self._ask("lag_stop")
        return list(reply["lags"]), list(reply["gc"])

    async def _ask(self, op: str, proc: asyncio.subprocess.Process | None = None, **fields: Any) -> dict[str, Any]:
        proc = proc or self._proc
        assert proc is not None and proc.stdin is not None, "not running"
        self._next_id += 1
        future = self._replies[self._next_id] = asyncio.get_running_loop().create_future()
        proc.stdin.write(json.dumps({"op": op, "id": self._next_id, **fields}).encode() + b"\n")
        await proc.stdin.drain()
        return await future

    # ------------------------------------------------------------- reading
    async def _read(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        while line := await proc.stdout.readline():
            event = json.loads(line)
            if event["e"] == "call":
                self._on_call(event)
            elif event["e"] == "reply" and (future := self._replies.pop(event["id"], None)) is not None:
                future.set_result(event)
        for future in self._replies.values():  # the fake died: nobody waits forever
            future.set_exception(RuntimeError("the fake Bot API process ended"))

    def _on_call(self, event: dict[str, Any]) -> None:
        call = Call(method=event["m"], params=event["p"], files={}, time=event["t"], status=event["s"],
                    result=event["r"], error=event["x"])
        self.calls.append(call)
        chat = call.params.get("chat_id")
        chat = int(chat) if isinstance(chat, str) and chat.lstrip("-").isdigit() else chat
        if call.ok and isinstance(chat, int):
            screen = self._screens.setdefault(chat, {})
            if call.method in SCREEN and isinstance(call.result, dict):
                screen[call.result["message_id"]] = call.result.get("reply_markup")
            elif call.method == "deleteMessage":
                screen.pop(call.params.get("message_id"), None)
        for listener in self._listeners:
            listener(call, event["d"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep-upload-bytes", type=int, default=64 * 1024)
    asyncio.run(serve(parser.parse_args().keep_upload_bytes))


if __name__ == "__main__":
    main()
