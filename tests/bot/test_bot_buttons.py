"""Inline buttons through the real bot: multi-select ticks, stale and forged
buttons, someone else's buttons in a group, double taps and button storms."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from bot.telegram.tap import owner_of
from tests.bot.harness import (
    NO_PHOTO,
    ALICE,
    BOB,
    GROUP,
    ROOT,
    cc_to_images,
    counting_registry,
    newest_with,
    running_bot,
)
from tests.conftest import scripted_registry
from tests.fakes.telegram_server import FakeTelegramServer

MINI = ROOT / "tests" / "data" / "mini"



def labels(message: dict) -> list[str]:
    return [text for text, _ in FakeTelegramServer.buttons_of(message)]


async def test_multi_select_ticks_edit_the_same_message_and_done_enforces_min_max(
    tg: FakeTelegramServer, tmp_path: Path
) -> None:
    async with running_bot(tg, tmp_path / "data", providers=scripted_registry(), workflow=MINI) as bot:
        await bot.say("/new")
        await bot.press("Cat")
        await bot.press("Skip")
        await bot.press("1.")  # an idea: the features question (min 1, max 2) comes next
        await bot.wait_button("Done (0 selected)")
        question = newest_with(tg, ALICE, "Done")
        message_id = question["message_id"]
        assert "Choose 1–2" in question["text"]
        sends_before = len(tg.calls_to("sendMessage"))
        versions_before = len(tg.message_history(ALICE, message_id))  # it took over the ideas' message

        # Done with nothing ticked: an alert, nothing sent
        query = await bot.press("Done")
        answer = tg.callback_answer(query)
        assert answer["show_alert"] is True and "between 1 and 2" in answer["text"] and "you have 0" in answer["text"]

        # tick #1 then #2: the same message is edited each time
        await bot.press("▫️ 1.")
        await bot.press("▫️ 2.")
        edited = tg.message(ALICE, message_id)
        assert labels(edited)[:3] == ["✅ 1. tail 0", "✅ 2. ears 0", "▫️ 3. paws 0"]
        assert "Selected: 2." in edited["text"] and "Done (2 selected)" in labels(edited)
        assert len(tg.message_history(ALICE, message_id)) == versions_before + 2

        # a third tick is over the maximum: an alert, the message is not touched
        query = await bot.press("▫️ 3.")
        answer = tg.callback_answer(query)
        assert answer["show_alert"] is True and "at most 2" in answer["text"]
        assert tg.message(ALICE, message_id) == edited

        # untick #1: edited again
        await bot.press("✅ 1.")
        assert labels(tg.message(ALICE, message_id))[:3] == ["▫️ 1. tail 0", "✅ 2. ears 0", "▫️ 3. paws 0"]
        assert len(tg.message_history(ALICE, message_id)) == versions_before + 3
        assert len(tg.calls_to("sendMessage")) == sends_before, "ticks edit, they never send"

        await bot.press("Done (1 selected)")
        view = await bot.engine.active_run(owner_of(ALICE))
        state = await bot.engine.state(view.run_id)
        assert state["features"] == ["ears 0"]
        assert view.pending is not None and view.pending.step_id == "images"
        await bot.assert_all_answered()


async def test_a_stale_button_is_refused_and_changes_nothing(tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data", providers=scripted_registry(), workflow=MINI) as bot:
        await bot.say("/new")
        pet_question = newest_with(tg, ALICE, "Dog")
        await bot.press("Cat")
        await bot.press("Skip")
        ideas = newest_with(tg, ALICE, "New ideas")  # its buttons, as a second device still shows them
        await bot.press("1.")  # the features question takes over the ideas' message
        await bot.press("▫️ 1.")
        features = newest_with(tg, ALICE, "Done")
        assert features["message_id"] == ideas["message_id"]
        await bot.press("Done")
        await bot.wait_button("Generate with")
        before = await bot.run_fingerprint()
        calls_before = tg.mark()

        stale = [
            (pet_question, "Dog"),  # a pick on the first question
            (features, "✅ 1."),  # a tick on an answered multi-select
            (features, "Done"),  # its confirm
            (ideas, "New ideas"),  # a retry option of a finished step
        ]
        for message, label in stale:
            data = next(d for text, d in tg.buttons_of(message) if label in text)
            before_tap = bot.bot_calls()
            query = tg.inject_callback(ALICE, message["message_id"], data)
            await tg.wait_for(lambda q=query: tg.callback_answer(q) is not None)
            await bot.settle(before_tap)
            assert tg.callback_answer(query)["text"] == "This choice is no longer open.", label

        assert await bot.run_fingerprint() == before
        assert {c.method for c in tg.calls[calls_before:]} <= {"getUpdates", "answerCallbackQuery"}
        await bot.assert_all_answered()


async def test_forged_callbacks_are_refused_and_change_nothing(tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data", providers=scripted_registry(), workflow=MINI) as bot:
        await bot.say("/new")
        question = newest_with(tg, ALICE, "Cat")
        real = next(d for text, d in tg.buttons_of(question) if "Cat" in text)
        body, _, mac = real.rpartition("|")
        before = await bot.run_fingerprint()
        calls_before = tg.mark()

        forged = [
            os.urandom(40).decode("latin-1"),  # random bytes
            f"{body}|{'a' * len(mac) if mac != 'a' * len(mac) else 'b' * len(mac)}",  # a wrong MAC
            body.rsplit("|", 1)[0] + "|1|" + mac,  # "Dog" with Cat's MAC
            "x" * 64,  # 64 bytes of garbage
            "v1|pick|" + "z" * 8 + "|0|" + "q" * 8,  # well-formed, made up
            "",  # no data at all
        ]
        for data in forged:
            query = tg.inject_callback(ALICE, question["message_id"], data)
            await tg.wait_for(lambda q=query: tg.callback_answer(q) is not None)
            assert "not valid" in tg.callback_answer(query)["text"], repr(data)
        await bot.settle()
        assert await bot.run_fingerprint() == before
        assert {c.method for c in tg.calls[calls_before:]} <= {"getUpdates", "answerCallbackQuery"}
        await bot.press("Cat")  # the real button still works
        assert "Anything special" in bot.texts()[-1]  # the next question (one message with its Skip)
        await bot.assert_all_answered()


async def test_only_the_owner_can_use_a_runs_buttons_in_a_group(tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data") as bot:
        await bot.say("/new", user=ALICE, chat_id=GROUP, chat_type="group")
        await bot.press(NO_PHOTO, ALICE, GROUP)
        await bot.wait_button("Cat", GROUP)
        before = await bot.run_fingerprint(ALICE)
        query = await bot.press("Cat", user=BOB, chat_id=GROUP)
        assert tg.callback_answer(query)["text"] == "Only the person who started this video can use its buttons."
        assert await bot.run_fingerprint(ALICE) == before
        assert await bot.engine.active_run(owner_of(BOB)) is None

        # Bob with a run of his own (in private) is still refused in the group
        await bot.say("/new", user=BOB)
        query = await bot.press("Dog", user=BOB, chat_id=GROUP)
        assert tg.callback_answer(query)["text"] == "Only the person who started this video can use its buttons."
        assert await bot.run_fingerprint(ALICE) == before

        await cc_to_scenes_from_pet(bot)
        await bot.assert_all_answered()


async def cc_to_scenes_from_pet(bot) -> None:
    """The owner carries on in the group."""
    await bot.press("Cat", ALICE, GROUP)
    await bot.press("Comfort", ALICE, GROUP)
    view = await bot.engine.active_run(owner_of(ALICE))
    assert view.current_step_id == "user_input" and view.pending.module_name == "select_duration"


async def test_a_double_tap_on_generate_makes_one_job(tg: FakeTelegramServer, tmp_path: Path) -> None:
    providers = counting_registry()
    async with running_bot(tg, tmp_path / "data", providers=providers.registry) as bot:
        await cc_to_images(bot)
        message = newest_with(tg, ALICE, "Generate with")
        data = next(d for text, d in tg.buttons_of(message) if "Generate with" in text)
        first = tg.inject_callback(ALICE, message["message_id"], data)
        second = tg.inject_callback(ALICE, message["message_id"], data)
        await tg.wait_for(lambda: tg.callback_answer(first) and tg.callback_answer(second))
        await bot.settle()
        view = await bot.engine.active_run(owner_of(ALICE))
        run = await bot.engine.load(view.run_id)
        assert len(run.jobs) == 1
        assert providers.counts["submit"] == 1
        # the job's line is in the question's own message: edited to show it, then its results
        assert not [c for c in tg.calls_to("sendMessage") if str(c.params.get("text", "")).startswith("⏳")]
        versions = [m.get("text", "") for m in tg.message_history(ALICE, message["message_id"])]
        versions.append(tg.message(ALICE, message["message_id"])["text"])
        assert sum("⏳" in v for v in versions) == 1, "one job, shown once as under way"
        assert "2 results so far" in versions[-1] and "⏳" not in versions[-1]
        (album,) = tg.calls_to("sendMediaGroup")  # the pictures of the one job, once, as one album
        assert len(album.files) == len(next(iter(run.jobs.values())).content_ids) == 2
        assert tg.calls_to("sendPhoto") == []
        await bot.assert_all_answered()


async def test_fifty_taps_in_a_second_keep_the_bot_responsive(tg: FakeTelegramServer, tmp_path: Path) -> None:
    async with running_bot(tg, tmp_path / "data") as bot:
        await bot.say("/new")
        await bot.press(NO_PHOTO)
        await bot.say("/new", user=BOB)
        message = newest_with(tg, ALICE, "Cat")
        data = next(d for text, d in tg.buttons_of(message) if "Cat" in text)
        view = await bot.engine.active_run(owner_of(ALICE))
        iid = view.pending.interaction_id
        bob_before = len(tg.bot_messages(BOB))

        queries = []
        for _ in range(50):
            queries.append(tg.inject_callback(ALICE, message["message_id"], data))
            await asyncio.sleep(0.015)  # 50 taps within ~0.75 s
        started = time.monotonic()
        tg.inject_command(BOB, "/status")
        await tg.wait_for(lambda: len(tg.bot_messages(BOB)) > bob_before, timeout=5)
        bob_waited = time.monotonic() - started
        assert bob_waited < 1.0, f"Bob waited {bob_waited:.2f} s for /status"
        assert "Spent so far" in bot.texts(BOB)[-1]

        await tg.wait_for(lambda: all(tg.callback_answer(q) for q in queries), timeout=15)
        await bot.settle()
        events = await bot.engine.services.store.events(view.run_id)
        answered = [e for e in events if e.type == "interaction_response" and e.data.get("interaction_id") == iid]
        assert len(answered) == 1, "one tap answered the question, 49 were refused"
        # the taps that came while the first was handled were answered at once (no text), the
        # later ones "no longer open": none was applied
        texts = {tg.callback_answer(q).get("text") for q in queries}
        assert texts <= {None, "This choice is no longer open."}
        mood_questions = [t for t in bot.texts() if "Pick the story mood" in t]
        assert len(mood_questions) == 1
        await bot.assert_all_answered()
