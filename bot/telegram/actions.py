"""What each button does: one coroutine per callback action, in one table.

Question actions (`ON_QUESTION`) get a tap already resolved to its session and
the open question; they answer the tap as soon as they know what to say,
before any slow work. Menu actions (`ON_MENU`) resolve what they need.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot import render
from bot.render import OutMessage
from bot.telegram.ccbot import CCBot
from bot.telegram.presenter import summary_file
from bot.telegram import talk
from bot.telegram.session import Session
from bot.telegram.tap import Tap
from engine.errors import InvalidResponse
from engine.presentation import item_title
from engine.protocol import InteractionResponse, MediaDisplay, SelectDisplay, SubActionRequest, TextInputDisplay
from engine.spending import dollars

Action = Callable[[CCBot, Tap], Awaitable[None]]


def _index(tap: Tap) -> int:
    return (tap.data.int_args() or [-1])[0]


def _response(tap: Tap, **fields: object) -> InteractionResponse:
    return InteractionResponse(interaction_id=tap.question.interaction_id, **fields)  # type: ignore[arg-type]


def _session(tap: Tap) -> Session:
    assert tap.session is not None
    return tap.session


def _select(tap: Tap) -> SelectDisplay:
    disp = tap.question.display_data
    if not isinstance(disp, SelectDisplay):
        raise InvalidResponse("This button does nothing here.")
    return disp


def _media(tap: Tap) -> MediaDisplay:
    disp = tap.question.display_data
    if not isinstance(disp, MediaDisplay):
        raise InvalidResponse("This button does nothing here.")
    return disp


def _recap(tap: Tap, numbers: list[int]) -> str:
    """"✓ Cat": the options picked, for the line that recalls them."""
    disp = _select(tap)
    items = render.selectable_items(disp.data, disp.display_schema)
    titles = [item_title(items[i][1], items[i][2], 60) for i in numbers if 0 <= i < len(items)]
    return f"✓ <b>{render.esc(', '.join(titles))}</b>" if titles else "✓"


# ----------------------------------------------------------------- selects
async def pick(bot: CCBot, tap: Tap) -> None:
    _select(tap)
    await tap.answer_choice()
    indices = render.selection_indices(tap.question, [_index(tap)])
    await bot.respond(_session(tap), _response(tap, selected_indices=indices), urgent=True, announced=tap.announced,
                      carry=tap.carry(_recap(tap, [_index(tap)])))


async def toggle(bot: CCBot, tap: Tap) -> None:
    disp, session = _select(tap), _session(tap)
    index = _index(tap)
    if not 0 <= index < len(render.selectable_items(disp.data, disp.display_schema)):
        raise InvalidResponse("That option does not exist.")
    chosen = set(session.chosen) ^ {index}
    if disp.max_selections is not None and len(chosen) > disp.max_selections:
        await tap.answer(f"You can pick at most {disp.max_selections}.", alert=True)
        return
    await tap.answer()
    session.chosen = sorted(chosen)
    await bot.show(tap.view, session, urgent=True)  # type: ignore[arg-type]


async def confirm(bot: CCBot, tap: Tap) -> None:
    disp, session = _select(tap), _session(tap)
    if disp.mode == "review":
        response = _response(tap, selected_indices=[])
    else:
        low, high = disp.min_selections, disp.max_selections
        if len(session.chosen) < low or (high is not None and len(session.chosen) > high):
            want = f"between {low} and {high}" if high is not None else f"at least {low}"
            await tap.answer(f"Please pick {want} (you have {len(session.chosen)}).", alert=True)
            return
        response = _response(tap, selected_indices=render.selection_indices(tap.question, session.chosen))
    await tap.answer_choice()
    await bot.respond(session, response, urgent=True, announced=tap.announced,
                      carry=tap.carry("✓" if disp.mode == "review" else _recap(tap, session.chosen)))


async def page(bot: CCBot, tap: Tap) -> None:
    _select(tap)
    await tap.answer()
    session = _session(tap)
    session.page = max(0, _index(tap))
    await bot.show(tap.view, session, urgent=True)  # type: ignore[arg-type]


async def info(bot: CCBot, tap: Tap) -> None:
    """The question's details, or its short list again, in place."""
    await tap.answer()
    session = _session(tap)
    session.details = tap.data.arg == "1"
    await bot.show(tap.view, session, urgent=True)  # type: ignore[arg-type]


# --------------------------------------------------------- retry and jump
async def option(bot: CCBot, tap: Tap) -> None:
    retryable = getattr(tap.question.display_data, "retryable", None)
    args = tap.data.args()
    index = int(args[0]) if args and args[0].isdigit() else -1
    if retryable is None or not 0 <= index < len(retryable.options):
        raise InvalidResponse("That option does not exist.")
    chosen, session = retryable.options[index], _session(tap)
    if chosen.mode == "continue":
        await tap.answer_choice()
        await bot.respond(session, _response(tap, selected_indices=[]), urgent=True, announced=tap.announced,
                          carry=tap.carry(f"✓ {render.esc(chosen.label)}"))
    elif chosen.mode == "jump":
        await tap.answer("Going back…")
        await bot.respond(session, _response(tap, jump_back_requested=True, jump_back_target=chosen.id), urgent=True)
    elif chosen.feedback and chosen.feedback.enabled and (len(args) < 2 or args[1] != "d"):
        await tap.answer()
        session.feedback_option = chosen.id
        default = chosen.feedback.default_message
        prompt = OutMessage(text=f"🔄 {render.esc(chosen.feedback.prompt)}\nReply with a few words.",
                            force_reply=True, placeholder=render.shorten(default, 60) or None)
        await bot.outbox.send(tap.chat_id, prompt, urgent=True)
        if default:
            just = bot.presenter.button(render.shorten(f"Just: {default}", 56), "opt",
                                        tap.question.interaction_id, f"{index}.d")
            await bot.outbox.send(tap.chat_id, OutMessage(text="…or use the default:", buttons=[[just]]))
        await bot.sessions.save(session)
    else:
        await tap.answer("Making a new version…")
        await bot.respond(session, _response(tap, retry_requested=True, retry_option_id=chosen.id), urgent=True)


async def cancel_prompt(bot: CCBot, tap: Tap) -> None:
    session = _session(tap)
    session.feedback_option = None
    await tap.answer("OK")
    await bot.sessions.save(session)


# ------------------------------------------------------------- text input
async def text_default(bot: CCBot, tap: Tap) -> None:
    disp = tap.question.display_data
    if not isinstance(disp, TextInputDisplay):
        raise InvalidResponse("This button does nothing here.")
    await tap.answer_choice()
    value = disp.default_value if tap.data.action == "text-default" else ""
    recap = f"✓ <b>{render.esc(render.shorten(value, 60))}</b>" if value else "✓ Skipped"
    await bot.respond(_session(tap), _response(tap, value=value), urgent=True, announced=tap.announced,
                      carry=tap.carry(recap))


# ------------------------------------------------------------------ media
async def param(bot: CCBot, tap: Tap) -> None:
    disp, session = _media(tap), _session(tap)
    args = tap.data.int_args() or []
    if len(args) < 2 or not 0 <= args[0] < len(disp.panels):
        raise InvalidResponse("That setting does not exist.")
    await tap.answer()
    panel = disp.panels[args[0]]
    value_index = args[2] if len(args) > 2 else None
    session.params[panel.prompt_key] = render.next_param_choice(panel, args[1], session.params.get(panel.prompt_key),
                                                                value_index)
    await bot.show(tap.view, session, urgent=True)  # type: ignore[arg-type]


async def settings(bot: CCBot, tap: Tap) -> None:
    """A provider's prompt and settings in place (⚙️), or the overview again (◀ Back)."""
    disp, session = _media(tap), _session(tap)
    index = _index(tap)
    await tap.answer()
    session.settings = disp.panels[index].prompt_key if 0 <= index < len(disp.panels) else None
    await bot.show(tap.view, session, urgent=True)  # type: ignore[arg-type]


async def generate(bot: CCBot, tap: Tap) -> None:
    disp, session = _media(tap), _session(tap)
    args = tap.data.args()
    index = int(args[0]) if args and args[0].isdigit() else -1
    if not 0 <= index < len(disp.panels):
        raise InvalidResponse("That provider does not exist.")
    panel = disp.panels[index]
    params = session.params.get(panel.prompt_key, {})
    if len(args) > 1 and args[1] != render.params_signature(render.panel_params(panel, params)):
        raise InvalidResponse("The settings changed: please tap Generate again.")
    # the message and the button make the idempotency key: a double tap is one job
    key = f"{tap.query.message.message_id}:{tap.data.arg}" if tap.query.message else tap.data.arg
    earlier = [j for j in disp.jobs if (j.request_key or "").split("~")[0] == key]
    if earlier and earlier[-1].status == "completed":  # a replayed tap: nothing new is made or paid
        await tap.answer("Already made: the results are above.")
        return
    retry = not earlier or earlier[-1].status in ("failed", "cancelled")
    if retry:
        noun = NOUNS.get(disp.sub_actions[0].action_type if disp.sub_actions else "", "This")
        await bot.engine.spending.check(session.owner, panel.price_usd, noun)  # refused before anything
        if panel.price_usd > bot.settings.ccbot_confirm_above_usd and args[3:4] != ["ok"]:
            await tap.answer()
            await ask_to_confirm(bot, tap, noun, panel.price_usd, panel.label)
            return
    await tap.answer(f"Starting {panel.label}…" if retry else f"{panel.label} is on it already.")
    changed = {k: v for k, v in params.items() if k in {f.name for f in panel.fields}}
    await bot.engine.start_sub_action(session.run_id, SubActionRequest(
        interaction_id=tap.question.interaction_id, prompt_key=panel.prompt_key, params=changed, request_key=key),
        session.owner)
    session.settings = None  # back to the overview, where the job's line shows how it goes
    await bot.show(await bot.engine.get_run(session.run_id), session)

NOUNS = {"img2vid": "This clip", "txt2img": "This set of pictures", "img2img": "This set of pictures",
         "txt2audio": "This track"}


async def ask_to_confirm(bot: CCBot, tap: Tap, noun: str, usd: float, label: str) -> None:
    """A large single action asks once; its "Go ahead" is the same Generate, confirmed."""
    go = bot.presenter.button("✅ Go ahead", "gen", tap.question.interaction_id, f"{tap.data.arg}.ok")
    no = bot.presenter.button("✖ Not now", "cancel", tap.question.interaction_id)
    await bot.outbox.send(tap.chat_id, OutMessage(
        text=f"💸 {noun} costs about {dollars(usd)} ({render.esc(label)}). Go ahead?", buttons=[[go, no]]),
        urgent=True)


async def choose(bot: CCBot, tap: Tap) -> None:
    match = next((c for c in render.generated_contents(_media(tap)) if c.key == tap.data.arg), None)
    if match is None:
        raise InvalidResponse("That result is not available.")
    await tap.answer_choice(f"Picked #{match.number}")
    await bot.respond(_session(tap), _response(tap, selected_content_id=match.content_id), urgent=True,
                      announced=tap.announced)


# ------------------------------------------------------------------- menu
async def new(bot: CCBot, tap: Tap) -> None:
    force = not tap.data.matches("menu")  # "Start over" / "Make another" name a run
    if force:
        active = await bot.engine.active_run(tap.owner)
        if active is not None and not tap.data.matches(active.run_id):  # never stop a run it did not name
            await tap.answer("This choice is no longer open.")
            return
    await tap.answer()
    await bot.start_new(tap.user_id, tap.chat_id, force=force)


async def resume(bot: CCBot, tap: Tap) -> None:
    session = await bot.sessions.of_owner(tap.owner)
    view = await bot.engine.get_run(session.run_id) if session is not None else None
    if view is None or session is None or view.status.value != "active":
        await tap.answer("No video in progress: /new starts one.")
        return
    await tap.answer()
    if tap.data.matches("retry") and view.pending is None:
        view = await bot.engine.retry_failed(view.run_id, tap.owner, tap.data.arg or None)
    await bot.show(view, session, again=True, files_again=True, urgent=True)


async def history(bot: CCBot, tap: Tap) -> None:
    for view in await bot.engine.list_runs(tap.owner, "completed", limit=50):
        if not tap.data.matches(view.run_id):
            continue
        summary = summary_file(view.result) if view.result else None
        if tap.data.arg == "summary" and summary:
            await tap.answer()
            await bot.outbox.send_file(tap.chat_id, "document", summary,
                                       caption="Everything you picked, ready to copy.")
            return
        await tap.answer("Sending it again…")
        await bot.presenter.finished(view, None, chat_id=tap.chat_id, again=True)
        return
    await tap.answer("That video is no longer available.")


ON_QUESTION: dict[str, Action] = {
    "pick": pick, "toggle": toggle, "confirm": confirm, "page": page, "opt": option, "cancel": cancel_prompt,
    "text-default": text_default, "skip": text_default, "param": param, "gen": generate, "choose": choose,
    "info": info, "settings": settings, "yes": talk.yes, "no": talk.no,
}
async def forget(bot: CCBot, tap: Tap) -> None:
    """The answer to /forget's question."""
    if tap.data.arg != "yes":
        await tap.answer("Nothing was deleted.")
        return
    await tap.answer("Deleting…")
    deleted = await bot.engine.forget(tap.owner)
    bot.sessions.forget_owner(tap.owner)
    await bot.outbox.send(tap.chat_id, OutMessage(
        text=f"🗑 Deleted {deleted.describe()}. What was spent stays in the operator's accounting, without "
             "any content. /new starts afresh.", parse_mode=None), urgent=True)


ON_MENU: dict[str, Action] = {"new": new, "resume": resume, "hist": history, "forget": forget}
