"""Providers failing: the bot process against fake OpenAI, Leonardo and
ElevenLabs servers that fail 30% of all requests (429, 500, 503, or hang
until the client gives up), a video job that never finishes, a download cut
in half. Runs finish where a retry can succeed; where it cannot, the person
gets one clear message and a button that works; no traceback reaches them
and no paid job is paid twice.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from tests.resilience.harness import (
    CC,
    PROOF,
    BotProcess,
    Fakes,
    Person,
    RunReader,
    drive,
    make_policy,
    secret_for,
    secrets_in_log,
    user_visible_problems,
)
from tests.resilience.report import record

ALICE = 1001
SEEDS = (11, 12, 13, 14, 15, 16) if PROOF else (11,)


def failure_texts(person: Person) -> list[str]:
    """The failure messages sent to the person (progress messages edited to "failed" aside)."""
    return [c.params.get("text", "") for c in person.tg.calls_to("sendMessage")
            if c.ok and c.params.get("chat_id") in (person.user, str(person.user))
            and str(c.params.get("text", "")).startswith("⚠️")]


async def test_thirty_percent_of_provider_calls_fail(fakes: Fakes, tmp_path: Path) -> None:
    rows = []
    for seed in SEEDS:
        user = ALICE + seed
        fakes.flaky(0.3, seed)
        fakes.tg.add_user(user)
        bot = BotProcess(fakes, tmp_path / f"seed{seed}", users=(user,), workflow=CC)
        await bot.start()
        person = Person(fakes.tg, user, secret_for(fakes))
        reader = RunReader(bot.db_path, CC)
        before = {name: len(f.requests) for name, f in fakes.providers.items()}
        paid_before = len(fakes.paid_creates())
        llm_before = fakes.llm_calls()
        try:
            result = await drive(bot, reader, person, make_policy(), timeout=300)
        finally:
            await bot.stop()
        events = Counter(e.type for e in reader.events(result.run_id))
        requests = sum(len(f.requests) - before[n] for n, f in fakes.providers.items())
        faults = sum(1 for n, f in fakes.providers.items() for r in f.requests[before[n]:] if r.fault)
        shown = failure_texts(person)
        rows.append({"seed": seed, "finished": int(reader.run(result.run_id).status == "completed"),
                     "provider_requests": requests, "faults_injected": faults,
                     "errors_shown": len(shown), "retry_taps": events["module_error"] + events["job_failed"],
                     "paid_creates": len(fakes.paid_creates()) - paid_before,
                     "jobs_submitted": events["job_submitted"], "llm_calls": fakes.llm_calls() - llm_before,
                     "llm_call_events": events["llm_call"], "seconds": round(result.seconds, 1)})
        assert reader.run(result.run_id).status == "completed"
        assert faults >= 2, "the faults really happened"
        assert len(fakes.paid_creates()) - paid_before == events["job_submitted"], "every paid job is one job"
        assert fakes.llm_calls() - llm_before == events["llm_call"], "every LLM answer paid for is used"
        # a failure the retries could not absorb is told once, in words, with a way on
        assert len(shown) == events["module_error"] + events["job_failed"], shown
        assert user_visible_problems(fakes, [user]) == []
        assert secrets_in_log(bot.log_text(), fakes) == []
    fakes.flaky(0.0, 0)
    if PROOF:
        record("provider_faults", {"runs": rows, "rate": "30% of all provider requests (429/500/503/hang)"})


async def test_a_job_that_never_finishes_and_a_download_cut_in_half(fakes: Fakes, tmp_path: Path) -> None:
    """The first video job never finishes: after the (scaled-down) job timeout
    the person is told and taps Generate again, which works. The next
    download is cut in half: downloaded again, not paid again."""
    bot = BotProcess(fakes, tmp_path / "data", users=(ALICE,), workflow=CC, env={"RESILIENCE_JOB_TIMEOUT_S": "2"})
    await bot.start()
    person = Person(fakes.tg, ALICE, secret_for(fakes))
    reader = RunReader(bot.db_path, CC)
    cut = False

    def before_generate(module: str, attempt: int) -> None:  # (called on every look at a Generate button)
        nonlocal cut
        if module == "generate_and_select_videos":
            tried = len(fakes.leonardo.calls("POST", "/api/rest/v1/generations-image-to-video"))
            fakes.leonardo.pending_polls = 10**9 if tried == 0 else 1
            if tried == 1 and not cut:
                cut = True
                fakes.leonardo.truncate_next = 1

    started = time.monotonic()
    try:
        result = await drive(bot, reader, person, make_policy(before_generate=before_generate), timeout=120)
    finally:
        await bot.stop()
    run = reader.run(result.run_id)
    assert run.status == "completed"
    videos = [j for j in run.jobs.values() if j.action_type == "img2vid"]
    assert [j.status for j in videos] == ["failed", "completed"]
    assert "took too long" in (videos[0].error or "")
    shown = failure_texts(person)
    assert len(shown) == 1 and "took too long" in shown[0] and "try again" in shown[0]
    creates = fakes.leonardo.calls("POST", "/api/rest/v1/generations-image-to-video")
    assert len(creates) == 2, "the timed-out job and the new try; the cut download was not paid again"
    downloads = [r for r in fakes.leonardo.requests if r.path.startswith("/cdn/") and r.path.endswith(".mp4")]
    assert len(downloads) == 2, "cut once, downloaded again"
    assert user_visible_problems(fakes, [ALICE]) == []
    assert time.monotonic() - started < 60
