"""Showing a run in its chat: the pinned status, then its question, its error
or its end. Screens come from `bot.render` (driven by the protocol and the
`_ux` hints, never by step ids); the outbox sends or edits them.

A question already on screen is brought up to date by editing its message
with the buttons (ticks, settings, new results); a new question, or the
person asking to see it again, sends it anew. Files are claimed before they
are sent, so a restart never sends one twice.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

from telegram.constants import ChatAction
from telegram.error import TelegramError

from bot import callbacks, render
from bot.render import Button, OutMessage
from bot.telegram.outbox import Outbox, digest
from bot.telegram.session import Carry, MessageRef, Session, Sessions
from engine.api import Engine
from engine.presentation import ShownContent
from engine.protocol import InteractionRequest, MediaDisplay, RunResult, RunStatus, RunView, SelectDisplay

log = logging.getLogger(__name__)

DONE = "✨ Done! Your video is ready to post."
ALBUM_LIMIT = 10  # pictures Telegram takes in one media group
UPLOADING_AFTER_S = 0.8  # "sending a video…" (or photo, file) only for an upload that takes a while


class Presenter:
    def __init__(self, engine: Engine, sessions: Sessions, outbox: Outbox, secret: bytes) -> None:
        self.engine = engine
        self.sessions = sessions
        self.outbox = outbox
        self.secret = secret

    def button(self, text: str, action: str, ikey_of: str, arg: str | int = "") -> Button:
        return Button(text, callbacks.encode(action, ikey_of, arg, self.secret))

    async def show(self, view: RunView, session: Session, *, again: bool = False, files_again: bool = False,
                   urgent: bool = False, carry: Carry | None = None) -> None:
        """Where the run stands now. `again`: send the question anew (it was
        asked for, or scrolled away); `files_again`: its files too; `carry`: the
        answered question's message, which a next text question may take over."""
        session.focus(view.pending.interaction_id if view.pending else None)
        await self.status(view, session, urgent=urgent)
        if view.status == RunStatus.COMPLETED:
            await self.finished(view, session)
        elif view.status == RunStatus.FAILED:
            await self.failed(view, session)
        elif view.status != RunStatus.ACTIVE:
            session.closed = True
        elif view.working:
            return  # e.g. the final render: its own progress message says how it goes
        elif view.pending is None:
            await self.error(view, session, again)
        else:
            await self.question(view.pending, session, again=again, files_again=files_again, urgent=urgent,
                                carry=carry)

    # -------------------------------------------------------------- status
    async def status(self, view: RunView, session: Session, urgent: bool = False) -> None:
        """The pinned status message: what was chosen so far (each question says
        where the run is); sent and pinned once per run, once there is a choice
        to show (an empty one would cost two calls), then brought up to date
        once a step (a step's answers show together when the next one begins:
        fewer calls against Telegram's 30 a second) and at the end."""
        fresh = session.status is None
        if view.status == RunStatus.ACTIVE and view.current_step_id == session.status_step:
            return
        title = {RunStatus.COMPLETED: "Your video · finished 🎉", RunStatus.ACTIVE: "Your video"}.get(
            view.status, f"Your video · {view.status.value}")
        fields = await self.engine.status_fields(view.run_id, with_step=False)
        if fresh and view.status == RunStatus.ACTIVE and not any(fields):
            session.status_step = view.current_step_id  # nothing chosen yet: sent when the next step begins
            return
        out = OutMessage(render.render_status(fields, title))
        try:
            # a new run's status is the first thing its person sees: urgent when they just asked for it
            session.status = await self.outbox.show(session.chat_id, session.status, out, quiet=True,
                                                    urgent=urgent and fresh)
            session.status_step = view.current_step_id
            if fresh:
                await self.outbox.pin(session.chat_id, session.status.message_id)
        except TelegramError as exc:  # a 5xx or a network error: keep the old one, try next time
            log.warning("could not update the status message: %s", exc)

    # ------------------------------------------------------------ question
    async def question(self, req: InteractionRequest, session: Session, *, again: bool, files_again: bool,
                       urgent: bool = False, carry: Carry | None = None) -> None:
        disp = req.display_data
        messages = render.render_request(req, self.secret, chosen=set(session.chosen), param_choices=session.params,
                                         page=session.page, details=session.details, settings=session.settings,
                                         file_limit=self.outbox.download_limit)
        chat = session.chat_id
        if isinstance(disp, MediaDisplay):
            await self.contents(req, session, only_new=not files_again)
        elif isinstance(disp, SelectDisplay) and (again or session.shown != req.interaction_id):
            # e.g. the finished video before "happy with it?": the question rides on it when it fits
            if await self.previews(req, session, files_again, messages[-1], urgent):
                session.shown = req.interaction_id
                return
        if not again and session.control is not None and session.shown == req.interaction_id:
            session.control = await self.outbox.show(chat, session.control, messages[-1], urgent=urgent)
            return
        if (not again and carry is not None and len(messages) == 1 and messages[0].kind == "text"
                and not messages[0].force_reply and self.outbox.is_newest(chat, carry.ref.message_id)):
            # still the chat's last message and the next question came at once: it becomes that question
            out = messages[0]
            recap = dataclasses.replace(out, text=f"{carry.recap}\n\n{out.text}")
            fits = out.parse_mode == "HTML" and render.tg_len(recap.text) <= render.TEXT_LIMIT
            session.control = await self.outbox.show(chat, carry.ref, recap if fits else out, urgent=urgent)
            session.shown = req.interaction_id
            return
        for out in messages[:-1]:
            await self.outbox.send(chat, out, urgent=urgent)
        session.control = await self.outbox.show(chat, None, messages[-1], urgent=urgent)
        session.shown = req.interaction_id

    async def previews(self, req: InteractionRequest, session: Session, again: bool, question: OutMessage,
                       urgent: bool) -> bool:
        """The files a select shows first, each once. True when the question went
        out with the (only) file, as its caption and buttons: one message, not two."""
        disp = req.display_data
        assert isinstance(disp, SelectDisplay)
        previews = render.preview_media(disp.data, disp.display_schema)
        keys = [f"preview:{req.interaction_id}:{p.path}" for p in previews]
        taken = [True] * len(keys) if again else await self.sessions.claim(keys, session.run_id)
        carry = len(previews) == 1 and taken[0] and render.tg_len(question.text) <= render.CAPTION_LIMIT
        for preview, new in zip(previews, taken, strict=True):
            if not new:
                continue
            caption, buttons = (question.text, question.buttons) if carry else (render.esc(preview.label), None)
            message = await self.outbox.send_file(session.chat_id, preview.kind, preview.path, caption=caption,
                                                  buttons=buttons, file_id=session.file_ids.get(preview.path))
            file_id = _file_id(message)
            if file_id:
                session.file_ids[preview.path] = file_id
            if carry:
                session.control = MessageRef(message_id=message.message_id, shown=digest(question), caption=True)
        return carry

    async def contents(self, req: InteractionRequest, session: Session, only_new: bool) -> None:
        """Each generated file once (claimed before sending); the pictures of one
        generation as one album (their Pick buttons are on the question)."""
        await self.upload(session.chat_id, await self.claim_contents(req, session, only_new))

    async def claim_contents(self, req: InteractionRequest, session: Session, only_new: bool) -> list[Upload]:
        """The generated files still to send, claimed (so no other showing sends them)."""
        disp = req.display_data
        assert isinstance(disp, MediaDisplay)
        shown = [c for c in render.generated_contents(disp) if c.item and c.item.local_path]
        outs = render.render_contents(req, self.secret)
        keys = [f"delivered:{c.content_id}" for c in shown]
        taken = await self.sessions.claim(keys, session.run_id) if only_new else [True] * len(keys)
        return [Upload(out, item, key if only_new else None)
                for out, item, key, new in zip(outs, shown, keys, taken, strict=True) if new]

    async def upload(self, chat_id: int, uploads: list[Upload]) -> None:
        """Send claimed files; a file that could not be sent is released for a later showing."""
        try:
            for batch in _batches(uploads):
                if len(batch) > 1:  # photos of one job: one sendMediaGroup
                    await self.outbox.send_album(chat_id, [(u.shown.item.local_path, u.out.text) for u in batch])
                    continue
                out, media = batch[0].out, batch[0].shown.item
                assert media is not None
                kind = {"video": "video", "image": "photo", "audio": "audio"}.get(media.media_type, "document")
                action = {"video": ChatAction.UPLOAD_VIDEO, "photo": ChatAction.UPLOAD_PHOTO}.get(
                    kind, ChatAction.UPLOAD_DOCUMENT)
                async with self.outbox.acting(chat_id, action, UPLOADING_AFTER_S):
                    await self.outbox.send_file(chat_id, kind, media.local_path, caption=out.text,
                                                buttons=out.buttons, duration_s=media.duration_s,
                                                width=media.width, height=media.height)
        except TelegramError:
            for item in uploads:
                if item.claim:
                    await self.sessions.release(item.claim)
            raise

    # --------------------------------------------------------- error / end
    async def error(self, view: RunView, session: Session, again: bool) -> None:
        key = f"error:{view.updated_at}"
        if session.shown == key and not again:
            return
        buttons = [[self.button("🔁 Try again", "resume", "retry")]]
        for option in view.error_options:  # e.g. "Finish without music"
            buttons.append([self.button(render.shorten(option.get("label", "?"), 48), "resume", "retry",
                                        option.get("id", ""))])
        text = f"⚠️ {render.esc(view.error or 'This step stopped.')}"
        await self.outbox.send(session.chat_id, OutMessage(text=text, buttons=buttons))
        session.shown = key

    async def failed(self, view: RunView, session: Session) -> None:
        """A run that cannot go on (a broken step): why, once, and a way to start again."""
        session.closed = True
        if session.shown == f"failed:{view.run_id}":
            return
        text = f"⚠️ {render.esc(view.error or 'This run cannot go on.')}\nThis run has ended; you can start a new one."
        buttons = [[self.button("🎬 Start a new video", "new", view.run_id)]]
        await self.outbox.send(session.chat_id, OutMessage(text=text, buttons=buttons))
        session.shown = f"failed:{view.run_id}"

    async def finished(self, view: RunView, session: Session | None, chat_id: int | None = None,
                       again: bool = False) -> None:
        """The finished video with its title and description, ready to post (once)."""
        if session is not None:
            session.closed = True
        chat = chat_id if chat_id is not None else session.chat_id if session is not None else 0
        if not again and not (await self.sessions.claim([f"finished:{view.run_id}"], view.run_id))[0]:
            return
        result = view.result or RunResult()
        video = result.video
        cost = f"💰 This video cost {render.esc(view.spent)}." if view.spent_usd > 0 else ""
        caption = "\n\n".join(p for p in (f"<b>{render.esc(result.title)}</b>" if result.title else "",
                                           render.esc(result.text), cost) if p)
        short, rest = render.fit_caption(caption)
        buttons = [[self.button("🎬 Make another", "new", view.run_id)]]
        if summary_file(result):
            buttons.insert(0, [self.button("📄 Summary as a file", "hist", view.run_id, "summary")])
        if video and Path(video).is_file():  # the video, its words and the buttons: one message
            file_id = session.file_ids.get(video) if session is not None else None  # shown for the final check
            async with self.outbox.acting(chat, ChatAction.UPLOAD_VIDEO, UPLOADING_AFTER_S):
                await self.outbox.send_file(chat, "video", video, caption=f"{DONE}\n\n{short}" if short else DONE,
                                            buttons=[] if rest.strip() else buttons, file_id=file_id,
                                            duration_s=result.duration_s)
            if not rest.strip():
                return
        parts = render.split_text(rest) if rest.strip() else []
        for part in parts[:-1]:
            await self.outbox.send(chat, OutMessage(text=part))
        last = parts[-1] if parts else DONE
        await self.outbox.send(chat, OutMessage(text=last, buttons=buttons))


def summary_file(result: RunResult) -> str | None:
    """A text file the run wrote for the person (e.g. everything they picked), if it still exists."""
    for item in result.files:
        path = item.get("path")
        if item.get("format") != "video" and path and Path(path).is_file():
            return str(path)
    return None


@dataclass
class Upload:
    out: OutMessage
    shown: ShownContent
    claim: str | None  # the deliver-once key it holds, released if it cannot be sent


def _batches(uploads: list[Upload]) -> list[list[Upload]]:
    """Photos of one generation together (2 to 10 to an album); everything else alone."""
    out: list[list[Upload]] = []
    for upload in uploads:
        item = upload.shown.item
        first = out[-1][0].shown.item if out else None
        if (item is not None and first is not None and item.media_type == first.media_type == "image"
                and item.metadata_id == first.metadata_id and len(out[-1]) < ALBUM_LIMIT):
            out[-1].append(upload)
        else:
            out.append([upload])
    return out


def _file_id(message: object) -> str | None:
    for attr in ("video", "document", "audio"):
        media = getattr(message, attr, None)
        if media is not None:
            return str(media.file_id)
    photos = getattr(message, "photo", None)
    return str(photos[-1].file_id) if photos else None
