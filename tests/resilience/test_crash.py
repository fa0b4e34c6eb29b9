"""Kill the bot process (a real SIGKILL) right after an event is committed,
start it again on the same files, and finish the run by tapping buttons.

The fault hook (tests/resilience/faults.py, installed by the test's bot process) kills the process right after
the append that writes the chosen event. The fake Telegram and provider
servers live in the test process and outlive every bot process, so they see
what the world would see: every tap, every message and file sent, every paid
request. Per run we count: finished, answers lost (against the same script
played without crashes), paid jobs (and LLM answers) paid twice, files
delivered twice, taps handled twice.

`make test` kills one run five times at representative boundaries (an
answer, a module finishing, a paid job created, submitted and completed);
`make proof` kills a fresh run once after every kind of event the script
writes, at its first, middle and last occurrence.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.resilience.harness import (
    CC,
    PROOF,
    BotProcess,
    Fakes,
    Person,
    RunReader,
    drive,
    make_policy,
    proof_only,
    secret_for,
    secrets_in_log,
    tally,
    user_visible_problems,
)
from tests.resilience.report import record

ALICE = 1001


class Faults:
    """Provider trouble at fixed points of the script, so that the run also
    writes module_error, job_failed and the recovery from them."""

    def __init__(self, fakes: Fakes) -> None:
        self.fakes = fakes
        self.llm_failed = False

    def before_generate(self, module: str, attempt: int) -> None:
        """(called on every look at a Generate button: decides by what the provider has seen)"""
        first_image = not self.fakes.openai.calls("POST", "/v1/images/generations")
        # the very first image request is refused (nothing is charged), the rest go through
        self.fakes.openai.scenario = "refused" if module == "generate_and_select_images" and first_image else "success"

    def policy(self, rich: bool) -> Any:
        inner = make_policy(retry=rich, jump=rich, before_generate=self.before_generate if rich else None)

        def policy(run, person, counts):
            decision = inner(run, person, counts)
            if not rich:
                return decision
            pending = run.pending["request"]["module_name"] if run.pending else None
            if pending == "get_user_direction" and not self.llm_failed:
                self.llm_failed = True  # the scene ideas call that follows fails (after the SDK's retries)
                self.fakes.openai.scenario = "server_error"
            elif getattr(decision, "label", "") == "Try again":
                self.fakes.openai.scenario = "success"
            return decision

        return policy


async def play(fakes: Fakes, data_dir: Path, *, kills: list[str], rich: bool) -> dict[str, Any]:
    """One run of the script; the bot dies after each spec in `kills`, in turn."""
    pending_kills = list(kills)
    bot = BotProcess(fakes, data_dir, users=(ALICE,), workflow=CC)
    reader = RunReader(bot.db_path, CC)
    person = Person(fakes.tg, ALICE, secret_for(fakes))
    faults = Faults(fakes)

    async def restart() -> None:
        await bot.start(pending_kills.pop(0) if pending_kills else None)

    await restart()
    try:
        result = await drive(bot, reader, person, faults.policy(rich), restart=restart)
    finally:
        await bot.stop()
    counts = tally(fakes, reader, [result.run_id], [ALICE])
    events = Counter(e.type for e in reader.events(result.run_id))
    return {"result": result, "tally": counts, "kills": bot.kills, "events": events, "bot": bot,
            "unused_kills": pending_kills}


def check(outcome: dict[str, Any], reference: dict[str, Any], fakes: Fakes, what: str) -> None:
    t, ref = outcome["tally"], reference["tally"]
    assert t.answers == ref.answers, f"{what}: answers differ (lost or changed)"
    assert t.paid_twice == 0, f"{what}: {t.paid_creates} paid requests for {t.submitted_events} submitted jobs"
    assert t.double_submitted_jobs == 0, what
    assert t.llm_calls == t.llm_call_events, f"{what}: {t.llm_calls} LLM answers paid, {t.llm_call_events} used"
    assert t.media_sent_twice == 0, f"{what}: a file was delivered twice"
    assert t.taps_handled_twice == 0, f"{what}: a tap was handled again after the restart"
    assert user_visible_problems(fakes, [ALICE]) == [], what
    assert secrets_in_log(outcome["bot"].log_text(), fakes) == [], what


async def reference_run(tmp_path: Path, rich: bool) -> dict[str, Any]:
    async with Fakes() as fakes:
        outcome = await play(fakes, tmp_path / "reference", kills=[], rich=rich)
        assert outcome["kills"] == 0
        check(outcome, outcome, fakes, "reference")
        return outcome


async def test_killed_at_representative_boundaries_loses_nothing(tmp_path: Path) -> None:
    """One run, killed five times: after an answer, after a module's result,
    after a paid job was submitted, after it completed, after the video job
    was created (not yet sent: it is failed, not resent, and made again).
    The same script without crashes runs alongside, for comparison."""
    kills = ["interaction_response:2", "module_completed:2", "job_submitted:1", "job_completed:1",
             "job_created:1"]

    async def crashed() -> tuple[dict[str, Any], Fakes]:
        async with Fakes() as fakes:
            return await play(fakes, tmp_path / "crashed", kills=kills, rich=False), fakes

    reference, (outcome, fakes) = await asyncio.gather(reference_run(tmp_path, rich=False), crashed())
    assert outcome["unused_kills"] == []
    assert outcome["kills"] == len(kills)
    check(outcome, reference, fakes, "chained kills")
    assert outcome["tally"].interrupted == 1  # the job created but not sent when the bot died


@proof_only
async def test_killed_after_every_kind_of_event(tmp_path: Path) -> None:
    reference = await reference_run(tmp_path, rich=True)
    kinds = reference["events"]
    rows = []
    started = time.monotonic()
    only = os.environ.get("CCBOT_PROOF_ONLY")  # e.g. "job_submitted,step_completed" while debugging
    for kind in sorted(k for k in kinds if not only or k in only.split(",")):
        for nth in sorted({1, (kinds[kind] + 1) // 2, kinds[kind]}):
            async with Fakes() as fakes:
                outcome = await play(fakes, tmp_path / f"{kind}-{nth}", kills=[f"{kind}:{nth}"], rich=True)
                t = outcome["tally"]
                lost = len(set(reference["tally"].answers) - set(t.answers))
                rows.append({"event": kind, "nth": nth, "finished": 1, "killed": outcome["kills"],
                             "answers_lost": lost, "paid_twice": t.paid_twice,
                             "llm_paid_twice": t.llm_calls - t.llm_call_events,
                             "delivered_twice": t.media_sent_twice, "taps_handled_twice": t.taps_handled_twice,
                             "restarts": outcome["result"].restarts})
                assert outcome["kills"] == 1, f"{kind}:{nth} did not kill"
                check(outcome, reference, fakes, f"{kind}:{nth}")
    record("crash", {"runs": rows, "kinds": len(kinds), "seconds": round(time.monotonic() - started, 1)})
    assert not [r for r in rows if r["answers_lost"] or r["paid_twice"] or r["delivered_twice"]]
    assert "job_progress" in kinds and len(kinds) >= 18


if PROOF:  # the rich script (a retry, a jump, an LLM failure, a refused image) must itself be sound
    async def test_rich_reference_run(tmp_path: Path) -> None:
        outcome = await reference_run(tmp_path, rich=True)
        assert {"retry_requested", "jump_requested", "module_error", "job_failed"} <= set(outcome["events"])
