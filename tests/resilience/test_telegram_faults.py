"""Telegram failing under the bot process: 429 with retry_after, 5xx on
sends and on answers, network drops while long-polling for updates. No update
is lost or handled twice; the run finishes; a failed send is told to the
person with the way back (/status), never as a traceback.
"""

from __future__ import annotations

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
    secret_for,
    settle,
    taps_handled_twice,
    user_visible_problems,
)
from tests.resilience.report import record

ALICE, BOB = 1001, 1002

# (tap number, what breaks just before that tap)
FAULTS: list[tuple[int, str]] = [
    (1, "answer-429"), (2, "send-429"), (3, "updates-drop"), (4, "answer-500"), (6, "send-500"),
    (8, "photo-502"), (10, "edit-502"),
]
if PROOF:
    FAULTS += [(12, "video-429"), (14, "updates-drop"), (16, "send-502")]


def inject(fakes: Fakes, fault: str) -> None:
    tg = fakes.tg
    if fault == "answer-429":
        tg.fail_next("answerCallbackQuery", 429, retry_after=1)
    elif fault == "answer-500":
        tg.fail_next("answerCallbackQuery", 500)
    elif fault == "send-429":
        tg.fail_next("sendMessage", 429, retry_after=1)
    elif fault in ("send-500", "send-502"):
        tg.fail_next("sendMessage", int(fault[-3:]))
    elif fault == "photo-502":
        tg.fail_next("sendPhoto", 502)
    elif fault == "video-429":
        tg.fail_next("sendVideo", 429, retry_after=1)
    elif fault == "edit-502":
        tg.fail_next("editMessageText", 502, count=2)
    elif fault == "updates-drop":
        tg.drop_connection_next("getUpdates", 3)
        for _ in range(3):  # and Bob writes meanwhile: each of these must be answered exactly once
            tg.inject_message(BOB, "/help")


async def test_telegram_errors_lose_no_update_and_handle_none_twice(fakes: Fakes, tmp_path: Path) -> None:
    bot = BotProcess(fakes, tmp_path / "data", users=(ALICE, BOB), workflow=CC)
    await bot.start()
    tg = fakes.tg
    alice = Person(tg, ALICE, secret_for(fakes))
    reader = RunReader(bot.db_path, CC)
    pending = dict(FAULTS)
    inner = make_policy()

    def policy(run: Any, person: Person, counts: dict[str, int]) -> Any:
        decision = inner(run, person, counts)
        fault = pending.pop(person.presses + 1, None) if hasattr(decision, "label") else None
        if fault:
            inject(fakes, fault)
        return decision

    try:
        result = await drive(bot, reader, alice, policy, recover=True, timeout=120)
        await settle(tg, answered=False)  # (a tap whose answer got a 500 keeps its spinner)
    finally:
        await bot.stop()
    assert pending == {}, "every fault was injected"
    run = reader.run(result.run_id)
    assert run.status == "completed"
    injected = [c for c in tg.calls if c.status in (429, 500, 502) or c.status == 0]
    assert len(injected) >= len(FAULTS) + 2

    # no tap handled twice, none lost
    answers = Counter(c.params["callback_query_id"] for c in tg.calls_to("answerCallbackQuery") if c.ok)
    queries = [qid for qid in tg._callbacks]
    assert max(answers.values()) == 1 and taps_handled_twice(tg) == 0, "no tap handled twice"
    failed_answers = {c.params["callback_query_id"] for c in tg.calls_to("answerCallbackQuery") if c.status == 500}
    assert set(queries) - set(answers) <= failed_answers, "every tap answered (unless its answer got a 500)"
    per_interaction = Counter(e.data["interaction_id"] for e in reader.events(result.run_id)
                              if e.type == "interaction_response")
    assert max(per_interaction.values()) == 1
    helps = [c for c in tg.calls_to("sendMessage") if c.ok and c.params.get("chat_id") in (BOB, str(BOB))]
    drops = sum(1 for _, f in FAULTS if f == "updates-drop")
    assert len(helps) == 3 * drops, "Bob's /help during the getUpdates drops: each answered once"
    # 429s were waited out (the retry came after retry_after), not turned into errors
    for method in ("answerCallbackQuery", "sendMessage", "sendVideo"):
        calls = tg.calls_to(method)
        for i, call in enumerate(calls[:-1]):
            if call.status == 429:
                assert calls[i + 1].time - call.time >= 0.9, method
    # a failed send is told in words, with the way back; at most as often as sends failed
    told = [t for t in alice.texts() if "Something went wrong on my side" in t]
    assert 1 <= len(told) <= 4 and result.recoveries <= len(told)
    assert user_visible_problems(fakes, [ALICE, BOB]) == []
    assert "Traceback" not in "\n".join(alice.texts())
    record("telegram_faults", {"faults": ", ".join(f for _, f in FAULTS), "failed_calls": len(injected),
                               "taps": len(queries), "taps_handled_twice": taps_handled_twice(tg),
                               "bob_help_sent": 3 * drops, "bob_help_answered": len(helps), "finished": 1,
                               "told_something_went_wrong": len(told), "followed_status": result.recoveries})
