"""A conversation's state for one run, in the shared store (one row per run).

Everything the bot must remember between updates lives here, never in the
process's memory: a second process, or this one after a restart, sees the
same conversation. The fields under `interaction_id` belong to the open
question and are reset when the question changes. The row is deleted when
the run has ended and its end was shown.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
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
    calls (a tap is meant to cost at most three).

    `sole_writer`: this is the only bot process, so every change to a session goes
    through here and the rows it read or wrote can be kept (write-through): a tap
    then finds its question without waiting for the database behind other
    people's writes, which set the slowest first reactions under a crowd. Several
    processes always read the store."""

    CACHED = 10_000  # rows kept at most: one per run in progress

    def __init__(self, store: Store, sole_writer: bool = False) -> None:
        self.store = store
        self.round_trips = 0
        self._rows: OrderedDict[str, SessionRow] | None = OrderedDict() if sole_writer else None
        self._run_of_key: dict[str, str] = {}

    def _wrap(self, row: SessionRow | None, kept: bool = False) -> Session | None:
        if row is None:
            return None
        if kept and self._rows is not None:  # a kept row read again: the most recently used
            self._rows.move_to_end(row.run_id)
        else:
            self._keep(row)
        session = Session.model_validate({**row.data, "run_id": row.run_id, "owner": row.owner})
        session._loaded = session._digest()
        return session

    def _keep(self, row: SessionRow) -> None:
        if self._rows is None:
            return
        old = self._rows.pop(row.run_id, None)
        if old is not None and old.key is not None:
            self._run_of_key.pop(old.key, None)
        self._rows[row.run_id] = row
        if row.key is not None:
            self._run_of_key[row.key] = row.run_id
        while len(self._rows) > self.CACHED:
            self._drop(next(iter(self._rows)))

    def _drop(self, run_id: str) -> None:
        if self._rows is not None and (row := self._rows.pop(run_id, None)) is not None and row.key is not None:
            self._run_of_key.pop(row.key, None)

    def _kept(self, run_id: str | None) -> SessionRow | None:
        if self._rows is None or run_id is None:
            return None
        return self._rows.get(run_id)

    def forget_owner(self, owner: str) -> None:
        """The store deleted this person's data (/forget): drop what is kept of it."""
        if self._rows is not None:
            for run_id in [r.run_id for r in self._rows.values() if r.owner == owner]:
                self._drop(run_id)

    async def of_owner(self, owner: str) -> Session | None:
        self.round_trips += 1
        return self._wrap(await self.store.session_of_owner(owner))

    async def by_key(self, key: str) -> Session | None:
        if (row := self._kept(self._run_of_key.get(key))) is not None:
            return self._wrap(row, kept=True)
        self.round_trips += 1
        return self._wrap(await self.store.session_by_key(key))

    async def of_run(self, run_id: str) -> Session | None:
        if (row := self._kept(run_id)) is not None:
            return self._wrap(row, kept=True)
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
        self._keep(SessionRow(session.run_id, session.owner, session.key, data, time.time()))
        session._loaded = digest

    async def delete(self, run_id: str) -> None:
        self.round_trips += 1
        await self.store.delete_session(run_id)
        self._drop(run_id)

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
