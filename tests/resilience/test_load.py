"""Many people at once: each does a whole run, tapping as soon as the next
question is there, against the bot process with its providers live and
pointed at the fakes (provider delays scaled down: a video takes a few polls,
every answer comes at once).

`make test`: 8 people on the mini workflow. `make proof`: 50 people on the
full CC workflow, final render (ffmpeg) included; the measurements go to the
report: completions, latency percentiles, peak RSS, SQLite file size.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from tests.resilience.harness import (
    CC,
    MINI,
    PROOF,
    BotProcess,
    Fakes,
    Person,
    RunReader,
    drive,
    make_policy,
    secret_for,
    tally,
    user_visible_problems,
)
from tests.resilience.report import record

FIRST_USER = 5001


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


async def sample_rss(pid: int, peak: list[float], stop: asyncio.Event) -> None:
    """The bot process and its children (ffmpeg), every 100 ms."""
    import psutil

    with contextlib.suppress(psutil.Error):
        proc = psutil.Process(pid)
        while not stop.is_set():
            total = proc.memory_info().rss
            for child in proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += child.memory_info().rss
            peak[0] = max(peak[0], total / 1_048_576)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)


async def test_many_people_at_once(fakes: Fakes, tmp_path: Path) -> None:
    users = tuple(FIRST_USER + i for i in range(50 if PROOF else 8))
    workflow = CC if PROOF else MINI
    fakes.leonardo.pending_polls = 3  # a clip takes a few polls
    bot = BotProcess(fakes, tmp_path / "data", users=users, workflow=workflow)
    await bot.start()
    reader = RunReader(bot.db_path, workflow)
    people = [Person(fakes.tg, user, secret_for(fakes)) for user in users]
    peak, stop = [0.0], asyncio.Event()
    assert bot.proc is not None
    sampler = asyncio.create_task(sample_rss(bot.proc.pid, peak, stop))
    started = time.monotonic()
    failures: list[str] = []

    async def one(person: Person) -> str | None:
        try:
            return (await drive(bot, reader, person, make_policy(), timeout=900, show_timeout=120)).run_id
        except (TimeoutError, AssertionError) as exc:
            failures.append(f"{person.user}: {str(exc)[:300]}")
            return None

    try:
        run_ids = await asyncio.gather(*(one(p) for p in people))
        wall = time.monotonic() - started
    finally:
        stop.set()
        await sampler
        stats = await bot.stop()
    finished = [r for r in run_ids if r]
    answers = [s for p in people for s in p.answer_latencies()]
    waits = [w for p in people for w in p.waits]
    db = bot.db_path
    db_bytes = sum(f.stat().st_size for f in db.parent.glob(db.name + "*"))
    counts = tally(fakes, reader, finished, list(users))
    row = {
        "users": len(users), "workflow": workflow.name, "finished": len(finished), "wall_s": round(wall, 1),
        "taps": len(answers),
        "tap_answer_p50_ms": round(pct(answers, 0.5) * 1000), "tap_answer_p95_ms": round(pct(answers, 0.95) * 1000),
        "tap_answer_max_ms": round(max(answers) * 1000) if answers else None,
        "next_question_p50_s": round(pct(waits, 0.5), 2), "next_question_p95_s": round(pct(waits, 0.95), 2),
        "peak_rss_bot_mb": round(stats.get("maxrss_mb", 0)), "peak_rss_with_ffmpeg_mb": round(peak[0]),
        "sqlite_mb": round(db_bytes / 1_048_576, 2), "sqlite_kb_per_run": round(db_bytes / 1024 / max(1, len(finished))),
        "paid_twice": counts.paid_twice, "delivered_twice": counts.media_sent_twice,
    }
    if PROOF:
        record("load", row)
    assert failures == []
    assert len(finished) == len(users)
    assert counts.paid_twice == 0 and counts.media_sent_twice == 0
    assert user_visible_problems(fakes, list(users)) == []
    assert "Traceback" not in bot.log_text(), bot.log_tail()
    assert pct(answers, 0.95) < (5.0 if PROOF else 2.0), row
