"""After a restart: show each person what the last process could not.

Jobs in flight are polled again by the engine (`resume_all`); here each run's
chat gets the results of jobs that finished unseen and its open question (or
error, or finished video) unless it was shown in full before. Each at most once.
"""

from __future__ import annotations

import logging

from telegram.error import TelegramError

from bot.telegram.ccbot import CCBot
from bot.telegram.photos import resume_pending_file
from bot.telegram.progress import Progress
from bot.telegram.session import Session
from engine.protocol import EngineEvent, MediaDisplay, RunStatus, RunView

log = logging.getLogger(__name__)


async def catch_up(bot: CCBot, progress: Progress) -> None:
    for view in await bot.engine.resume_all():
        try:
            await catch_up_run(bot, progress, view)
        except TelegramError as exc:
            log.warning("could not catch run %s up: %s", view.run_id, exc)
    for row in await bot.engine.services.store.list_runs(status="completed", limit=20):
        view = await bot.engine.get_run(row.run_id)  # finished as the last process died
        session = await bot.sessions.of_run(row.run_id)
        if session is not None or view.origin.get("chat_id"):
            await bot.presenter.finished(view, session, chat_id=_chat(view, session))
            if session is not None:
                await bot.sessions.save(session)


def _chat(view: RunView, session: Session | None) -> int:
    return session.chat_id if session is not None else int(view.origin.get("chat_id") or 0)


async def catch_up_run(bot: CCBot, progress: Progress, view: RunView) -> None:
    session = await bot.sessions.of_run(view.run_id)
    if session is None:
        chat_id = int(view.origin.get("chat_id") or 0)
        if not chat_id:
            return  # a run of another front end (e.g. the terminal demo)
        session = Session(run_id=view.run_id, owner=view.owner, chat_id=chat_id)  # died before it was saved
        await bot.sessions.save(session)
    if view.pending is not None and isinstance(view.pending.display_data, MediaDisplay):
        for job in view.pending.display_data.jobs:
            if job.status in ("completed", "failed"):
                await progress.job_finished(EngineEvent(
                    run_id=view.run_id, owner=view.owner, origin=view.origin, type=f"job_{job.status}",
                    data={"job_id": job.job_id, "error": job.error}))
    async with bot.locks.hold(view.owner):
        session = await bot.sessions.of_run(view.run_id) or session
        view = await bot.engine.get_run(view.run_id)
        if session.pending_file and await resume_pending_file(bot, session, view):
            return  # a photo the last process was fetching: fetched again, not asked for again
        screen = view.pending.interaction_id if view.pending is not None else f"error:{view.updated_at}"
        if view.status != RunStatus.ACTIVE or session.shown != screen:
            await bot.show(view, session)
