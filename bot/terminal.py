"""The terminal front end behind `ccbot demo`: the same protocol as the bot.

Numbered choices, free text, the media step (generate, see file paths, pick
one), retry with feedback and jumps. Anything else typed at a prompt ("the
cozy one", "make it sillier", "back to the pictures") goes through the same
`Engine.understand` as the bot, with a y/n before anything that costs.
`--auto` plays first choices unattended; `--resume` continues the last
unfinished terminal run. A file question (a photo
of your own pet) takes a path typed at the prompt, or `--photo PATH` (with an
optional `--caption`) for `--auto`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.presentation import Row, item_rows, item_title, selectable_items, selection_indices
from engine.protocol import (
    EngineEvent,
    FileAnswer,
    FileInputDisplay,
    InteractionRequest,
    InteractionResponse,
    MediaDisplay,
    RetryOption,
    SelectDisplay,
    SubActionRequest,
    TextInputDisplay,
)
from engine.api import Engine
from engine.errors import EngineError, InvalidResponse
from engine.selection import wire_paths

OWNER = "terminal"
TITLE_LIMIT = 80
FIELD_LIMIT = 160


def looks_like_path(text: str) -> bool:
    """A typed path (even a wrong one, which the engine refuses clearly), not words."""
    return "/" in text or "\\" in text or text.startswith("~") or bool(Path(text).suffix) or Path(text).is_file()


def row_text(row: Row) -> str:
    """A row as a terminal line: summaries and plain values as they are, fields as `Label: value`."""
    return row.text if row.role in ("title", "subtitle", "text") else f"{row.label}: {row.text}"


class TerminalDemo:
    def __init__(self, engine: Engine, auto: bool, ask: Callable[[str], str] = input,
                 say: Callable[[str], None] = print, photo: str | None = None, caption: str = "") -> None:
        self.engine = engine
        self.auto = auto
        self.photo, self.caption = photo, caption  # the file for a file question in --auto
        self.ask_fn = ask
        self.say = say
        engine.subscribe(self._on_event)

    async def _on_event(self, event: EngineEvent) -> None:
        if event.type == "job_progress" and event.data.get("progress") is not None:
            self.say(f"   … {event.data.get('provider')}: {event.data['progress']:.0f}%")
        elif event.type == "job_failed":
            self.say(f"   ✗ {event.data.get('provider')}: {event.data.get('error')}")
        elif event.type == "module_error":
            self.say(f"   ✗ {event.data.get('message')}")
        elif event.type == "module_queued":
            self.say(f"   … waiting for a free renderer: #{event.data.get('position')} in line")
        elif event.type == "module_progress" and float(event.data.get("progress") or 0) in (0.0, 100.0):
            self.say(f"   … {event.data.get('message')}: {float(event.data.get('progress') or 0):.0f}%")

    def ask(self, prompt: str) -> str:
        try:
            return self.ask_fn(prompt).strip()
        except EOFError:
            raise KeyboardInterrupt from None

    async def play(self, resume: bool) -> str:
        statuses = self.engine.services.providers.statuses
        live = sorted({f"{s.name} {s.capability}" for s in statuses if s.mode == "live"})
        self.say("Providers: " + (", ".join(live) + " live; the rest offline" if live
                                  else "all offline (no API keys set): real files, made locally"))
        view = await self.engine.active_run(OWNER) if resume else None
        if view is None:
            if resume:
                self.say("No unfinished run to resume: starting a new one.")
            view = await self.engine.start_run(OWNER)
            self.say(f"Started run {view.run_id}")
        else:
            self.say(f"Resuming run {view.run_id} at {view.current_step_name}")
        await self.engine.resume_all()
        run_id = view.run_id
        while True:
            view = await self.engine.get_run(run_id)
            if view.working:  # e.g. the final render: it reports its own progress
                await self.engine.wait_idle(run_id, timeout=900)
                continue
            if view.status != "active":
                break
            if view.pending is None:
                self.say(f"\n⚠ {view.error or 'The step stopped.'}")
                if not self.auto and self.ask("Try again? [Y/n] ").lower().startswith("n"):
                    break
                await self.engine.retry_failed(run_id)
                continue
            try:
                await self.handle(view.pending)
            except (InvalidResponse, EngineError) as exc:
                self.say(f"   ✗ {exc}")
                if self.auto:
                    raise
        return run_id

    async def handle(self, req: InteractionRequest) -> None:
        self.say(f"\n━━ {req.step_name} · {req.title}")
        display = req.display_data
        if isinstance(display, SelectDisplay):
            await self.handle_select(req, display)
        elif isinstance(display, TextInputDisplay):
            await self.handle_text(req, display)
        elif isinstance(display, MediaDisplay):
            await self.handle_media(req, display)
        elif isinstance(display, FileInputDisplay):
            await self.handle_file(req, display)

    # ------------------------------------------------------------ answers
    async def respond(self, req: InteractionRequest, **fields: Any) -> None:
        await self.engine.respond(req.run_id, InteractionResponse(interaction_id=req.interaction_id, **fields))

    def option_menu(self, options: list[RetryOption]) -> dict[str, RetryOption]:
        menu = {}
        for option in options:
            if option.mode == "continue":
                continue
            key = "r" if option.mode == "retry" else f"b{len([k for k in menu if k.startswith('b')]) + 1}"
            menu[key] = option
            self.say(f"  [{key}] {option.label}")
        return menu

    async def take_option(self, req: InteractionRequest, option: RetryOption) -> None:
        if option.mode == "retry":
            feedback = ""
            if option.feedback and option.feedback.enabled and not self.auto:
                default = option.feedback.default_message
                feedback = self.ask(f"{option.feedback.prompt} [{default}] ")
            await self.respond(req, retry_requested=True, retry_feedback=feedback, retry_option_id=option.id)
        else:
            await self.respond(req, jump_back_requested=True, jump_back_target=option.id)

    async def talk(self, req: InteractionRequest, text: str) -> bool:
        """Free text, understood by the engine and confirmed (y/n) where it asks
        to be. True when something was done."""
        u = await self.engine.understand(req.run_id, text, OWNER)
        response = u.response
        if u.kind == "tick" and u.ticks:  # no tick state here: the ticks are the answer
            response = InteractionResponse(interaction_id=req.interaction_id,
                                           selected_indices=selection_indices(req, u.ticks))
        if u.kind in ("unclear", "cancel") or (response is None and u.sub_action is None):
            self.say(f"  ? {u.reason or 'Nothing changed.'}")
            for line in u.options[:8]:
                self.say(f"      {line}")
            return False
        price = f" ({u.price})" if u.costs_money else ""
        if u.confirm or u.kind == "tick":
            if not self.ask(f"  → {u.summary}{price}? [y/N] ").lower().startswith("y"):
                self.say("  Nothing changed.")
                return False
        else:
            self.say(f"  → {u.summary}")
        if u.sub_action is not None:
            await self.engine.start_sub_action(req.run_id, u.sub_action)
            await self.engine.wait_idle(req.run_id, timeout=900)
        else:
            await self.engine.respond(req.run_id, response)  # type: ignore[arg-type]
        return True

    async def handle_select(self, req: InteractionRequest, display: SelectDisplay) -> None:
        items = selectable_items(display.data, display.display_schema)
        for number, (_, item, schema) in enumerate(items, start=1):
            self.say(f" {number}. {item_title(item, schema, TITLE_LIMIT)}")
            for row in item_rows(item, schema, FIELD_LIMIT):
                self.say(f"      {row_text(row)}")
        menu = self.option_menu(display.retryable.options if display.retryable else [])
        if display.mode == "review":
            answer = "" if self.auto else self.ask("Enter to continue, or an option: ")
            if answer in menu:
                await self.take_option(req, menu[answer])
            elif not answer:
                await self.respond(req, selected_indices=[])
            else:
                await self.talk(req, answer)
            return
        if display.multi_select:
            low, high = display.min_selections, display.max_selections or len(items)
            hint = f"Pick {low}-{high}, e.g. 1,3 (or say what you want)"
        else:
            low = high = 1
            hint = "Pick one (a number, or say what you want)"
        while True:
            answer = ",".join(str(i) for i in range(1, min(high, max(low, 3), len(items)) + 1)) if self.auto \
                else self.ask(f"{hint}: ")
            if answer in menu:
                await self.take_option(req, menu[answer])
                return
            if answer and not re.fullmatch(r"[\d,\s]+", answer):
                if await self.talk(req, answer):
                    return
                continue
            try:
                numbers = [int(p) for p in re.split(r"[,\s]+", answer) if p]
                paths = [items[n - 1][0] for n in numbers if 1 <= n <= len(items)]
                if len(paths) != len(numbers) or not low <= len(paths) <= high:
                    raise ValueError
                await self.respond(req, selected_indices=wire_paths(paths, display.multi_select))
                if self.auto:
                    self.say(f"  → {answer}")
                return
            except (ValueError, InvalidResponse):
                if self.auto:
                    raise
                self.say("  Please answer with option numbers.")

    async def handle_text(self, req: InteractionRequest, display: TextInputDisplay) -> None:
        if self.auto:
            self.say("  → (skipped)")
            await self.respond(req, value=display.default_value)
            return
        suffix = " (Enter to skip)" if display.allow_empty else ""
        await self.respond(req, value=self.ask(f"{display.prompt}{suffix}\n> ")[: display.max_length])

    async def handle_file(self, req: InteractionRequest, display: FileInputDisplay) -> None:
        """A path to a file on this machine (the engine checks it and keeps its own copy)."""
        self.say(f"  {display.prompt}")
        while True:
            if self.auto:
                path, caption = self.photo or "", self.caption
                self.say(f"  → {path or '(skipped)'}")
            else:
                hint = f" (Enter: {display.skip_label})" if display.allow_skip else ""
                path = self.ask(f"Path to the file{hint}\n> ").strip().strip("'\"")
                if path and not looks_like_path(path):  # words ("no photo"), understood as at any prompt
                    if await self.talk(req, path):
                        return
                    continue
                caption = self.ask("A caption (e.g. your pet's name), or Enter\n> ") if path else ""
            answer = FileAnswer(path=str(Path(path).expanduser()), caption=caption or None) if path else None
            try:
                await self.respond(req, file=answer)
                return
            except InvalidResponse as exc:
                self.say(f"   ✗ {exc}")
                if self.auto:
                    raise

    async def handle_media(self, req: InteractionRequest, display: MediaDisplay) -> None:
        usable = [p for p in display.panels if p.availability != "unavailable"]
        for number, panel in enumerate(display.panels, start=1):
            prompt = ""
            if isinstance(panel.prompt_data, dict):
                prompt = str(next((v for k, v in panel.prompt_data.items() if "prompt" in k and v), ""))
            state = f"{panel.availability}, {panel.price}" if panel.availability != "unavailable" \
                else f"unavailable: {panel.note}"
            self.say(f" [g{number}] {panel.label} ({state})")
            if prompt:
                self.say(f"      {prompt[:200]}")
        contents = [c for batches in display.generations.values() for g in batches for c in g.contents]
        for number, content in enumerate(contents, start=1):
            self.say(f" [{number}] {content.media_type} from {content.prompt_key}: {content.local_path}")
        menu = self.option_menu(display.retryable.options if display.retryable else [])
        if self.auto:
            if contents:
                self.say(f"  → pick 1: {contents[0].local_path}")
                await self.respond(req, selected_content_id=contents[0].content_id)
            elif usable:
                await self.generate(req, display.panels.index(usable[0]) + 1, usable[0].prompt_key)
            else:
                raise EngineError("no provider is available for this step")
            return
        answer = self.ask("Generate with g<n>, pick a result by number, or an option: ")
        if answer in menu:
            await self.take_option(req, menu[answer])
        elif answer.startswith("g") and answer[1:].isdigit() and 1 <= int(answer[1:]) <= len(display.panels):
            panel = display.panels[int(answer[1:]) - 1]
            await self.generate(req, int(answer[1:]), panel.prompt_key)
        elif answer.isdigit() and 1 <= int(answer) <= len(contents):
            await self.respond(req, selected_content_id=contents[int(answer) - 1].content_id)
        elif answer:
            await self.talk(req, answer)
        else:
            self.say("  Please answer g1, g2…, a result number, or say what you want.")

    async def generate(self, req: InteractionRequest, number: int, prompt_key: str) -> None:
        self.say(f"  → generating with [g{number}] …")
        await self.engine.start_sub_action(
            req.run_id, SubActionRequest(interaction_id=req.interaction_id, prompt_key=prompt_key)
        )
        await self.engine.wait_idle(req.run_id, timeout=900)


async def run_demo(engine: Engine, *, auto: bool, resume: bool, photo: str | None = None, caption: str = "") -> int:
    demo = TerminalDemo(engine, auto, photo=photo, caption=caption)
    try:
        run_id = await demo.play(resume)
    except KeyboardInterrupt:
        print("\nStopped. Run `ccbot demo --resume` to continue where you left off.")
        return 130
    view = await engine.get_run(run_id)
    print(f"\nRun {run_id}: {view.status.value}")
    result = view.result
    if result is not None:
        if result.summary:
            print("\n" + result.summary)
        if result.files:
            print("Files:")
            for item in result.files:
                print(f"  {item.get('kind') or item.get('format')}: {item.get('path')}")
        if result.video:
            print(f"Finished video: {result.video}")
    return 0 if view.status.value == "completed" else 1


def stdin_is_tty() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()
