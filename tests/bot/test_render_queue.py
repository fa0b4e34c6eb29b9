"""A render waiting in line: its place and about how long, said again only once the minutes said are over."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from bot.telegram import progress as progress_module
from bot.telegram.progress import Progress
from engine import background as background_module
from engine.background import BackgroundWork
from engine.protocol import EngineEvent


class Screen:
    """The outbox's `show`, writing down what the chat would see."""

    def __init__(self) -> None:
        self.shown: list[tuple[bool, str]] = []  # (a new message?, text)

    async def show(self, chat_id: int, ref: Any, out: Any, quiet: bool = False) -> object:
        self.shown.append((ref is None, out.text))
        return ref or object()


def queued(place: int, wait_s: float | None = None) -> EngineEvent:
    data: dict[str, Any] = {"module": "render", "position": place}
    if wait_s is not None:
        data["wait_s"] = wait_s
    return EngineEvent(run_id="r1", owner="tg:1", type="module_queued", data=data)


async def test_the_place_in_line_is_said_with_the_wait_and_again_only_when_the_wait_is_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    screen = Screen()
    progress = Progress(SimpleNamespace(outbox=screen), lambda coro: None)  # type: ignore[arg-type]

    await progress.module_progress(1, queued(12, wait_s=170))
    assert screen.shown == [(True, "⏳ Your video is in line to be put together: #12, about 3 minutes")]
    for place, after_s in ((9, 20), (5, 60), (2, 150)):  # the line moves as estimated: nothing to add
        clock[0] = 1000.0 + after_s
        await progress.module_progress(1, queued(place, wait_s=place * 15))
    clock[0] = 1000.0 + 175  # 170 s were estimated, but "about 3 minutes" said: not over yet
    await progress.module_progress(1, queued(1, wait_s=20))
    assert len(screen.shown) == 1
    clock[0] = 1000.0 + 181  # the minutes said are over: the place and a new estimate
    await progress.module_progress(1, queued(1, wait_s=20))
    assert screen.shown[-1] == (False, "⏳ Your video is in line to be put together: #1, about 1 minute")

    clock[0] += progress_module.EDIT_EVERY_S
    await progress.module_progress(1, EngineEvent(run_id="r1", owner="tg:1", type="module_progress",
                                                   data={"module": "render", "progress": 40,
                                                         "message": "Putting your video together"}))
    assert screen.shown[-1] == (False, "🎬 Putting your video together… 40%")  # then how it goes, in the same message


async def test_with_no_estimate_yet_the_place_is_said_again_now_and_then(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    screen = Screen()
    progress = Progress(SimpleNamespace(outbox=screen), lambda coro: None)  # type: ignore[arg-type]
    await progress.module_progress(1, queued(4))
    clock[0] += progress_module.QUEUE_EDIT_EVERY_S / 2
    await progress.module_progress(1, queued(3))
    clock[0] += progress_module.QUEUE_EDIT_EVERY_S
    await progress.module_progress(1, queued(2))
    assert [text for _new, text in screen.shown] == ["⏳ Your video is in line to be put together: #4",
                                                     "⏳ Your video is in line to be put together: #2"]



async def test_a_place_told_again_while_the_first_is_still_being_sent_is_not_said_twice(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With a crowd, sending the first place takes seconds in the flood gate; the line
    moving meanwhile is not news the person needs a second message or edit for."""
    clock = [1000.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    sending = asyncio.Event()

    class SlowScreen(Screen):
        async def show(self, chat_id: int, ref: Any, out: Any, quiet: bool = False) -> object:
            if not self.shown:
                await sending.wait()
            return await super().show(chat_id, ref, out, quiet)

    screen = SlowScreen()
    progress = Progress(SimpleNamespace(outbox=screen), lambda coro: None)  # type: ignore[arg-type]
    first = asyncio.create_task(progress.module_progress(1, queued(23, wait_s=100)))
    await asyncio.sleep(0)
    clock[0] += 2.5
    moved = asyncio.create_task(progress.module_progress(1, queued(22, wait_s=98)))
    await asyncio.sleep(0)
    sending.set()
    await asyncio.gather(first, moved)
    assert screen.shown == [(True, "⏳ Your video is in line to be put together: #23, about 2 minutes")]
    clock[0] += 120  # begun, done, and the same run renders again (new music): its place is said anew
    for event in (progressed(0), progressed(100), queued(1, wait_s=10)):
        await progress.module_progress(1, event)
    assert screen.shown[-1] == (True, "⏳ Your video is in line to be put together: #1, about 1 minute")


def progressed(percent: float) -> EngineEvent:
    return EngineEvent(run_id="r1", owner="tg:1", type="module_progress",
                       data={"module": "render", "progress": percent, "message": "Putting your video together"})


@pytest.mark.parametrize("in_line", [True, False])
async def test_a_render_costs_the_same_few_edits_however_long_it_takes(monkeypatch: pytest.MonkeyPatch,
                                                                       in_line: bool) -> None:
    clock = [1000.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    screen = Screen()
    progress = Progress(SimpleNamespace(outbox=screen), lambda coro: None)  # type: ignore[arg-type]
    if in_line:
        await progress.module_progress(1, queued(1, wait_s=30))
    for percent in range(0, 101, 5):  # a slow render: a report every 3 s for a minute
        clock[0] += 3
        await progress.module_progress(1, progressed(percent))
    said = [text for _new, text in screen.shown]
    begun = ["⏳ Your video is in line to be put together: #1, about 1 minute",
             "🎬 Putting your video together… 0%"] if in_line else ["🎬 Putting your video together… 0%"]
    assert said == [*begun, "🎬 Putting your video together… 50%", "🎬 Putting your video together… 100%"]
    assert [new for new, _text in screen.shown] == [True] + [False] * (len(said) - 1)  # one message, edited


async def test_a_render_done_in_seconds_goes_from_its_start_straight_to_done(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    screen = Screen()
    progress = Progress(SimpleNamespace(outbox=screen), lambda coro: None)  # type: ignore[arg-type]
    for percent in range(0, 101, 5):  # a report every 0.3 s: 6 s in all, 3 s left at halfway
        clock[0] += 0.3
        await progress.module_progress(1, progressed(percent))
    assert [text for _new, text in screen.shown] == ["🎬 Putting your video together… 0%",
                                                     "🎬 Putting your video together… 100%"]


def test_the_wait_counts_what_the_renders_under_way_have_left(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(background_module.time, "monotonic", lambda: clock[0])
    line = BackgroundWork(runlog=None, loop=None, slots=2)  # type: ignore[arg-type]
    assert line.waits(3) == []  # nothing finished here yet: no guess
    line._took.extend([40.0, 20.0])  # renders take about 30 s here
    assert line.waits(3) == [0.0, 0.0, 30.0]  # both slots free
    line._began.update({"a": 990.0, "b": 1000.0})  # one render 10 s in, one just begun
    assert line.waits(5) == [20.0, 30.0, 50.0, 60.0, 80.0]
    clock[0] = 1045.0  # "a" has run longer than usual: it may end any moment
    assert line.waits(2) == [0.0, 0.0]



def test_before_any_render_has_finished_the_pace_of_those_under_way_tells_the_wait(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(background_module.time, "monotonic", lambda: clock[0])
    line = BackgroundWork(runlog=None, loop=None, slots=2)  # type: ignore[arg-type]
    line._began.update({"a": 990.0, "b": 1000.0})
    line._paced("a", 10.0)  # too early to tell its pace
    assert line.waits(2) == []
    line._paced("a", 25.0)  # 25% in 10 s: 40 s in all, 30 s left
    assert line.waits(3) == [30.0, 40.0, 70.0]  # "b" is taken to go as fast, from now
    clock[0] = 1010.0
    line._paced("b", 50.0)  # "b" is quicker: 20 s in all, 10 s left; "a" 20 s left
    assert line.waits(3) == [10.0, 20.0, 40.0]
    line._took.append(60.0)  # a finished render: the typical one for those not yet begun
    assert line.waits(3) == [10.0, 20.0, 70.0]


class Line:
    """A runlog that records the places told, and renders that end when told to."""

    def __init__(self) -> None:
        self.told: list[tuple[str, int]] = []
        self.stall_telling: asyncio.Event | None = None  # set: telling places hangs until it is cleared
        self.finish: dict[str, asyncio.Event] = {}

    async def load(self, run_id: str) -> Any:
        return SimpleNamespace(run_id=run_id, working={"module_name": "render"})

    async def notify(self, run: Any, type_: str, data: dict[str, Any]) -> None:
        self.told.append((run.run_id, data["position"]))
        if self.stall_telling is not None:
            await asyncio.Event().wait()

    async def render(self, run_id: str) -> None:
        await self.finish.setdefault(run_id, asyncio.Event()).wait()


async def test_renders_take_turns_in_order_and_a_cancelled_one_gives_its_slot_back() -> None:
    runlog = Line()
    work = BackgroundWork(runlog=runlog, loop=None, slots=1)  # type: ignore[arg-type]
    work._run_module = runlog.render  # type: ignore[method-assign]
    for run_id in ("a", "b", "c"):
        work.spawn(run_id)
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert (work.position("b"), work.position("c")) == (1, 2)
    assert ("c", 2) in runlog.told
    runlog.stall_telling = asyncio.Event()  # "b" gets its turn, and hangs while the places are told
    runlog.finish["a"].set()
    await asyncio.sleep(0.01)
    assert work.position("b") is None and work.position("c") == 1
    work.cancel("b")  # e.g. the person cancelled the run: its slot must not be lost
    runlog.stall_telling = None
    await asyncio.sleep(0.01)
    assert work.position("c") is None, "the next in line got the slot"
    runlog.finish.setdefault("c", asyncio.Event()).set()
    await work.wait_idle(timeout=5)
