"""A conversation's state for one run, in the shared store (one row per run).

Everything the bot must remember between updates lives here, never in the
process's memory: a second process, or this one after a restart, sees the
same conversation. The fields under `interaction_id` belong to the open
question and are reset when the question changes. The row is deleted when
the run has ended and its end was shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr

from bot.callbacks import interaction_key
from engine.protocol import Understanding
from engine.store import SessionRow, Store


class MessageRef(BaseModel):
    """A message the bot may edit, with a digest of what it shows now."""

    message_id: int
    shown: str = ""
    caption: bool = False  # a photo or video whose caption is its text


@dataclass(frozen=True)
class Carry:
    """An answered question's message that may become the next question in place,
    with a line recalling the answer (HTML)."""

    ref: MessageRef
    recap: str


class Proposal(BaseModel):
    """What typed words were understood as, waiting for the person's [Yes]."""

    key: str  # what its buttons carry: a newer proposal makes older buttons stale
    understanding: Understanding
    message_id: int | None = None  # the message with the buttons


class Session(BaseModel):
    run_id: str
    owner: str
    chat_id: int
    # the open question, and what the person did with it so far
    interaction_id: str | None = None
    chosen: list[int] = Field(default_factory=list)  # ticked option numbers (multi-select)
    page: int = 0  # the page of a long option list
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)  # panel prompt key -> changed parameters
    feedback_option: str | None = None  # an open "what should be different?" prompt (retry option id)
    details: bool = False  # a select shows every option's details, not its short list
    settings: str | None = None  # a media question shows this provider's settings (its prompt key)
    control: MessageRef | None = None  # the question's message that carries its buttons
    proposal: Proposal | None = None  # typed words understood, asking [Yes] [No] before anything happens
    # the conversation around it
    shown: str = ""  # the screen last shown in full (a question id, or an error)
    status: MessageRef | None = None  # the pinned status message
    status_step: str | None = None  # the step it was last brought up to date in
    module_progress: MessageRef | None = None  # a long module's progress message (the final render)
    file_ids: dict[str, str] = Field(default_factory=dict)  # preview file path -> Telegram file id
    note: str | None = None  # a video idea typed before the run: the answer to its first text question
    # a file the person sent (bot/telegram/photos.py): kept BEFORE it is fetched, so a restart
    # fetches it again instead of asking for it again; `offered_file`: one sent at a question
    # that takes none, waiting for "start over with it?"
    pending_file: dict[str, Any] | None = None
    offered_file: dict[str, Any] | None = None
    closed: bool = Field(default=False, exclude=True)  # the run's end was shown: the row goes
    _loaded: str = PrivateAttr(default="")

    def focus(self, interaction_id: str | None) -> None:
        """Follow the run to its current question; a new question starts clean."""
        if interaction_id == self.interaction_id:
            return
        self.interaction_id = interaction_id
        self.chosen, self.page, self.params = [], 0, {}
        self.feedback_option, self.details, self.settings, self.control = None, False, None, None
        self.proposal = None

    @property
    def key(self) -> str | None:
        """The lookup key of the open question: what its buttons carry."""
        return interaction_key(self.interaction_id) if self.interaction_id else None

    def _digest(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)


class Sessions:
    """Sessions on the shared store. `round_trips` counts this room's database
    calls (a tap is meant to cost at most three)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.round_trips = 0

    def _wrap(self, row: SessionRow | None) -> Session | None:
        if row is None:
            return None
        session = Session.model_validate({**row.data, "run_id": row.run_id, "owner": row.owner})
        session._loaded = session._digest()
        return session

    async def of_owner(self, owner: str) -> Session | None:
        self.round_trips += 1
        return self._wrap(await self.store.session_of_owner(owner))

    async def by_key(self, key: str) -> Session | None:
        self.round_trips += 1
        return self._wrap(await self.store.session_by_key(key))

    async def of_run(self, run_id: str) -> Session | None:
        self.round_trips += 1
        return self._wrap(await self.store.session(run_id))

    async def save(self, session: Session) -> None:
        """Write the session if anything in it changed since it was loaded (or
        delete it once its run's end was shown)."""
        if session.closed:
            if session._loaded != "deleted":
                await self.delete(session.run_id)
                session._loaded = "deleted"
            return
        digest = session._digest()
        if digest == session._loaded:
            return
        self.round_trips += 1
        data = session.model_dump(mode="json", exclude={"run_id", "owner"})
        await self.store.save_session(session.run_id, session.owner, session.key, data)
        session._loaded = digest

    async def delete(self, run_id: str) -> None:
        self.round_trips += 1
        await self.store.delete_session(run_id)

    async def all(self) -> list[Session]:
        self.round_trips += 1
        return [s for s in (self._wrap(r) for r in await self.store.sessions()) if s is not None]

    async def claim(self, keys: list[str], run_id: str = "") -> list[bool]:
        """Deliver-once markers: True for each key this call took."""
        if not keys:
            return []
        self.round_trips += 1
        return await self.store.claim(keys, run_id)

    async def release(self, key: str) -> None:
        self.round_trips += 1
        await self.store.release(key)
