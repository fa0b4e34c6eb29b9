"""Child processes started without stopping the event loop.

asyncio starts a subprocess on the loop's own thread, and the start returns only
once the child has called exec: on a busy machine that stopped the bot's loop for
5-40 ms per ffmpeg (measured with 30 people making videos on 2 cores), and every
tap that arrived meanwhile waited. Here the start runs in a thread; the loop then
reads the pipes, and a thread per child waits for its exit (as asyncio's own
child watcher does).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import subprocess
import threading
from collections.abc import Sequence
from typing import IO



class Child:
    """A started process: its output streams, its exit, and a way to stop it."""

    def __init__(self, popen: subprocess.Popen[bytes], stdout: asyncio.StreamReader | None,
                 stderr: asyncio.StreamReader | None, exited: asyncio.Future[int]) -> None:
        self._popen, self._exited = popen, exited
        self.stdout, self.stderr = stdout, stderr

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._exited.result() if self._exited.done() else None

    def kill(self) -> None:
        if not self._exited.done():
            with contextlib.suppress(ProcessLookupError):
                self._popen.kill()

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    async def communicate(self) -> tuple[bytes, bytes]:
        """Both pipes read to their end, then the exit awaited (like asyncio's)."""
        out, err = await asyncio.gather(_read_all(self.stdout), _read_all(self.stderr))
        await self.wait()
        return out, err


async def start(cmd: Sequence[str], *, stdout: bool = False, stderr: bool = True) -> Child:
    """`cmd` started in a session of its own (no shell, stdin closed); `stdout` and
    `stderr` say which of its outputs come back as streams (the rest is discarded)."""
    loop = asyncio.get_running_loop()
    pipe = subprocess.PIPE
    started = loop.run_in_executor(None, functools.partial(
        subprocess.Popen, list(cmd), stdin=subprocess.DEVNULL, stdout=pipe if stdout else subprocess.DEVNULL,
        stderr=pipe if stderr else subprocess.DEVNULL, start_new_session=True))
    try:
        popen = await asyncio.shield(started)
    except asyncio.CancelledError:  # the start goes on in its thread: stop what it starts
        started.add_done_callback(functools.partial(_abandon, loop))
        raise
    try:
        out = await _stream(loop, popen.stdout)
        err = await _stream(loop, popen.stderr)
        return Child(popen, out, err, _exit_of(loop, popen))
    except BaseException:
        _stop(loop, popen)
        raise


async def _stream(loop: asyncio.AbstractEventLoop, pipe: IO[bytes] | None) -> asyncio.StreamReader | None:
    if pipe is None:
        return None
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    return reader


async def _read_all(stream: asyncio.StreamReader | None) -> bytes:
    return await stream.read() if stream is not None else b""


def _exit_of(loop: asyncio.AbstractEventLoop, popen: subprocess.Popen[bytes]) -> asyncio.Future[int]:
    """A future of the exit code, set by a thread that waits for the child and reaps it.
    Not on the loop: a pidfd says "exited" before the zombie can be reaped, and the
    reaping waited up to 2 s for an encoder in the idle scheduling class to get a core."""
    exited: asyncio.Future[int] = loop.create_future()

    def settle(code: int) -> None:
        if not exited.done():
            exited.set_result(code)

    def wait() -> None:
        code = popen.wait()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            loop.call_soon_threadsafe(settle, code)

    threading.Thread(target=wait, name=f"wait for {popen.pid}", daemon=True).start()
    return exited


def _abandon(loop: asyncio.AbstractEventLoop, started: asyncio.Future[subprocess.Popen[bytes]]) -> None:
    if not started.cancelled() and started.exception() is None:
        _stop(loop, started.result())


def _stop(loop: asyncio.AbstractEventLoop, popen: subprocess.Popen[bytes]) -> None:
    """Killed, its pipes closed and the zombie reaped in a thread."""
    with contextlib.suppress(ProcessLookupError):
        popen.kill()
    for pipe in (popen.stdout, popen.stderr):
        if pipe is not None:
            pipe.close()
    _exit_of(loop, popen)
