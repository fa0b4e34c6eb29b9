"""Deterministic matching of free text against what a question offers.

Numbers ("2", "#3", "the second one", "1 and 3"), labels and the words of
the options' visible fields ("the cozy one", "cat"), "done", going back
("back to the images", "change the music"), a generation ("make it with
Leonardo"), "no"; anything else with words in it is feedback for the
step's retry option. When two options fit as well, or the text has no words,
or reads as another language, the answer is an honest "not sure".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from engine.understanding.offers import Offer, Offers
from engine.understanding.words import (
    BACK,
    DONE,
    DONE_HELPERS,
    FILLER,
    GENERATE_STRONG,
    GENERATE_WEAK,
    MEDIA,
    NUMBER_WORDS,
    ORDINALS,
    chat,
    content,
    foreign,
    has_words,
    is_done,
    is_no,
    raw_words,
)

MatchKind = Literal["choose", "tick", "confirm", "jump", "feedback", "generate", "pick", "answer", "cancel",
                    "unclear"]
LIST_WORDS = frozenset({"and", "both", "also", "plus", "then", "too"})
ONE_AFTER = frozenset({"number", "option", "no", "pick", "choose", "take", "#"})
RETRY_WORDS = frozenset({"retry", "regenerate", "redo", "again", "refresh"})
SKIP_WORDS = frozenset({"skip", "without", "none", "no", "dont", "don't", "next"})


@dataclass
class Match:
    kind: MatchKind
    offers: list[Offer] = field(default_factory=list)  # what it names: options, the retry, the jump, the panel
    feedback: str = ""  # feedback: the person's words ("" for a bare retry)
    exact: bool = False  # a number or a whole label: nothing was guessed
    reason: str = ""  # unclear: why, for a person
    candidates: list[Offer] = field(default_factory=list)  # unclear: what it could have been


def unclear(reason: str, candidates: list[Offer] | None = None, certain: bool = False) -> Match:
    """Not understood. `certain`: no model would do better (a number out of range, no words)."""
    return Match("unclear", reason=reason, candidates=candidates or [], exact=certain)


# ------------------------------------------------------------------ numbers
def numbers_in(text: str, count: int, extra: frozenset[str] = frozenset()) -> list[int] | None:
    """The option numbers a text names when it names nothing else ("2", "#3",
    "the second one", "1 and 3", "the last one"); None when it says more."""
    words = raw_words(text)
    found: list[int] = []
    for i, word in enumerate(words):
        if word.isdigit() and len(word) <= 3:
            found.append(int(word))
        elif word in ORDINALS:
            found.append(ORDINALS[word])
        elif word in NUMBER_WORDS:
            found.append(NUMBER_WORDS[word])
        elif word == "one" and (len(words) == 1 or (i and words[i - 1] in ONE_AFTER)):
            found.append(1)
        elif word == "last" and count:
            found.append(count)
        elif word == "middle" and count % 2:
            found.append((count + 1) // 2)
        elif word not in FILLER and word not in LIST_WORDS and word not in extra:
            return None
    return found or None


def _check_numbers(offers: Offers, numbers: list[int], kind: str) -> Match | None:
    """A range/size refusal for numbers, or None when they are fine."""
    wanted = offers.of(kind)
    bad = [n for n in numbers if not any(o.number == n for o in wanted)]
    if bad:
        what = "result" if kind == "pick" else "option"
        return unclear(f"There is no {what} {bad[0]} here.", wanted, certain=True)
    if len(set(numbers)) != len(numbers):
        return unclear("That names the same option twice.", wanted, certain=True)
    return None


# ------------------------------------------------------------------ labels
def _label_rank(text_words: set[str], offer: Offer) -> int:
    """3: the whole label; 2: part of the label; 1: words of its fields; 0: no."""
    label = set(offer.label_words)
    if not text_words:
        return 0
    if text_words == label:
        return 3
    if text_words <= label:
        return 2
    if text_words <= offer.words:
        return 1
    return 0


def best_label(offers: list[Offer], text: str, extra: frozenset[str] = frozenset()) -> Match | None:
    """The one offer whose label (or fields) the text names; ambiguity is unclear."""
    words = set(content(text, extra))
    ranked = [(_label_rank(words, o), o) for o in offers]
    top = max((r for r, _ in ranked), default=0)
    if top == 0:
        return None
    best = [o for r, o in ranked if r == top]
    if len(best) > 1:
        return unclear("That fits more than one option.", best)
    return Match("choose", [best[0]], exact=top == 3)


def _ticks(offers: Offers, text: str) -> Match | None:
    """Several options named by their labels: "the steam and the candle"."""
    parts = [p for p in re.split(r",|;|&|\+|\band\b|\bplus\b|\balso\b", text.lower()) if content(p, DONE)]
    if len(parts) < 2:
        return None
    chosen: list[Offer] = []
    for part in parts:
        found = best_label(offers.of("option"), part, DONE)
        if found is None or found.kind != "choose" or found.offers[0] in chosen:
            return None
        chosen.append(found.offers[0])
    return Match("tick", chosen)


# ---------------------------------------------------------- jumps, retries
def _jump(offers: Offers, text: str) -> Match | None:
    jumps = offers.of("jump")
    if not jumps:
        return None
    exact = [o for o in jumps if o.label_words and tuple(content(text)) == o.label_words]
    if len(exact) == 1:
        return Match("jump", exact, exact=True)
    if not set(raw_words(text)) & BACK:
        return None
    words = set(content(text, BACK | {"go", "to"}))
    scores = [(len(words & o.words), o) for o in jumps]
    top = max(s for s, _ in scores)
    if top == 0 and words:
        return None
    if top == 0:
        return Match("jump", jumps) if len(jumps) == 1 else unclear("Where should I go back to?", jumps)
    best = [o for s, o in scores if s == top]
    return Match("jump", best) if len(best) == 1 else unclear("Where should I go back to?", best)


def _retry(offers: Offers, text: str) -> Match | None:
    retries = offers.of("retry")
    if not retries:
        return None
    words = tuple(content(text))
    for offer in retries:
        if words and (words == offer.label_words or set(words) <= RETRY_WORDS):
            return Match("feedback", [offer], feedback="", exact=words == offer.label_words)
    takes_words = [o for o in retries if o.feedback] or retries
    scores = [(len(set(words) & o.words), o) for o in takes_words]
    top = max(s for s, _ in scores)
    best = [o for s, o in scores if s == top]
    return Match("feedback", [best[0]], feedback=text.strip())


# ------------------------------------------------------------------ media
def _generate(offers: Offers, text: str) -> Match | None:
    gens = offers.of("generate")
    raw = set(raw_words(text))
    strong, weak = raw & GENERATE_STRONG, raw & GENERATE_WEAK
    if not gens or not (strong or weak):
        return None
    words = set(content(text, GENERATE_STRONG | GENERATE_WEAK | MEDIA))
    named = [g for g in gens if words & g.words]
    rest = words - set().union(*(g.words for g in named)) if named else words
    if rest or not (strong or named):
        return None
    if len(named) == 1 or (not named and len(gens) == 1):
        return Match("generate", named or gens)
    return unclear("Which provider should make it?", named or gens)


def _media(offers: Offers, text: str) -> Match | None:
    picks = offers.of("pick")
    numbers = numbers_in(text, len(picks), frozenset({"pick", "result", "image", "video", "music"}))
    if numbers is not None:
        if not picks:
            return unclear("Nothing has been made yet: generate first.", offers.of("generate"), certain=True)
        if len(numbers) != 1:
            return unclear("Please pick one result.", picks, certain=True)
        return _check_numbers(offers, numbers, "pick") or Match("pick", [offers.pick(numbers[0])], exact=True)
    if is_done(text):
        if len(picks) == 1:
            return Match("pick", picks)
        if picks:
            return unclear("Which result do you mean?", picks)
        return unclear("Nothing has been made yet: generate first.", offers.of("generate") or offers.items)
    return _generate(offers, text)


# ----------------------------------------------------------------- files
def _file(offers: Offers, text: str) -> Match:
    """A file question: words can only skip it ("no photo", "skip"); anything else asks for the file."""
    skip = offers.of("continue")
    words, raw = set(content(text)), set(raw_words(text))
    if skip:
        label = set(skip[0].label_words)
        if words == label or (raw & SKIP_WORDS and words - SKIP_WORDS <= label | {"skip"}):
            return Match("confirm", skip, exact=True)
    hint = f" Or say “{skip[0].label}”." if skip else ""
    return unclear(f"Please send the file itself here (a photo, or a picture as a file).{hint}", skip)


# --------------------------------------------------------------- selects
def _select(offers: Offers, text: str) -> Match | None:
    options = offers.of("option")
    multi = offers.shape == "multi"
    done = is_done(text) or (multi and bool(set(raw_words(text)) & DONE))
    numbers = numbers_in(text, len(options), DONE | DONE_HELPERS if multi else frozenset())
    if numbers is not None:
        refused = _check_numbers(offers, numbers, "option")
        if refused:
            return refused
        if not multi and len(numbers) > 1:
            return unclear("Please pick just one.", options, certain=True)
        picked = [offers.option(n) for n in numbers]
        kind = "confirm" if multi and done else "tick" if multi else "choose"
        return Match(kind, picked, exact=True)  # type: ignore[arg-type]
    if offers.shape == "review" and is_done(text):
        return Match("confirm", offers.of("continue"), exact=True)
    if multi and is_done(text):
        return Match("confirm", [], exact=True)
    if offers.shape == "review":
        return None
    if multi:
        ticked = _ticks(offers, text)
        if ticked is not None:
            ticked.kind = "confirm" if done else "tick"
            return ticked
    found = best_label(options, text, DONE if multi else frozenset())
    if found is not None and found.kind == "choose" and multi:
        found.kind = "confirm" if done else "tick"
    return found


def match(offers: Offers, text: str) -> Match:
    """What `text` most plausibly means at this question, without a model."""
    if offers.shape == "text":
        return Match("answer", offers.items, exact=True)
    if not has_words(text) and numbers_in(text, 0) is None:
        return unclear("I could not find any words in that.", certain=True)
    if is_no(text):
        return Match("cancel", exact=True)
    if offers.shape == "file":
        return _file(offers, text)
    shaped = _media(offers, text) if offers.shape == "media" else _select(offers, text)
    if shaped is not None and (shaped.kind != "unclear" or shaped.candidates):
        return shaped
    jump = _jump(offers, text)
    if jump is not None:
        return jump
    if chat(text):
        return unclear("That sounds like a question for me rather than an answer to this step.", certain=True)
    if foreign(text):
        return unclear("I can only read English here.")
    return shaped or _retry(offers, text) or unclear("I'm not sure which of the options you mean.")
