"""TEST-ONLY fault injection: a real SIGKILL right after a chosen event is committed.

Inert unless the environment variable is set when this module is imported;
production never sets it. The resilience tests (tests/resilience) start the
bot as a subprocess with, for example::

    CCBOT_FAULT_KILL_AFTER=job_submitted:1

and the process kills itself (SIGKILL: no cleanup, no last message, no
flush) right after the append that writes its 1st `job_submitted` event has
been committed to SQLite. Counting is per process, so a restarted bot without
the variable (or with another spec) runs on normally.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable

ENV = "CCBOT_FAULT_KILL_AFTER"


def _parse(raw: str | None) -> tuple[str, int] | None:
    if not raw:
        return None
    kind, _, nth = raw.partition(":")
    return kind.strip(), max(1, int(nth or 1))


KILL_AFTER = _parse(os.environ.get(ENV))
_seen = 0


def after_commit(event_types: Iterable[str]) -> None:
    """Called by Store.append once its events are committed; SIGKILLs on the chosen one."""
    global _seen
    if KILL_AFTER is None:
        return
    kind, nth = KILL_AFTER
    _seen += sum(1 for t in event_types if t == kind)
    if _seen >= nth:
        os.kill(os.getpid(), signal.SIGKILL)
