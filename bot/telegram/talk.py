"""Typed (or transcribed) words at any step: understood by the engine
(`Engine.understand`), said back, and confirmed before anything that costs.

Free and certain things apply at once (a tick, a pick by its number that
sets off no paid call); everything else becomes a proposal with [Yes] [No].
The proposal lives in the session, so a [Yes] works after a restart; "No"
changes nothing. Typing "yes" or "no" answers an open proposal too.
"""

from __future__ import annotations

from bot import callbacks
from bot.render import OutMessage
from bot.render.talk import (
    IDEA_START,
    NO_RUN,
    quote,
    render_applied,
    render_decided,
    render_nothing_changed,
    render_proposal,
    render_unclear,
    render_working,
)
from bot.telegram.ccbot import CCBot
from bot.telegram.session import MessageRef, Proposal, Session
from bot.telegram.tap import Tap
from engine.errors import EngineError, InvalidResponse, StaleInteraction
from engine.presentation import job_progress, panel_params
from engine.protocol import (
    MediaDisplay,
    RunView,
    SubActionRequest,
    Understanding,
)
from engine.understanding import is_no, is_yes, reads_like_idea

RUNNING = ("created", "submitted", "running")


async def no_run(bot: CCBot, user_id: int, chat_id: int, text: str) -> None:
    """No video open: an idea starts one (kept as its personal note); anything else gets the way in."""
    if not reads_like_idea(text):
        await bot.outbox.send(chat_id, OutMessage(text=NO_RUN, parse_mode=None), urgent=True)
        return
    await bot.outbox.send(chat_id, OutMessage(text=IDEA_START.format(idea=quote(text)), parse_mode=None),
                          urgent=True)
    await bot.start_new(user_id, chat_id, force=False, note=text.strip())


def _working_line(view: RunView) -> str | None:
    req = view.pending
    if req is None or not isinstance(req.display_data, MediaDisplay):
        return None
    labels = {p.prompt_key: p.label for p in req.display_data.panels}
    running = [j for j in req.display_data.jobs if j.status in RUNNING]
    return "\n".join(job_progress(j, labels.get(j.prompt_key)) for j in running) or None


async def on_text(bot: CCBot, session: Session, view: RunView, text: str) -> None:
    """Words at the open question (not a text input, no feedback prompt open)."""
    chat = session.chat_id
    if view.working:
        await bot.outbox.send(chat, render_working(
            "⏳ I’m still putting your video together.", "I’ll send it here when it’s done; your message "
            "changes nothing about it."), urgent=True)
        return
    req = view.pending
    if req is None:
        await bot.outbox.send(chat, OutMessage(text="⚠️ This step stopped. Tap “Try again” below.",
                                               parse_mode=None), urgent=True)
        await bot.show(view, session, again=True)
        return
    proposal = session.proposal
    if proposal is not None and proposal.understanding.interaction_id == req.interaction_id:
        if is_yes(text):
            await accept(bot, session, proposal)
            return
        if is_no(text):
            await decline(bot, session, proposal)
            return
    working = _working_line(view)
    if working:
        await bot.outbox.send(chat, render_working(working, "I’ll show the results here when they’re ready."),
                              urgent=True)
    u = await bot.engine.understand(session.run_id, text, session.owner, chosen=session.chosen)
    await act(bot, session, view, u)


async def act(bot: CCBot, session: Session, view: RunView, u: Understanding) -> None:
    chat = session.chat_id
    if u.kind == "cancel":
        if session.proposal is not None:
            await decline(bot, session, session.proposal)
        else:
            await bot.outbox.send(chat, render_nothing_changed(), urgent=True)
        return
    if u.kind == "unclear" or (u.response is None and u.sub_action is None and u.kind != "tick"):
        again = bot.presenter.button("▶️ Show the question again", "resume", "menu")
        await bot.outbox.send(chat, render_unclear(u, again), urgent=True)
        return
    if u.kind == "tick":
        session.chosen = list(u.ticks or [])
        await bot.show(view, session, urgent=True)  # the question's ticks, edited in place
        await bot.outbox.send(chat, render_applied(u), urgent=True)
        return
    if not u.confirm and u.response is not None:
        await bot.outbox.send(chat, render_applied(u), urgent=True)
        await bot.respond(session, u.response, urgent=True)
        return
    key = callbacks.short_key(f"{u.interaction_id}|{u.kind}|{u.summary}|{u.text}", 8)
    message = await bot.outbox.send(chat, render_proposal(u, key, bot.secret), urgent=True)
    session.proposal = Proposal(key=key, understanding=u, message_id=message.message_id)
    await bot.sessions.save(session)


async def _close(bot: CCBot, session: Session, proposal: Proposal, accepted: bool) -> None:
    session.proposal = None
    if proposal.message_id is not None:
        ref = MessageRef(message_id=proposal.message_id)
        await bot.outbox.show(session.chat_id, ref, render_decided(proposal.understanding, accepted), urgent=True)


async def decline(bot: CCBot, session: Session, proposal: Proposal) -> None:
    await _close(bot, session, proposal, accepted=False)
    await bot.sessions.save(session)


async def accept(bot: CCBot, session: Session, proposal: Proposal) -> None:
    """Do what was proposed: answer the question, or start the generation (once, even on a double tap)."""
    u = proposal.understanding
    view = await bot.engine.get_run(session.run_id, session.owner)
    if view.pending is None or view.pending.interaction_id != u.interaction_id:
        raise StaleInteraction("This suggestion is no longer open.")
    await _close(bot, session, proposal, accepted=True)
    try:
        if u.sub_action is not None:
            await _generate(bot, session, view, u.sub_action, proposal.key)
        elif u.response is not None:
            await bot.respond(session, u.response, urgent=True)
    except (EngineError, InvalidResponse) as exc:  # e.g. the provider went away meanwhile: say so
        reason = str(exc)
        await bot.outbox.send(session.chat_id, OutMessage(text=f"⚠️ {reason[:1].upper()}{reason[1:]}",
                                                          parse_mode=None), urgent=True)
    await bot.sessions.save(session)


async def _generate(bot: CCBot, session: Session, view: RunView, action: SubActionRequest, key: str) -> None:
    disp = view.pending.display_data if view.pending else None
    panel = next((p for p in disp.panels if p.prompt_key == action.prompt_key), None) \
        if isinstance(disp, MediaDisplay) else None
    if panel is None:
        raise InvalidResponse("That provider is not offered here any more.")
    overrides = session.params.get(panel.prompt_key, {})
    changed = {k: v for k, v in panel_params(panel, overrides).items() if k in overrides}  # the person's settings
    await bot.engine.start_sub_action(session.run_id, action.model_copy(update={
        "params": changed, "request_key": f"talk:{key}"}), session.owner)
    session.settings = None
    await bot.show(await bot.engine.get_run(session.run_id), session)


# ------------------------------------------------------------- the buttons
def _proposal(tap: Tap) -> Proposal | None:
    session = tap.session
    proposal = session.proposal if session is not None else None
    if proposal is None or proposal.key != tap.data.arg:
        return None
    return proposal


async def _decide(bot: CCBot, tap: Tap, accepted: bool) -> None:
    proposal = _proposal(tap)
    if proposal is None or tap.session is None:
        await tap.answer("This suggestion is no longer open.")
        return
    await tap.answer("On it…" if accepted else "OK, nothing changed.")
    await (accept if accepted else decline)(bot, tap.session, proposal)


async def yes(bot: CCBot, tap: Tap) -> None:
    await _decide(bot, tap, accepted=True)


async def no(bot: CCBot, tap: Tap) -> None:
    await _decide(bot, tap, accepted=False)
