"""The load benchmarks' fake Bot API in a process of its own (benchmarks/load/fake_process.py):
what the people see of it (calls as they finish, buttons on screen, the fake's clock) is
what the bot did there. The benchmarks are not run by the suite; this keeps their driver honest."""

from __future__ import annotations

import asyncio
import time

import httpx

from benchmarks.load.fake_process import FakeTelegramProcess

BUTTONS = {"inline_keyboard": [[{"text": "Tap", "callback_data": "t1"}]]}


async def test_the_fake_in_its_own_process_reports_calls_buttons_and_its_clock() -> None:
    fake = FakeTelegramProcess()
    await fake.start()
    try:
        seen: list[tuple[str, float]] = []
        fake.listen(lambda call, finished_at: seen.append((call.method, finished_at)))
        before = time.monotonic()
        handed_at = await fake.inject_command(42, "/new")
        assert before <= handed_at <= time.monotonic(), "one clock for both processes"
        api = f"{fake.base_url}{fake.token}"
        async with httpx.AsyncClient(timeout=10) as client:
            updates = (await client.post(f"{api}/getUpdates", json={"timeout": 0})).json()["result"]
            assert [u["message"]["text"] for u in updates] == ["/new"]
            sent = (await client.post(f"{api}/sendMessage", json={
                "chat_id": 42, "text": "Pick one", "reply_markup": BUTTONS})).json()["result"]
            for _ in range(100):  # the call reaches this process over the pipe, soon after its answer
                if list(fake.buttons(42)):
                    break
                await asyncio.sleep(0.05)
            assert [(m, rows[0][0]["text"]) for m, rows in fake.buttons(42)] == [(sent["message_id"], "Tap")]
            at, query_id = await fake.inject_callback(42, sent["message_id"], "t1")
            assert at >= handed_at and query_id
            await client.post(f"{api}/editMessageText", json={"chat_id": 42, "message_id": sent["message_id"],
                                                               "text": "Picked"})
            await client.post(f"{api}/answerCallbackQuery", json={"callback_query_id": query_id})
        await fake.stop()
        methods = [c.method for c in fake.calls]
        assert methods == ["getUpdates", "sendMessage", "editMessageText", "answerCallbackQuery"]
        assert [m for m, _ in seen] == methods and all(t >= handed_at for _, t in seen)
        assert fake.calls[1].result["reply_markup"] == BUTTONS  # what the people's buttons are read from
        assert list(fake.buttons(42)) == [], "the edit without buttons took them away"
        assert fake.cpu_s > 0
    finally:
        await fake.stop()
