"""Free text at a pending question: what a person means, before anything happens.

- `offers`: what a question offers, from the protocol only;
- `words`: the light normaliser (stems, numbers, the small vocabularies);
- `matcher`: deterministic matching, with an honest "not sure";
- `llm`: the same question put to a small model, its answer checked against the offers;
- `plan`: a match made into an `Understanding` (the response, in words).

`interpret` is the one entry: exact matches (a number, a whole label, "done",
"no") never need a model; anything else goes to the model when one is given,
and to the matcher's best guess when it is not (or when the call fails).
"""

from __future__ import annotations

import logging

from engine.protocol import InteractionRequest, Understanding
from engine.providers.base import LLMProvider, LLMResult, ProviderError
from engine.understanding.llm import read_answer, understand_request
from engine.understanding.matcher import Match, match
from engine.understanding.offers import Offer, Offers, offers_of
from engine.understanding.plan import plan, refuse
from engine.understanding.words import is_no, is_yes, reads_like_idea

log = logging.getLogger(__name__)

TEXT_LIMIT = 2000  # characters of free text read at a question

__all__ = ["TEXT_LIMIT", "Match", "Offer", "Offers", "interpret", "is_no", "is_yes", "match", "offers_of",
           "reads_like_idea"]


async def interpret(req: InteractionRequest, text: str, *, chosen: list[int] | None = None,
                    llm: LLMProvider | None = None, reasoning_effort: str | None = None,
                    ) -> tuple[Understanding, LLMResult | None]:
    """What `text` means at `req` (and the model call it took, if any).
    `chosen`: a multi-select's ticks so far (0-based), for "done"."""
    text = (text or "").strip()
    offers = offers_of(req)
    if offers.shape == "text":  # the words are the answer
        return plan(offers, Match("answer", exact=True), text, chosen, "direct"), None
    if len(text) > TEXT_LIMIT:
        reason = f"That is {len(text)} characters; please keep it under {TEXT_LIMIT}."
        return refuse(offers, text[:200], reason, "matcher"), None
    found = match(offers, text)
    if llm is None or found.exact:
        return plan(offers, found, text, chosen, "matcher"), None
    try:
        result = await llm.complete(understand_request(offers, text, reasoning_effort))
    except ProviderError as exc:  # the model is away: the matcher's guess (always confirmed)
        log.warning("understanding by model failed, using the matcher: %s", exc)
        return plan(offers, found, text, chosen, "matcher"), None
    return plan(offers, read_answer(offers, result.text, text), text, chosen, "llm"), result
