"""TEST-ONLY fault injection: a real SIGKILL right after a chosen event is committed.

The resilience tests start the bot as a subprocess (botproc.py) with, e.g.,

    CCBOT_FAULT_KILL_AFTER=job_submitted:1

and botproc installs `kill_after(...)` as the store's `after_commit` hook: the
process kills itself (SIGKILL: no cleanup, no last message, no flush) right
after the append that writes its 1st `job_submitted` event has been committed.
Counting is per process, so a restarted bot without the variable (or with
another spec) runs on normally. Production code only offers the hook.
"""

from __future__ import annotations

import os
import signal

from engine.store import CommitHook

ENV = "CCBOT_FAULT_KILL_AFTER"
ENV_BEFORE = "CCBOT_FAULT_KILL_BEFORE"  # the same, just before the chosen event is committed


def kill_after(spec: str | None) -> CommitHook | None:
    """A commit hook for "kind:nth" (None when no spec is given)."""
    if not spec:
        return None
    kind, _, nth = spec.partition(":")
    kind, wanted = kind.strip(), max(1, int(nth or 1))
    seen = 0

    def hook(event_types: list[str]) -> None:
        nonlocal seen
        seen += sum(1 for t in event_types if t == kind)
        if seen >= wanted:
            os.kill(os.getpid(), signal.SIGKILL)

    return hook
