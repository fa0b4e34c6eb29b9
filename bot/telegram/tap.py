"""One update, resolved once: who, which chat, which run and question.

A button's signed data names its question (`CallbackData.ikey`); the session
of that question is found by that key in one database call, and the run's
view comes from the engine (cached), never looked up again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.callbacks import CallbackData
from bot.telegram.outbox import Outbox
from bot.telegram.session import Session, Sessions
from engine.api import Engine
from engine.errors import EngineError, StaleInteraction
from engine.locks import KeyedLocks
from engine.protocol import InteractionRequest, RunView


def owner_of(user_id: int) -> str:
    return f"tg:{user_id}"


class PersonLocks(KeyedLocks):
    """One person's updates one at a time, in order; different people side by side."""


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

    async def answer(self, text: str | None = None, alert: bool = False) -> None:
        """Stop the spinner, once; the first answer wins."""
        if not self.answered:
            self.answered = True
            await self.outbox.answer(self.query, text, alert)

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
