"""Money under control, through the real bot: budgets refuse before any
provider call, large actions ask once, admins change budgets and access at
run time, and /forget deletes a person's data but the accounting."""

from __future__ import annotations

from pathlib import Path

from tests.bot.harness import (
    ALICE,
    BOB,
    MALLORY,
    cc_to_video,
    cc_video_to_end,
    counting_registry,
    newest_with,
    running_bot,
)
from bot.telegram.tap import owner_of
from tests.fakes.telegram_server import FakeTelegramServer

CLIP = {"img2vid": 0.50}  # every clip provider quotes fifty cents; pictures and music are free here


def budget(usd: float | None, **more: object):  # noqa: ANN201 - a Settings hook
    def configure(settings) -> None:  # noqa: ANN001
        settings.ccbot_user_budget_usd = usd
        for name, value in more.items():
            setattr(settings, name, value)
    return configure


async def test_a_budget_for_exactly_one_clip_refuses_the_second(tg: FakeTelegramServer, tmp_path: Path) -> None:
    providers = counting_registry(prices=CLIP)
    async with running_bot(tg, tmp_path / "data", providers=providers.registry, configure=budget(0.50)) as bot:
        await cc_to_video(bot)
        await bot.press("Generate with")
        await bot.wait_button("Pick #1")
        assert providers.counts["submit:img2vid"] == 1
        query = await bot.press("Generate with")  # a second clip: over the budget
        answer = tg.callback_answer(query)["text"]
        assert "costs about $0.50" in answer and "$0.00 left" in answer, answer
        assert providers.counts["submit:img2vid"] == 1, "refused before any provider call"
        report = await bot.engine.spending.budget(owner_of(ALICE))
        assert report.spent_usd == 0.50 and report.left_usd == 0
        await bot.say("/status")
        assert "$0.50 spent this month, $0.00 left of $0.50" in bot.texts()[-1]


async def test_no_budget_means_no_provider_call_in_a_whole_session(tg: FakeTelegramServer, tmp_path: Path) -> None:
    providers = counting_registry(prices=CLIP)
    async with running_bot(tg, tmp_path / "data", providers=providers.registry, configure=budget(0)) as bot:
        await bot.say("/start")
        assert "Your budget here is $0" in bot.texts()[-1]
        await cc_to_video(bot)
        await cc_video_to_end(bot)
        assert providers.provider_calls == 0, "every call of the session went to the offline stand-ins"
        rows = await bot.engine.services.store.spend_rows(owner=owner_of(ALICE))
        assert rows == []


async def test_an_admin_raises_a_budget_mid_run(tg: FakeTelegramServer, tmp_path: Path) -> None:
    providers = counting_registry(prices=CLIP)
    configure = budget(0.10, ccbot_admin_users=str(BOB))
    async with running_bot(tg, tmp_path / "data", providers=providers.registry, configure=configure) as bot:
        await cc_to_video(bot)
        query = await bot.press("Generate with")
        assert "$0.10 left" in tg.callback_answer(query)["text"]
        assert providers.counts.get("submit:img2vid", 0) == 0
        await bot.say(f"/budget {ALICE} 5", user=BOB)
        assert f"{ALICE}'s monthly budget is $5.00 now." in bot.texts(BOB)[-1]
        query = await bot.press("Generate with")  # at once, no restart
        assert tg.callback_answer(query)["text"].startswith("Starting")
        await bot.wait_button("Pick #1")
        assert providers.counts["submit:img2vid"] == 1


async def test_admin_commands_do_not_exist_for_anyone_else(tg: FakeTelegramServer, tmp_path: Path) -> None:
    configure = budget(None, ccbot_admin_users=str(BOB))
    async with running_bot(tg, tmp_path / "data", configure=configure) as bot:
        for command in ("/spend", f"/allow {MALLORY}", f"/deny {BOB}", f"/budget {ALICE} 100", "/spend 2026-12"):
            await bot.say(command)
            assert bot.texts()[-1].startswith("I don't know that command"), command
        assert await bot.engine.services.store.people() == []
        assert tg.calls_to("sendDocument") == []
        menus = {str(c.params.get("scope", "")): c.params.get("commands") for c in tg.calls_to("setMyCommands")}
        everyone = [m for scope, m in menus.items() if "chat_id" not in scope]
        assert everyone and "spend" not in str(everyone[0]), "the public menu names no admin command"
        assert any(str(BOB) in scope and "spend" in str(m) for scope, m in menus.items())
        # and an admin's do work: Mallory let in, then out again
        await bot.say(f"/allow {MALLORY} 2", user=BOB)
        await bot.say("/start", user=MALLORY)
        assert "cute-pet video" in bot.texts(MALLORY)[-1]
        assert (await bot.engine.spending.budget(owner_of(MALLORY))).limit_usd == 2
        await bot.say(f"/deny {MALLORY}", user=BOB)
        await bot.say("/start", user=MALLORY)
        assert "private bot" in bot.texts(MALLORY)[-1]
        await bot.say("/spend", user=BOB)
        assert tg.calls_to("sendDocument") and "total" in bot.texts(BOB)[-2]


async def test_a_large_clip_asks_once_and_a_double_tap_makes_one_job(tg: FakeTelegramServer, tmp_path: Path) -> None:
    providers = counting_registry(prices={"img2vid": 3.20})
    configure = budget(None, ccbot_confirm_above_usd=1.0)
    async with running_bot(tg, tmp_path / "data", providers=providers.registry, configure=configure) as bot:
        await cc_to_video(bot)
        await bot.press("Generate with")
        assert "costs about $3.20" in bot.texts()[-1] and "Go ahead?" in bot.texts()[-1]
        assert providers.counts.get("submit:img2vid", 0) == 0, "nothing starts before the answer"
        message = newest_with(tg, ALICE, "Go ahead")
        data = next(d for text, d in tg.buttons_of(message) if "Go ahead" in text)
        first = tg.inject_callback(ALICE, message["message_id"], data)
        second = tg.inject_callback(ALICE, message["message_id"], data)
        await tg.wait_for(lambda: tg.callback_answer(first) and tg.callback_answer(second))
        await bot.settle()
        await bot.wait_button("Pick #1")
        assert providers.counts["submit:img2vid"] == 1, "a double tap on Go ahead is one clip"


async def test_forget_mid_generation_keeps_only_the_accounting(tg: FakeTelegramServer, tmp_path: Path) -> None:
    providers = counting_registry(prices=CLIP, slow={("leonardo", "img2vid"): 30.0})
    async with running_bot(tg, tmp_path / "data", providers=providers.registry) as bot:
        await cc_to_video(bot)
        await bot.press("Generate with", settle=False)  # a clip that takes half a minute
        await tg.wait_for(lambda: providers.counts.get("submit:img2vid") == 1, timeout=10)
        media = tmp_path / "data" / "media" / "tg_1001"
        assert media.is_dir()
        tg.inject_command(ALICE, "/forget")
        await bot.wait_text("This deletes everything you made or sent here")
        await bot.press("Delete everything", settle=False)
        await bot.wait_text("Deleted 1 video run")
        await bot.settle()
        store = bot.engine.services.store
        assert await store.list_runs(owner_of(ALICE)) == []
        assert await store.session_of_owner(owner_of(ALICE)) is None
        assert not media.exists(), "every picture and clip is gone"
        assert not bot.engine.jobs.tasks, "the clip in the making was stopped"
        rows = await store.spend_rows(owner=owner_of(ALICE))
        assert [(r.provider, r.kind) for r in rows] == [("leonardo", "video")], "what was spent stays, no content"
        await bot.say("/history")
        assert "No finished videos yet" in bot.texts()[-1]
