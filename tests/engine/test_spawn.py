"""Child processes started off the event loop (engine/media/spawn.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import pytest

from engine.media import spawn

pytestmark = pytest.mark.asyncio


@contextlib.asynccontextmanager
async def loop_ticks() -> AsyncIterator[list[int]]:
    """How many times a 10 ms sleep came round on the loop while the block ran."""
    ticks = [0]

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.01)
            ticks[0] += 1

    ticker = asyncio.create_task(tick())
    try:
        yield ticks
    finally:
        ticker.cancel()


async def test_output_and_exit_code_come_back() -> None:
    child = await spawn.start([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); "
                               "sys.exit(3)"], stdout=True)
    out, err = await child.communicate()
    assert (out.strip(), err.strip(), child.returncode) == (b"out", b"err", 3)
    assert await child.wait() == 3  # a second wait has the same answer


async def test_a_killed_child_is_reaped_and_reports_the_signal() -> None:
    child = await spawn.start([sys.executable, "-c", "import time; time.sleep(30)"], stderr=False)
    assert child.returncode is None
    child.kill()
    assert await asyncio.wait_for(child.wait(), 10) == -9
    with pytest.raises(ChildProcessError):  # no zombie left behind
        os.waitpid(child.pid, os.WNOHANG)
    child.kill()  # after the exit: nothing happens (the pid may belong to someone else by now)


async def test_the_loop_keeps_running_while_a_child_is_reaped(monkeypatch: pytest.MonkeyPatch) -> None:
    # Linux may report a child as exited before its zombie can be reaped: with an encoder in
    # the idle scheduling class on a busy machine, waitpid() then took up to 2 s
    real_wait = subprocess.Popen.wait

    def slow_wait(self: subprocess.Popen[bytes], timeout: float | None = None) -> int:
        time.sleep(0.3)
        return real_wait(self, timeout)

    monkeypatch.setattr(subprocess.Popen, "wait", slow_wait)
    async with loop_ticks() as ticks:
        child = await spawn.start([sys.executable, "-c", "raise SystemExit(5)"])
        assert await asyncio.wait_for(child.wait(), 10) == 5
    assert ticks[0] >= 10  # the loop ran while the exit was awaited


async def test_the_loop_keeps_running_while_a_child_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    real_popen = subprocess.Popen

    def slow_popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        time.sleep(0.3)  # a start on a busy machine: the child waits for a core before exec
        return real_popen(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(subprocess, "Popen", slow_popen)
    async with loop_ticks() as ticks:
        child = await spawn.start([sys.executable, "-c", "pass"])
    await child.wait()
    assert ticks[0] >= 10  # the loop ran during the 0.3 s start (with asyncio's own start it ran 0 times)


async def test_a_start_cancelled_half_way_leaves_no_process_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    real_popen, started = subprocess.Popen, []

    def slow_popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        time.sleep(0.2)
        popen = real_popen(*args, **kwargs)  # type: ignore[arg-type]
        started.append(popen)
        return popen

    monkeypatch.setattr(subprocess, "Popen", slow_popen)
    task = asyncio.create_task(spawn.start([sys.executable, "-c", "import time; time.sleep(30)"]))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):  # the start finishes in its thread; what it started is then stopped
        if started and started[0].returncode is not None:
            break
        await asyncio.sleep(0.05)
    assert started and started[0].returncode == -9
