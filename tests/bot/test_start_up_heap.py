"""Start-up tuning of the bot process. The start-up heap is frozen, so a full
collection no longer walks it (each one stopped the bot's event loop ~100 ms under
load; checked in a fresh interpreter, since this process's heap is the test suite's).
The event loop waits at most 1 ms for a thread that holds the GIL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CODE = """
import gc
import bot.telegram.app, engine.api, engine.providers.live  # what `ccbot run` imports to start
from bot.main import freeze_start_up_heap
gc.collect()
before = len(gc.get_objects(generation=2))
freeze_start_up_heap()
print(before, len(gc.get_objects(generation=2)), gc.get_freeze_count())
"""


def test_a_full_collection_after_start_up_walks_almost_nothing_of_the_start_up_heap() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr[-2000:]
    before, after, frozen = map(int, out.stdout.split())
    assert before > 50_000, "the imports alone leave a large long-lived heap"
    assert after < before // 100 and frozen > before * 0.9  # (the collection before it frees a few)


def test_the_event_loop_waits_at_most_1_ms_for_a_thread_holding_the_gil() -> None:
    from bot.main import favour_the_event_loop

    default = sys.getswitchinterval()
    try:
        favour_the_event_loop()
        assert sys.getswitchinterval() == 0.001 < default
    finally:
        sys.setswitchinterval(default)
