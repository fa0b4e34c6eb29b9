"""What the engine reports while things are made: job progress lines, a long
module's progress message (the final render), and finished or failed jobs.

The engine's call returns at once: each event is handled in its own task, so
a slow Telegram never holds up a job's polling or a render. The chat comes
with the event (the run's origin), so no lookup is needed for events that
change nothing on screen. Progress is cosmetic: an edit is made at most every
`EDIT_EVERY_S`, and a job's line is skipped while the person's own update is
being handled. A finished job waits its turn and is always shown.

A long module's progress message (the final render) belongs to the render
running in this process, so its message id stays here, not in the session
(which the person's own update may be writing at the same time).
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.constants import ChatAction
from telegram.error import Forbidden, TelegramError

from bot import render
from bot.render import OutMessage
from bot.telegram.ccbot import CCBot
from bot.telegram.session import MessageRef
from engine.locks import KeyedLocks
from engine.protocol import EngineEvent, MediaDisplay, RunStatus

log = logging.getLogger(__name__)

EDIT_EVERY_S = 2.0
JOB_EDIT_EVERY_S = 10.0  # a job's line in its question: a clip takes minutes, an edit a call
ACTION_AFTER_S = 3.0  # "sending a video…" once a job outlasts the tap's toast
HALFWAY = 50.0  # a render's progress is said once it has begun, once past this, and when done
HALFWAY_WORTH_S = 10.0  # ...past halfway only when the rest takes at least this long at its pace
QUEUE_EDIT_EVERY_S = 15.0  # a place in line with no estimate of the wait: said again now and then
SORRY = "😿 Something went wrong on my side. Your progress is saved: /status shows where you are."


Spawn = Callable[[Coroutine[Any, Any, None]], Any]


class Progress:
    def __init__(self, bot: CCBot, spawn: Spawn) -> None:
        self.bot = bot
        self.spawn = spawn
        self._last_edit: dict[str, float] = {}
        self._place_until: dict[str, float] = {}  # render -> when its place in line may be said again
        self._job_seen: dict[str, float] = {}  # job id -> when its progress was first reported
        # run/module -> (its progress message, the percent it says or None while it says the place in line)
        self._renders: OrderedDict[str, tuple[MessageRef | None, float | None]] = OrderedDict()
        self._render_locks = KeyedLocks()

    def _due(self, key: str, final: bool, every: float = EDIT_EVERY_S, wait_first: bool = False) -> bool:
        """True when an edit for `key` may go out now; `wait_first`: not before `every`
        has passed since the key was first seen (what was shown when it began still holds)."""
        now = time.monotonic()
        if wait_first and key not in self._last_edit:
            self._last_edit[key] = now
        if not final and now - self._last_edit.get(key, 0.0) < every:
            return False
        self._last_edit[key] = now
        if len(self._last_edit) > 5000:
            self._last_edit = {k: v for k, v in self._last_edit.items() if now - v < 60}
        return True

    def _place_due(self, key: str) -> bool:
        if time.monotonic() < self._place_until.get(key, 0.0):
            return False
        if len(self._place_until) > 5000:
            now = time.monotonic()
            self._place_until = {k: v for k, v in self._place_until.items() if v > now}
        return True

    async def on_event(self, event: EngineEvent) -> None:
        """The engine's listener: hand the event to a task of its own."""
        if event.type in ("job_progress", "module_progress", "module_queued", "job_completed", "job_failed",
                          "run_advanced"):
            self.spawn(self.handle(event))

    async def handle(self, event: EngineEvent) -> None:
        chat_id = int(event.origin.get("chat_id") or 0)
        if not chat_id:
            return
        try:
            if event.type == "job_progress":
                await self.job_progress(chat_id, event)
            elif event.type in ("module_progress", "module_queued"):
                await self.module_progress(chat_id, event)
            elif event.type in ("job_completed", "job_failed"):
                await self.job_finished(event)
            elif event.type == "run_advanced":
                await self.run_advanced(event)
        except TelegramError as exc:
            log.warning("could not show %s for run %s: %s", event.type, event.run_id, exc)
            if event.type in ("job_completed", "job_failed") and not isinstance(exc, Forbidden):
                try:  # the person would otherwise wait for results that never come
                    await self.bot.outbox.send(chat_id, OutMessage(text=SORRY, parse_mode=None))
                except TelegramError:
                    pass

    async def job_progress(self, chat_id: int, event: EngineEvent) -> None:
        """The question's own message shows the job's line; it is brought up to
        date now and then (a long clip), never more often than `JOB_EDIT_EVERY_S`,
        and not in a job's first `JOB_EDIT_EVERY_S`: the tap's own edit said it began,
        and a job done sooner shows its result instead."""
        bot = self.bot
        now, job_id = time.monotonic(), str(event.data["job_id"])
        if now - self._job_seen.setdefault(job_id, now) >= ACTION_AFTER_S:  # the tap's toast covers the start
            await bot.outbox.chat_action(chat_id, ChatAction.UPLOAD_VIDEO if event.data.get("provider") else
                                         ChatAction.TYPING)
        if len(self._job_seen) > 5000:
            self._job_seen = {k: v for k, v in self._job_seen.items() if now - v < 3600}
        if bot.locks.busy(event.owner) or not self._due(job_id, final=False, every=JOB_EDIT_EVERY_S,
                                                         wait_first=True):
            return
        async with bot.locks.hold(event.owner):
            session = await bot.sessions.of_run(event.run_id)
            if session is not None and session.control is not None:
                await bot.show(await bot.engine.get_run(event.run_id), session)

    async def module_progress(self, chat_id: int, event: EngineEvent) -> None:
        """One message per render: its place in line, then its progress
        ("🎬 Putting your video together… 40%"). Edited when the render has begun,
        once past `HALFWAY` (when the rest takes a while: a render done in seconds goes
        straight to 100%) and when done, so a render costs the same few calls
        however long a busy machine makes it take. The start (0%) is not an edit of
        its own when the place in line was said just before, and no chat action is
        sent: the message itself shows that the video is being made."""
        queued = event.type == "module_queued"
        percent = 0.0 if queued else float(event.data.get("progress") or 0)
        key = f"{event.run_id}:{event.data.get('module')}"
        shown, said = self._renders.get(key) or (None, None)
        starting = queued or percent <= 0
        first = shown is None or (_done(said) and starting)  # a new render: a new message
        final = percent >= 100
        if queued and not self._place_due(key):  # also while the first place is still being sent
            return
        if not (first or final or queued or self._news(key, said, percent)):
            return
        if not self._due(key, final=first or final or queued):  # stamped by a place too: no 0% right after it
            return
        if queued:
            minutes = _minutes(float(event.data.get("wait_s") or 0))
            text = f"⏳ Your video is in line to be put together: #{int(event.data.get('position') or 1)}"
            text += f", about {minutes} minute{'s' if minutes > 1 else ''}" if minutes else ""
            # said again only once the minutes said are over (the estimate was short) or,
            # with no estimate, now and then
            self._place_until[key] = time.monotonic() + max(QUEUE_EDIT_EVERY_S, minutes * 60)
        else:
            self._place_until.pop(key, None)  # begun: a later render of this run says its place anew
            text = f"🎬 {render.esc(event.data.get('message') or 'Working')}… {percent:.0f}%"
        async with self._render_locks(key):  # in order: the first message exists before it is edited
            shown, said = self._renders.get(key) or (None, None)
            fresh = shown is None or (_done(said) and starting)
            ref = await self.bot.outbox.show(chat_id, None if fresh else shown, OutMessage(text=text), quiet=True)
            self._renders[key] = (ref, None if queued else percent)
            self._renders.move_to_end(key)
            while len(self._renders) > 1000:
                self._renders.popitem(last=False)

    def _news(self, key: str, said: float | None, percent: float) -> bool:
        """Whether a render's progress is worth an edit: the message still says the place
        in line (the render has begun), or it is the first report past `HALFWAY` and the
        rest, at the pace since the last edit (the start), takes at least `HALFWAY_WORTH_S`."""
        if said is None:
            return True
        if not said < HALFWAY <= percent:
            return False
        elapsed = time.monotonic() - self._last_edit.get(key, time.monotonic())
        return elapsed * (100 - percent) / (percent - said) >= HALFWAY_WORTH_S

    async def run_advanced(self, event: EngineEvent) -> None:
        """A long module finished (or failed) off the tap: show where the run is now."""
        async with self.bot.locks.hold(event.owner):
            session = await self.bot.sessions.of_run(event.run_id)
            if session is not None:
                await self.bot.show(await self.bot.engine.get_run(event.run_id), session)

    async def job_finished(self, event: EngineEvent) -> None:
        """A job's files, then its question with their Pick buttons. The files are
        claimed under the person's lock but uploaded without it, so their next
        tap is not kept waiting behind an upload."""
        bot = self.bot
        job_id = str(event.data["job_id"])
        async with bot.locks.hold(event.owner):
            session = await bot.sessions.of_run(event.run_id)
            if session is None:
                return
            view = await bot.engine.get_run(event.run_id)
            if event.type == "job_failed" and (await bot.sessions.claim([f"failed:{job_id}"], event.run_id))[0]:
                error = render.esc(event.data.get("error") or "The provider could not make this one.")
                await bot.outbox.send(session.chat_id, OutMessage(text=f"⚠️ {error}"))
            media = view.status == RunStatus.ACTIVE and view.pending and isinstance(view.pending.display_data,
                                                                                     MediaDisplay)
            uploads = await bot.presenter.claim_contents(view.pending, session, True) if media else []
        await bot.presenter.upload(session.chat_id, uploads)
        async with bot.locks.hold(event.owner):
            session = await bot.sessions.of_run(event.run_id)
            if session is not None:
                await bot.show(await bot.engine.get_run(event.run_id), session)  # the Pick buttons


def _minutes(seconds: float) -> int:
    """A wait in line in whole minutes, rounded up (an estimate, never precise); 0: no estimate."""
    return max(1, math.ceil(seconds / 60)) if seconds > 0 else 0


def _done(said: float | None) -> bool:
    return said is not None and said >= 100
