"""A match made into an `Understanding`: the response it would send, and the
sentence that says so ("Pick #2 ‘Cozy window nap’"). What it costs is the
engine's to add (it knows what follows the question)."""

from __future__ import annotations

from engine.presentation import selection_indices, shorten
from engine.protocol import InteractionResponse, SubActionRequest, Understanding
from engine.understanding.matcher import Match
from engine.understanding.offers import Offer, Offers

QUOTE_LIMIT = 80


def quoted(text: str, limit: int = QUOTE_LIMIT) -> str:
    return f"‘{shorten(text, limit)}’"


def _named(offers: Offers, offer: Offer) -> str:
    number = f"#{offer.number}" if offers.badge else f"{offer.number}"
    return f"{number} {quoted(offer.label, 60)}"


def _listed(offers: Offers, picked: list[Offer]) -> str:
    names = [_named(offers, o) for o in picked]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _bounds(offers: Offers, count: int) -> str | None:
    """Why `count` ticks are not allowed here, or None."""
    low, high = offers.min_selections, offers.max_selections
    if high is not None and count > high:
        return f"You can pick at most {high} here."
    if count < low:
        return f"Please pick at least {low} first." if count else "Nothing is ticked yet: name the options first."
    return None


def plan(offers: Offers, m: Match, text: str, chosen: list[int] | None, via: str) -> Understanding:
    """What `m` would do at the question, unpriced (`costs_money` False)."""
    req = offers.request
    iid = req.interaction_id
    base = {"interaction_id": iid, "text": text, "via": via}
    exact_and_free = m.exact and via != "llm"

    def response(**fields: object) -> InteractionResponse:
        return InteractionResponse(interaction_id=iid, **fields)  # type: ignore[arg-type]

    if m.kind == "answer":
        return Understanding(**base, kind="answer", response=response(value=text), confirm=False,
                             summary=f"Answer: {quoted(text)}")
    if m.kind == "cancel":
        return Understanding(**base, kind="cancel", confirm=False, summary="Nothing changed.")
    if m.kind == "choose":
        picked = m.offers[0]
        return Understanding(**base, kind="choose", confirm=not exact_and_free,
                             response=response(selected_indices=selection_indices(req, [picked.number - 1])),
                             summary=f"Pick {_named(offers, picked)}")
    if m.kind in ("tick", "confirm") and offers.shape == "multi":
        numbers = [o.number - 1 for o in m.offers] if m.offers else list(chosen or [])
        high = offers.max_selections
        refused = _bounds(offers, len(numbers)) if m.kind == "confirm" else \
            f"You can pick at most {high} here." if high is not None and len(numbers) > high else None
        if refused:
            return refuse(offers, text, refused, via)
        picked = [o for o in offers.of("option") if o.number - 1 in numbers]
        if m.kind == "tick":
            return Understanding(**base, kind="tick", ticks=sorted(numbers), confirm=False,
                                 summary=f"Tick {_listed(offers, picked)}")
        return Understanding(**base, kind="confirm", confirm=not exact_and_free,
                             response=response(selected_indices=selection_indices(req, numbers)),
                             summary=f"Done with {_listed(offers, picked)}")
    if m.kind == "confirm":  # a review's "continue"
        label = m.offers[0].label if m.offers else "Continue"
        return Understanding(**base, kind="confirm", confirm=not exact_and_free,
                             response=response(selected_indices=[]),
                             summary=f"✔️ {label}")
    if m.kind == "jump":
        target = m.offers[0]
        return Understanding(**base, kind="jump", summary=f"↩️ {target.label}",
                             response=response(jump_back_requested=True, jump_back_target=target.option_id))
    if m.kind == "feedback":
        retry = m.offers[0]
        words = m.feedback.strip()
        summary = f"🔄 {retry.label} with: {quoted(words)}" if words else f"🔄 {retry.label}"
        return Understanding(**base, kind="feedback", summary=summary, response=response(
            retry_requested=True, retry_feedback=words or None, retry_option_id=retry.option_id))
    if m.kind == "generate":
        panel = m.offers[0]
        price = panel.price if panel.price not in ("", "free") else "free"
        return Understanding(**base, kind="generate", summary=f"▶ {panel.label}", price=price,
                             costs_money=price != "free",
                             sub_action=SubActionRequest(interaction_id=iid, prompt_key=panel.prompt_key or ""))
    if m.kind == "pick":
        shown = m.offers[0]
        return Understanding(**base, kind="pick", confirm=not exact_and_free, summary=f"✅ Pick #{shown.number}",
                             response=response(selected_content_id=shown.content_id))
    return refuse(offers, text, m.reason or "I'm not sure what you mean.", via, m.candidates)


def refuse(offers: Offers, text: str, reason: str, via: str, candidates: list[Offer] | None = None) -> Understanding:
    """Not understood: why, and what the step offers (the likely ones first)."""
    shown = list(candidates or [])
    shown += [o for o in offers.items if o not in shown and o.kind != "answer"]
    return Understanding(interaction_id=offers.request.interaction_id, text=text, kind="unclear",
                         via=via,  # type: ignore[arg-type]
                         reason=reason, confirm=False, options=[o.line() for o in shown])
