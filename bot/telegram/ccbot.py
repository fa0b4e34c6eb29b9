"""What every handler shares (engine, sessions, outbox, screens, locks), and
the few things they all do: start a run, answer the open question, show a run."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from telegram.constants import ChatAction, ParseMode

from bot import render
from bot.render import OutMessage
from bot.render.talk import NOTE_USED, quote
from bot.telegram.outbox import Outbox
from bot.telegram.presenter import Presenter
from bot.telegram.session import Carry, Session, Sessions
from bot.telegram.tap import PersonLocks, owner_of
from engine.api import Engine
from engine.protocol import InteractionResponse, RunView, TextInputDisplay
from engine.settings import Settings

TYPING_AFTER_S = 0.8  # "typing…" only when an answer takes a while (an LLM call)
TYPING_AFTER_TOAST_S = 3.0  # after a "this takes a few seconds" toast: about when Telegram hides it


def callback_secret(settings: Settings) -> bytes:
    """Stable across restarts (old buttons keep working), secret (derived from the token)."""
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else "offline"
    return hashlib.sha256(b"ccbot callback v1|" + token.encode()).digest()


@dataclass
class CCBot:
    engine: Engine
    sessions: Sessions
    outbox: Outbox
    presenter: Presenter
    settings: Settings
    locks: PersonLocks

    @property
    def secret(self) -> bytes:
        return self.presenter.secret

    async def show(self, view: RunView, session: Session, *, again: bool = False, files_again: bool = False,
                   urgent: bool = False, carry: Carry | None = None) -> None:
        """Show the run and keep what was shown (one write, only if something changed)."""
        if session.note and await self._use_note(view, session):
            return
        try:
            await self.presenter.show(view, session, again=again, files_again=files_again, urgent=urgent,
                                      carry=carry)
        finally:
            await self.sessions.save(session)

    async def _use_note(self, view: RunView, session: Session) -> bool:
        """Answer the run's first text question with the idea typed before the run
        began (and say so). True when it did: the answer is shown by then."""
        req = view.pending
        if req is None or not isinstance(req.display_data, TextInputDisplay):
            return False
        note, session.note = (session.note or "")[: req.display_data.max_length], None
        await self.outbox.send(session.chat_id, OutMessage(text=NOTE_USED.format(idea=quote(note)), parse_mode=None))
        await self.respond(session, InteractionResponse(interaction_id=req.interaction_id, value=note), urgent=True)
        return True

    async def respond(self, session: Session, response: InteractionResponse, *, urgent: bool = False,
                      announced: bool = False, carry: Carry | None = None) -> None:
        """Answer the open question; show where that leads. `announced`: the tap's
        toast said it takes a moment, so "typing…" only once that toast is gone;
        `carry`: the answered question's message, for a next question that comes at once."""
        delay = TYPING_AFTER_TOAST_S if announced else TYPING_AFTER_S
        async with self.outbox.acting(session.chat_id, ChatAction.TYPING, delay):
            view = await self.engine.respond(session.run_id, response, session.owner)
        session.feedback_option = None
        await self.show(view, session, urgent=urgent, carry=carry)

    async def start_new(self, user_id: int, chat_id: int, force: bool, note: str | None = None) -> None:
        """A new run in this chat; with one in progress, ask first (unless `force`).
        `note`: a video idea, the answer to the run's first text question."""
        owner = owner_of(user_id)
        active = await self.engine.active_run(owner)
        if active and not force:
            text = (f"You have a video in progress ({render.esc(active.current_step_name or '')}). "
                    "Start over? The current one will be stopped.")
            # names the run it stops: once that run is over, the button is stale
            buttons = [[self.presenter.button("🆕 Start over", "new", active.run_id),
                        self.presenter.button("▶️ Keep going", "resume", "menu")]]
            await self.outbox.send(chat_id, OutMessage(text=text, buttons=buttons, parse_mode=ParseMode.HTML),
                                   urgent=True)
            return
        if active:
            await self.end_run(active.run_id, owner)
        view = await self.engine.start_run(owner, origin={"chat_id": chat_id})
        await self.show(view, Session(run_id=view.run_id, owner=owner, chat_id=chat_id, note=note), urgent=True)

    async def end_run(self, run_id: str, owner: str) -> None:
        """Stop a run and let its chat say so (status), then forget its session."""
        view = await self.engine.cancel_run(run_id, owner)
        session = await self.sessions.of_run(run_id)
        if session is not None:
            await self.show(view, session)
