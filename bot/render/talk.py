"""The screens of a conversation in words: what typed (or spoken) words were
understood as, the [Yes] [No] that asks before anything happens, the "not
sure" with what the step offers, and the plain answers around them."""

from __future__ import annotations

from bot import callbacks
from bot.render.html import esc
from bot.render.messages import Button, OutMessage, button_label
from engine.presentation import shorten
from engine.protocol import Understanding

OPTIONS_SHOWN = 8
QUOTE_LIMIT = 300
EXAMPLES = "a number (“2”), an option’s name, what to change (“make it sillier”) or where to go back to"
NO_RUN = ("No video in progress. /new starts one, or just tell me the video you’d like, "
          "e.g. “a corgi chasing bubbles in the garden”.")
IDEA_START = "🎬 Let’s make it! Your idea goes in as the personal note when we get there: “{idea}”"
NOTE_USED = "✏️ Your idea goes in as the personal note: “{idea}”"
VOICE_OFFLINE = "🎙 I can only listen to voice notes when an OpenAI key is set. Please type your message instead."
VOICE_TOO_LONG = "🎙 That recording is {length}; please keep voice notes under 2 minutes, or type your message."
VOICE_TOO_BIG = "🎙 That file is {size} MB; I can take up to 20 MB. Please send a shorter one, or type your message."
VOICE_FAILED = "🎙 Sorry, I could not make out that recording ({why}). Please try again, or type your message."
VOICE_EMPTY = "🎙 I could not hear any words in that. Please try again, or type your message."


def _plain(text: str, buttons: list[list[Button]] | None = None) -> OutMessage:
    return OutMessage(text=text, buttons=buttons or [], parse_mode=None)


def render_proposal(u: Understanding, key: str, secret: str | bytes) -> OutMessage:
    """"🔄 New scene ideas with: ‘make it sillier’?" with [✅ Yes (price)] [✖️ No]."""
    assert u.interaction_id is not None
    amount = u.price if u.costs_money and any(ch.isdigit() for ch in u.price) else ""  # "~$0.04", "~200 credits"
    yes = Button(button_label(f"✅ Yes ({amount})" if amount else "✅ Yes", 40),
                 callbacks.encode("yes", u.interaction_id, key, secret))
    no = Button("✖️ No", callbacks.encode("no", u.interaction_id, key, secret))
    lines = [f"{u.summary}?"]
    if u.costs_money:
        lines.append(f"This costs {amount}." if amount else f"This makes {u.price or 'a paid call'}.")
    lines.append("Nothing happens until you tap Yes.")
    return _plain("\n".join(lines), [[yes, no]])


def render_decided(u: Understanding, accepted: bool) -> OutMessage:
    """The proposal once answered (its buttons gone)."""
    return _plain(f"✔️ {u.summary}" if accepted else f"✖️ Not done: {u.summary}. Nothing changed.")


def render_applied(u: Understanding) -> OutMessage:
    """Said as it is done at once (free and certain)."""
    if u.kind == "tick":
        return _plain(f"☑️ {u.summary}. Say “done” (or tap Done) when you are ready.")
    return _plain(f"👍 {u.summary}")


def render_unclear(u: Understanding, again: Button | None = None) -> OutMessage:
    """"Not sure" with why, what the step offers, and a button to see the question again."""
    lines = [f"🤔 {u.reason or 'I’m not sure what you mean.'}"]
    if u.options:
        lines.append("")
        lines += [f"• {shorten(line, 90)}" for line in u.options[:OPTIONS_SHOWN]]
        if len(u.options) > OPTIONS_SHOWN:
            lines.append(f"• … and {len(u.options) - OPTIONS_SHOWN} more")
    lines += ["", f"You can say {EXAMPLES}, or tap a button."]
    return _plain("\n".join(lines), [[again]] if again else None)


def render_nothing_changed() -> OutMessage:
    return _plain("OK, nothing changed.")


def render_heard(text: str) -> OutMessage:
    return OutMessage(text=f"🎙 I heard: “<i>{esc(shorten(text, QUOTE_LIMIT))}</i>”")


def render_working(line: str, what: str) -> OutMessage:
    """A message that came while something is being made."""
    return _plain(f"{line}\n{what}")


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    return shorten(text, limit)
