"""One update, resolved once: who, which chat, which run and question.

A button's signed data names its question (`CallbackData.ikey`); the session
of that question is found by that key in one database call, and the run's
view comes from the engine (cached), never looked up again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from bot.callbacks import CallbackData
from bot.telegram.outbox import Outbox
from bot.telegram.session import Carry, Session, Sessions
from engine.api import Engine
from engine.errors import EngineError, StaleInteraction
from engine.locks import KeyedLocks
from engine.store import Store
from engine.protocol import InteractionRequest, RunView


WORKING = "✍️ On it: this takes a few seconds…"


def owner_of(user_id: int) -> str:
    return f"tg:{user_id}"


class PersonLocks:
    """One person's updates one at a time, in order; different people side by
    side. Across processes too when the store is shared (an advisory lock)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._local = KeyedLocks()

    def busy(self, owner: str) -> bool:
        """True while this process is handling something of this person's."""
        lock = self._local.get(owner)
        return lock is not None and lock.locked()

    @contextlib.asynccontextmanager
    async def hold(self, owner: str) -> AsyncIterator[None]:
        """Held for the whole handling of one update; a handler inside a holder
        (the webhook route holds it around the update) does not wait for itself.
        Only the holding task itself: a task started while it held the lock (the
        engine's work for a tap, and the events that work sends back) inherits the
        context, not the lock, and waits its turn like any other."""
        task, held = asyncio.current_task(), _HELD.get()
        if owner in held and held[owner] is task:
            yield
            return
        async with self._local(owner), self.store.lock("person", owner):
            token = _HELD.set({**held, owner: task})
            try:
                yield
            finally:
                _HELD.reset(token)


# person -> the task that holds their lock (in this task's context)
_HELD: contextvars.ContextVar[dict[str, asyncio.Task[Any] | None]] = contextvars.ContextVar("held_people",
                                                                                         default={})
# True while an update is handled again because the process handling it before died mid-way
# (bot/telegram/webhook.py): what that process already did to the chat is not done twice
CUT_SHORT: contextvars.ContextVar[bool] = contextvars.ContextVar("update_cut_short", default=False)


class NotYours(EngineError):
    """A button of someone else's run (in a group chat)."""


@dataclass
class Tap:
    query: Any  # telegram.CallbackQuery
    data: CallbackData
    user_id: int
    chat_id: int
    outbox: Outbox
    session: Session | None = None
    view: RunView | None = None
    answered: bool = False
    announced: bool = False  # the answer said the next question takes a moment


    async def answer(self, text: str | None = None, alert: bool = False) -> None:
        """Stop the spinner, once; the first answer wins."""
        if not self.answered:
            self.answered = True
            await self.outbox.answer(self.query, text, alert)

    async def answer_choice(self, text: str | None = None) -> None:
        """Answer a tap that answers the question: when that sets off model calls,
        the toast says so at once (and no early "typing…" is needed)."""
        if self.view is not None and self.view.pending is not None and self.view.pending.answer_sets_off_calls:
            text = f"{text} · {WORKING}" if text else WORKING
            self.announced = not self.answered
        await self.answer(text)

    def carry(self, recap: str) -> Carry | None:
        """The question's message, to become the next question in place, when that comes
        at once (no model call in between) and the tap was on it: one edit, not a new message."""
        session, message = self.session, getattr(self.query, "message", None)
        if self.view is None or self.view.pending is None or self.view.pending.answer_sets_off_calls:
            return None
        if session is None or session.control is None or session.control.caption or message is None:
            return None
        return Carry(session.control, recap) if message.message_id == session.control.message_id else None

    @property
    def owner(self) -> str:
        return owner_of(self.user_id)

    @property
    def question(self) -> InteractionRequest:
        assert self.view is not None and self.view.pending is not None
        return self.view.pending

    async def resolve(self, sessions: Sessions, engine: Engine) -> None:
        """The open question this button belongs to, or StaleInteraction / NotYours."""
        session = await sessions.by_key(self.data.ikey)
        if session is None:
            raise StaleInteraction("This choice is no longer open.")
        if session.owner != self.owner:
            raise NotYours("Only the person who started this video can use its buttons.")
        view = await engine.get_run(session.run_id)
        if view.pending is None or not self.data.matches(view.pending.interaction_id):
            raise StaleInteraction("This choice is no longer open.")
        session.focus(view.pending.interaction_id)
        self.session, self.view = session, view
