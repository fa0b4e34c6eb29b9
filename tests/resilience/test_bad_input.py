"""People (and attackers) pressing the wrong things, through the real bot
process, the fake Bot API and the fake providers.

Nobody unknown costs a cent; forged, replayed and stale buttons change
nothing; wrong kinds of messages get a hint and the question again; a storm
of 50 taps in one second makes one job and leaves everyone else served.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bot import callbacks
from tests.resilience.harness import (
    CC,
    MINI,
    BotProcess,
    Fakes,
    Person,
    Press,
    RunReader,
    drive,
    make_policy,
    provider_requests,
    secret_for,
    secrets_in_log,
    settle,
    user_visible_problems,
)
from tests.resilience.report import record

ALICE, BOB, MALLORY = 1001, 1002, 6666
LONG = "Meow! " * 1667  # 10,002 characters


def fingerprint(reader: RunReader, fakes: Fakes, owner: str) -> tuple[int, int, int]:
    """What a refused tap must not change: the run's events, provider requests, paid work."""
    run_id = reader.run_id(owner)
    return (len(reader.events(run_id)) if run_id else 0, provider_requests(fakes), len(fakes.paid_creates()))


def answer_of(fakes: Fakes, query: str) -> str:
    answer = fakes.tg.callback_answer(query)
    assert answer is not None, "every tap gets an answer"
    return str(answer.get("text") or "")


async def test_unknown_users_are_refused_without_any_provider_call(fakes: Fakes, tmp_path: Path) -> None:
    bot = BotProcess(fakes, tmp_path / "data", users=(ALICE, BOB), workflow=CC)
    await bot.start()
    tg = fakes.tg
    try:
        alice = Person(tg, ALICE, secret_for(fakes))
        reader = RunReader(bot.db_path, CC)
        await drive(bot, reader, alice, make_policy(stop_at="select_aesthetic"))
        await settle(tg)
        before = fingerprint(reader, fakes, alice.owner)
        mark = tg.mark()

        # Mallory tries everything: commands, text, files, forged and stolen buttons
        for text in ("/start", "/new", "/status", "/history", "hello", LONG, "/cancel"):
            tg.inject_message(MALLORY, text)
        tg.inject_message(MALLORY, "", sticker=True)
        tg.inject_message(MALLORY, "look", photo=True)
        tg.inject_message(MALLORY, "", document=True)
        stolen = alice.find(Press("Comfort", reader.latest(alice.owner).pending["request"]["interaction_id"]))
        assert stolen is not None
        queries = [tg.inject_callback(MALLORY, 1, stolen[1]), tg.inject_callback(MALLORY, 1, "v1|pick|x|0|forged00")]
        queries += [tg.inject_callback(MALLORY, 1, stolen[1], chat_id=ALICE)]  # in Alice's chat, even
        await settle(tg, quiet_s=2.5)  # ten replies in one chat are paced (about one a second after a burst)

        assert fingerprint(reader, fakes, alice.owner) == before, "no event, no provider call"
        assert reader.run_id(f"tg:{MALLORY}") is None, "no run for an unknown user"
        replies = [c for c in tg.calls[mark:] if c.method == "sendMessage" and c.ok]
        assert len(replies) == 10 and all(str(MALLORY) in c.params["text"] for c in replies), \
            "each message gets one polite no with the user id to give the owner"
        assert all(c.params["chat_id"] in (MALLORY, str(MALLORY)) for c in replies), "nothing in Alice's chat"
        assert {answer_of(fakes, q) for q in queries} == {"This is a private bot."}
        assert "refused unknown user 6666" in bot.log_text()
    finally:
        await bot.stop()
    assert user_visible_problems(fakes, [ALICE, MALLORY]) == []
    assert secrets_in_log(bot.log_text(), fakes) == []


async def test_forged_replayed_stale_and_wrong_kinds_of_input_change_nothing(fakes: Fakes, tmp_path: Path) -> None:
    bot = BotProcess(fakes, tmp_path / "data", users=(ALICE, BOB), workflow=CC)
    await bot.start()
    tg = fakes.tg
    alice = Person(tg, ALICE, secret_for(fakes))
    reader = RunReader(bot.db_path, CC)
    try:
        await drive(bot, reader, alice, make_policy(stop_at="get_user_direction"))
        await settle(tg)
        run = reader.latest(alice.owner)
        first_question = alice.pressed[1][1]  # the "Cat" button, answered long ago (after "No photo")

        # --- a text question: wrong kinds of answers (a photo: "start over with it?", tests/bot/test_bot_photo.py)
        before = fingerprint(reader, fakes, alice.owner)
        for kwargs in ({"sticker": True}, {"document": True}):
            mark = tg.mark()
            tg.inject_message(ALICE, "", **kwargs)
            await settle(tg)
            texts = [c.params.get("text", "") for c in tg.calls[mark:] if c.method == "sendMessage"]
            assert any("type your answer as a text message" in t for t in texts), kwargs
        assert fingerprint(reader, fakes, alice.owner) == before
        mark = tg.mark()
        tg.inject_message(ALICE, LONG)  # 10,000 characters as the answer
        await settle(tg)
        texts = [c.params.get("text", "") for c in tg.calls[mark:] if c.method == "sendMessage"]
        assert texts and "Please send your answer again" in texts[0], texts
        assert fingerprint(reader, fakes, alice.owner) == before, "refused, nothing stored, nothing asked"

        # --- forged and replayed buttons
        iid = run.pending["request"]["interaction_id"]
        skip = alice.find(Press("Skip", iid))
        assert skip is not None
        message_id, data = skip
        forged = [
            "garbage", "", "v1|skip|" + data.split("|")[2] + "||aaaaaaaa",  # a made-up MAC
            data[:-1] + ("a" if data[-1] != "a" else "b"),  # one MAC character changed
            data.replace("|skip|", "|pick|"),  # another action, same MAC
            "v1|new|menu||" + "A" * 60,  # too long
            "\u202e\u0000\ufffd" * 10,
        ]
        queries = [tg.inject_callback(ALICE, message_id, f) for f in forged]
        queries.append(tg.inject_callback(ALICE, 1, first_question))  # the first question, answered already
        await settle(tg)
        answers = [answer_of(fakes, q) for q in queries]
        assert answers[:-1] == ["This button is not valid."] * len(forged)
        assert answers[-1] == "This choice is no longer open."
        assert fingerprint(reader, fakes, alice.owner) == before

        # --- on to the scenes: words where buttons are expected, and a 10,000-character message
        alice.tap(message_id, data, "Skip")
        await drive_on(bot, reader, alice, "select_scene")
        before = fingerprint(reader, fakes, alice.owner)
        said = []
        for text in ("the second one please", LONG):
            mark = tg.mark()
            tg.inject_message(ALICE, text)
            await settle(tg)
            said += [c.params.get("text", "") for c in tg.calls[mark:] if c.method == "sendMessage"]
        assert said[0].startswith("Pick #2 ‘") and "Nothing happens until you tap Yes" in said[0], "asked first"
        assert "characters; please keep it under 2000" in said[1], "refused before any model call"
        assert fingerprint(reader, fakes, alice.owner) == before
        scenes = reader.latest(alice.owner).pending["request"]["interaction_id"]
        alice.tap(*alice.find(Press("New scene ideas", scenes)), "New scene ideas")
        await settle(tg)
        mark = tg.mark()
        tg.inject_message(ALICE, LONG)
        await settle(tg)
        texts = [c.params.get("text", "") for c in tg.calls[mark:] if c.method == "sendMessage"]
        assert texts and "please keep it under 2000" in texts[0]
        tg.inject_message(ALICE, "", photo=True)  # a photo instead of the words
        await settle(tg)
        assert "type what should be different" in alice.texts()[-1]
        assert fingerprint(reader, fakes, alice.owner) == before, "no LLM call for a refused feedback"
        tg.inject_message(ALICE, "more snow please")
        await settle(tg)
        assert fingerprint(reader, fakes, alice.owner) != before, "a good feedback is taken"

        # --- the images: replayed Generate after the job is done pays nothing more
        await drive_on(bot, reader, alice, "generate_and_select_images")
        images = reader.latest(alice.owner).pending["request"]["interaction_id"]
        generate = alice.find(Press("Generate with", images))
        alice.tap(*generate, "Generate with")
        await settle(tg)
        await tg.wait_for(lambda: alice.find(Press("Pick #1", images)), 20)
        await settle(tg)
        before = fingerprint(reader, fakes, alice.owner)
        photos = len(tg.calls_to("sendPhoto"))
        queries = [tg.inject_callback(ALICE, generate[0], generate[1]) for _ in range(3)]
        await settle(tg)
        assert "Already made: the results are above." in [answer_of(fakes, q) for q in queries]
        assert fingerprint(reader, fakes, alice.owner)[1:] == before[1:], "a replayed Generate is not paid again"
        assert len(tg.calls_to("sendPhoto")) == photos, "and shows nothing twice"

        # --- a refused generation, then the OLD Generate button again: a new job, shown once
        fakes.openai.scenario = "refused"
        newest = alice.find(Press("Generate with", images))
        alice.tap(*newest, "Generate with")
        await tg.wait_for(lambda: any("refused" in t for t in alice.texts()), 20)
        await settle(tg)
        fakes.openai.scenario = "success"
        paid = len(fakes.paid_creates())
        alice.tap(*newest, "Generate with")  # the very same button: a deliberate new try
        await tg.wait_for(lambda: alice.find(Press("Pick #3", images)), 20)
        await settle(tg)
        assert len(fakes.paid_creates()) == paid + 1
        run = reader.latest(alice.owner)
        assert [j.status for j in run.jobs.values() if j.interaction_id == images] == \
            ["completed", "failed", "completed"]
    finally:
        await bot.stop()
    assert user_visible_problems(fakes, [ALICE]) == []
    assert secrets_in_log(bot.log_text(), fakes) == []
    assert "Traceback" not in bot.log_text()
    assert "more snow please" not in bot.log_text() and "Meow!" not in bot.log_text(), "what people write is not logged"


async def drive_on(bot: BotProcess, reader: RunReader, person: Person, stop_at: str) -> None:
    """Continue the run with first choices until `stop_at` is on screen."""
    result = await drive(bot, reader, person, make_policy(stop_at=stop_at), start=False)
    assert result is not None
    await settle(bot.tg)


async def test_fifty_taps_in_one_second_and_buttons_of_a_finished_run(fakes: Fakes, tmp_path: Path) -> None:
    bot = BotProcess(fakes, tmp_path / "data", users=(ALICE, BOB), workflow=MINI)
    await bot.start()
    tg = fakes.tg
    alice, bob = Person(tg, ALICE, secret_for(fakes)), Person(tg, BOB, secret_for(fakes))
    reader = RunReader(bot.db_path, MINI)
    try:
        await drive(bot, reader, alice, make_policy(stop_at="generate_and_select_images"))
        await settle(tg)
        images = reader.latest(alice.owner).pending["request"]["interaction_id"]
        generate = alice.find(Press("Generate with", images))
        # earlier questions' buttons, also those a question that came at once took over (a second device shows them)
        versions = [v for m in tg.bot_messages(ALICE) for v in [m, *tg.message_history(ALICE, m["message_id"])]]
        old_buttons = [(v["message_id"], d) for v in versions for _, d in tg.buttons_of(v)
                       if d and not callbacks.decode(d, alice.secret).matches(images)]
        assert len(old_buttons) >= 5
        paid = len(fakes.paid_creates())
        fakes.openai.hang_s = 0.0
        bob_waits: list[float] = []

        burst: list[float] = []

        async def storm() -> list[str]:
            queries = []
            begun = time.monotonic()
            for i in range(50):  # 30 on Generate, 20 on the buttons of earlier questions
                target = generate if i % 5 < 3 else old_buttons[i % len(old_buttons)]
                queries.append(tg.inject_callback(ALICE, *target))
                # paced by the clock, not by sleeps that add up: a late loop catches up
                await asyncio.sleep(max(0.0, begun + 0.015 * (i + 1) - time.monotonic()))
            burst.append(time.monotonic() - begun)
            return queries

        async def bob_asks() -> None:
            for _ in range(5):
                mark = tg.mark()
                asked = time.monotonic()
                tg.inject_message(BOB, "/help")
                await tg.wait_for(lambda m=mark: any(c.method == "sendMessage" and c.ok and c.params.get("chat_id")
                                                     in (BOB, str(BOB)) for c in tg.calls[m:]), 10)
                bob_waits.append(time.monotonic() - asked)
                await asyncio.sleep(0.15)

        queries, _ = await asyncio.gather(storm(), bob_asks())
        assert burst[0] < 1.0, f"50 taps took {burst[0]:.2f} s"
        await settle(tg)
        assert all(answer_of(fakes, q) is not None for q in queries), "all 50 taps answered"
        assert tg.unanswered_callbacks() == []
        run = reader.latest(alice.owner)
        jobs = [j for j in run.jobs.values() if j.interaction_id == images]
        assert len(jobs) == 1 and jobs[0].status == "completed", "30 taps on Generate: one job"
        assert len(fakes.paid_creates()) == paid + 1, "and one payment"
        assert max(bob_waits) < 3.0, f"Bob waited {max(bob_waits):.2f} s"
        record("storm", {"taps_in_a_burst": len(queries), "burst_s": round(burst[0], 2),
                         "taps_answered": len([q for q in queries if tg.callback_answer(q) is not None]),
                         "jobs_made": len(jobs), "paid_requests": len(fakes.paid_creates()) - paid,
                         "bob_help_reply_max_ms": round(max(bob_waits) * 1000)})
        # Alice carries on as if nothing happened, and so does Bob
        finished = await drive(bot, reader, alice, make_policy(), start=False)
        assert reader.latest(alice.owner).status == "completed"
        await drive(bot, reader, bob, make_policy())

        # every button of Alice's finished run, once more: nothing happens
        await settle(tg)
        before = fingerprint(reader, fakes, alice.owner)
        events = len(reader.events(finished.run_id))
        queries = []
        for message in tg.bot_messages(ALICE):  # with the versions a later question took over
            for version in [message, *tg.message_history(ALICE, message["message_id"])]:
                for label, data in tg.buttons_of(version):
                    if data and not any(word in label for word in ("Make another", "Summary", "Start")):
                        queries.append(tg.inject_callback(ALICE, message["message_id"], data))
        assert len(queries) >= 8
        await settle(tg)
        answers = {answer_of(fakes, q) for q in queries}
        # ("": taps that queue behind this person's previous one get their spinner stopped at once)
        assert answers <= {"This choice is no longer open.", "No video in progress: /new starts one.", ""}, answers
        assert "This choice is no longer open." in answers
        assert fingerprint(reader, fakes, alice.owner) == before
        assert len(reader.events(finished.run_id)) == events
        mark = tg.mark()
        tg.inject_message(ALICE, "and now?")
        await settle(tg)
        replies = [c.params["text"] for c in tg.calls[mark:] if c.method == "sendMessage"]
        assert len(replies) == 1 and replies[0].startswith("No video in progress. /new starts one"), replies
    finally:
        await bot.stop()
    assert user_visible_problems(fakes, [ALICE, BOB]) == []
    assert "Traceback" not in bot.log_text()
