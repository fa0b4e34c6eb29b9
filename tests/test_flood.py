"""The flood gate keeps Telegram's limits: order per chat, urgent first, pacing, 429 pauses."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from bot.telegram.flood import Bucket, FloodGate, expect_first_reaction


async def _send(gate: FloodGate, chat: int, tag: str, log: list[tuple[str, float]], urgent: bool = False) -> None:
    async with gate.slot(chat, urgent):
        log.append((tag, time.monotonic()))


async def test_calls_to_one_chat_keep_their_order() -> None:
    gate = FloodGate(overall_per_s=1000, chat_per_s=50, chat_burst=2)
    log: list[tuple[str, float]] = []
    await asyncio.gather(*(_send(gate, 7, str(i), log) for i in range(8)))
    assert [tag for tag, _ in log] == [str(i) for i in range(8)]


async def test_one_chat_is_paced_after_its_burst() -> None:
    gate = FloodGate(overall_per_s=1000, chat_per_s=20, chat_burst=3)
    log: list[tuple[str, float]] = []
    start = time.monotonic()
    await asyncio.gather(*(_send(gate, 7, str(i), log) for i in range(6)))
    times = [t - start for _, t in log]
    assert times[2] < 0.03, "the burst goes out at once"
    assert times[5] >= 0.13, "then about one per 1/rate seconds (3 more at 20/s)"


async def test_an_urgent_call_overtakes_queued_bulk_traffic() -> None:
    gate = FloodGate(overall_per_s=20, chat_per_s=1000, chat_burst=1000)
    gate._overall = Bucket(20, 1)  # one slot now, then one every 50 ms
    log: list[tuple[str, float]] = []
    bulk = [asyncio.create_task(_send(gate, 100 + i, f"bulk{i}", log)) for i in range(6)]
    await asyncio.sleep(0.01)  # the bulk calls are queued for the overall budget
    urgent = asyncio.create_task(_send(gate, 999, "urgent", log, urgent=True))
    await asyncio.gather(*bulk, urgent)
    order = [tag for tag, _ in log]
    assert order.index("urgent") <= 2, order  # ahead of the bulk still waiting


async def test_other_chats_do_not_wait_for_a_paced_chat() -> None:
    gate = FloodGate(overall_per_s=1000, chat_per_s=2, chat_burst=1)
    log: list[tuple[str, float]] = []
    start = time.monotonic()
    slow = asyncio.gather(*(_send(gate, 1, f"a{i}", log) for i in range(3)))  # ~1 s for chat 1
    await asyncio.sleep(0.01)
    await _send(gate, 2, "b", log)
    assert dict(log)["b"] - start < 0.1
    await slow


async def test_a_429_pauses_everything_and_try_slot_never_waits() -> None:
    gate = FloodGate(overall_per_s=1000, chat_per_s=1000, chat_burst=1000)
    gate.pause(0.2)
    assert gate.try_slot(5) is False, "a cosmetic call is dropped, not queued"
    log: list[tuple[str, float]] = []
    start = time.monotonic()
    await _send(gate, 5, "x", log)
    assert log[0][1] - start >= 0.19
    assert gate.try_slot(5) is True


async def test_several_processes_share_the_bots_budget() -> None:
    """Telegram's limits are the bot's: each of 3 processes keeps a third of them."""
    gate = FloodGate(overall_per_s=30, chat_per_s=1000, chat_burst=1000, processes=3)
    log: list[tuple[str, float]] = []
    start = time.monotonic()
    await asyncio.gather(*(_send(gate, 100 + i, str(i), log) for i in range(12)))
    times = sorted(t - start for _, t in log)
    assert times[9] < 0.05, "a third of the burst goes out at once"
    assert times[11] >= 0.15, "then 10/s: the 12th call about 0.2 s later"
    one_chat = FloodGate(overall_per_s=1000, chat_per_s=3, chat_burst=6, processes=3)
    assert one_chat._chat_bucket(7).capacity == 2 and one_chat._chat_bucket(7).rate == 1


async def test_an_album_waiting_for_the_budget_holds_no_picture_open(tmp_path) -> None:
    """PTB reads a picture whole when its media is built: that must wait for the slot,
    or every album queued behind Telegram's 30/s would sit in memory."""
    from bot.telegram.outbox import Outbox

    photos = []
    for i in range(3):
        path = tmp_path / f"picture{i}.png"
        path.write_bytes(b"\x89PNG" + b"x" * 1000)
        photos.append((str(path), f"#{i + 1}"))

    def open_pictures() -> list[str]:
        fds = Path("/proc/self/fd")
        return [t for t in (os.readlink(fd) for fd in fds.iterdir() if fd.exists()) if "picture" in t]

    sent: list[int] = []

    class FakeBot:
        async def send_media_group(self, chat_id: int, media: list) -> tuple:
            sent.append(len(media))
            return ()

    gate = FloodGate(overall_per_s=1000, chat_per_s=1000, chat_burst=1000)
    gate.pause(0.3)  # the budget is spent for now (as after Telegram's 429)
    outbox = Outbox(lambda: FakeBot(), gate, upload_limit_bytes=50 * 1024 * 1024)  # type: ignore[arg-type,return-value]
    task = asyncio.create_task(outbox.send_album(7, photos))
    await asyncio.sleep(0.1)
    assert not task.done() and open_pictures() == [], "waiting: nothing opened yet"
    await task
    assert sent == [3] and open_pictures() == []


async def test_the_first_reaction_to_a_persons_message_goes_ahead_of_other_urgent_calls() -> None:
    """At 100 people every tap's next screen is urgent: a /new must not wait behind them all."""
    gate = FloodGate(overall_per_s=20, chat_per_s=1000, chat_burst=1000)
    gate._overall = Bucket(20, 1)  # one slot now, then one every 50 ms
    log: list[tuple[str, float]] = []

    async def message_handling() -> None:  # as the gate marks a person's message (its own task's context)
        expect_first_reaction()
        await _send(gate, 999, "first", log, urgent=True)
        await _send(gate, 999, "second", log, urgent=True)  # later calls of the same update: plain urgent

    screens = [asyncio.create_task(_send(gate, 100 + i, f"screen{i}", log, urgent=True)) for i in range(6)]
    await asyncio.sleep(0.01)  # the other people's urgent screens are queued for the overall budget
    await asyncio.gather(*screens, asyncio.create_task(message_handling()))
    order = [tag for tag, _ in log]
    assert order.index("first") <= 2, order  # ahead of the urgent screens still waiting
    assert order.index("second") == len(order) - 1, order  # its second call queued behind them


async def test_a_tap_takes_no_front_place() -> None:
    """Without the mark (a tap, answered outside the gate), an urgent call keeps its turn."""
    gate = FloodGate(overall_per_s=20, chat_per_s=1000, chat_burst=1000)
    gate._overall = Bucket(20, 1)
    log: list[tuple[str, float]] = []
    screens = [asyncio.create_task(_send(gate, 100 + i, f"screen{i}", log, urgent=True)) for i in range(4)]
    await asyncio.sleep(0.01)
    await asyncio.gather(*screens, asyncio.create_task(_send(gate, 999, "tap", log, urgent=True)))
    assert [tag for tag, _ in log][-1] == "tap"
