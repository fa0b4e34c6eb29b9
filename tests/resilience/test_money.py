"""Money across a real SIGKILL: the bot dies after a provider took a paid
request but before the bot wrote that down. The accounting still holds that
call, once: reserved at its estimate before the call, never lost, never
counted twice, and nothing is resubmitted behind the person's back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from engine.state import RunState
from tests.resilience.harness import (
    CC,
    BotProcess,
    Fakes,
    Person,
    RunReader,
    drive,
    make_policy,
    secret_for,
    user_visible_problems,
)
from tests.resilience.report import record

ALICE = 1001


def ledger(db: Path, owner: str) -> list[tuple[str, str, str, float, float | None]]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT key, provider, status, estimate_usd, actual_usd FROM spend WHERE owner=?"
                           " ORDER BY created_at", (owner,)).fetchall()


async def played_with_one_kill(fakes: Fakes, tmp_path: Path, kill: str) -> tuple[BotProcess, RunReader, Person, RunState]:
    """One whole CC run by ALICE, the bot SIGKILLed once right before `kill` (event:occurrence)
    is written, then started again; the run must have finished. Its state is returned last."""
    bot = BotProcess(fakes, tmp_path / "data", users=(ALICE,), workflow=CC)
    reader = RunReader(bot.db_path, CC)
    person = Person(fakes.tg, ALICE, secret_for(fakes))
    kills = [kill]

    async def restart() -> None:
        await bot.start(kill_before=kills.pop(0) if kills else None)

    await restart()
    try:
        result = await drive(bot, reader, person, make_policy(), restart=restart)
    finally:
        await bot.stop()
    assert bot.kills == 1 and kills == []
    run = reader.run(result.run_id)
    assert run.status == "completed"
    return bot, reader, person, run


async def test_a_kill_between_a_paid_call_and_its_record_is_charged_once(fakes: Fakes, tmp_path: Path) -> None:
    # the first paid media call (the pictures): taken, then the bot dies
    bot, _, person, run = await played_with_one_kill(fakes, tmp_path, "job_submitted:1")
    jobs = [r for r in ledger(bot.db_path, person.owner) if r[0].startswith("job_")]
    paid = fakes.paid_creates()
    assert len(jobs) == len(paid), f"every paid media call once in the accounting: {jobs} vs {len(paid)} paid"
    (lost,) = [r for r in jobs if r[2] == "reserved"]  # the call whose record never came: at its estimate
    assert lost[3] > 0 and lost[4] is None
    interrupted = [j for j in run.jobs.values() if j.status == "failed"]
    assert len(interrupted) == 1 and "not charged twice" in (interrupted[0].error or "")
    llm = [r for r in ledger(bot.db_path, person.owner) if r[0].startswith("llm_")]
    assert len(llm) == fakes.llm_calls(), "every LLM call once in the accounting"
    assert all(r[2] == "charged" for r in llm)
    assert user_visible_problems(fakes, [ALICE]) == []
    record("money_kill", {"paid_media_calls": len(paid), "accounting_rows": len(jobs), "counted_at_estimate": 1,
                          "llm_calls": fakes.llm_calls(), "llm_rows": len(llm)})


async def test_a_kill_after_leonardo_took_a_clip_is_found_again_and_paid_once(fakes: Fakes, tmp_path: Path) -> None:
    """The same kill on the first clip (Leonardo: a job id that can be lost): after the restart the
    clip is found at Leonardo by its prompt and time and finished; nothing is left at its estimate."""
    # the pictures are the 1st paid media call; the 2nd is the first clip
    bot, reader, person, run = await played_with_one_kill(fakes, tmp_path, "job_submitted:2")
    (found,) = [e for e in reader.events(run.run_id) if e.type == "job_submitted" and e.data.get("recovered")]
    assert run.jobs[found.data["job_id"]].provider == "leonardo"
    assert run.jobs[found.data["job_id"]].status == "completed"
    jobs = [r for r in ledger(bot.db_path, person.owner) if r[0].startswith("job_")]
    assert len(jobs) == len(fakes.paid_creates()), "every paid media call once in the accounting"
    assert all(r[2] == "charged" for r in jobs), jobs
    assert not [j for j in run.jobs.values() if j.status == "failed"], "nothing interrupted"
    assert user_visible_problems(fakes, [ALICE]) == []
