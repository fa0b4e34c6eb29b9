"""What a pending question offers, as free text may name it.

Derived from the protocol only (the request's display data and its
`retryable` options, shown through `engine.presentation`), never from step
ids or state keys: the options of a select with their numbers, labels and
the words of their visible fields; a multi-select's "done"; a review's
"continue"; the retry and jump options with their labels, targets and
feedback; a text input's free answer; a media step's Generate per usable
provider and "Pick #n" per generated file; a file question's skip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from engine.presentation import (
    generated_contents,
    index_badges,
    item_rows,
    item_title,
    provider_name,
    selectable_items,
    shorten,
)
from engine.protocol import (
    FileInputDisplay,
    InteractionRequest,
    MediaDisplay,
    RetryOption,
    SelectDisplay,
    TextInputDisplay,
)
from engine.understanding.words import content, stems

Kind = Literal["option", "done", "continue", "retry", "jump", "answer", "generate", "pick"]
LABEL_LIMIT = 80
FIELD_LIMIT = 300
DETAIL_LIMIT = 120
# words of module and step names that say nothing about where they lead
ICONS = {"retry": "🔄 ", "jump": "↩️ ", "generate": "▶ ", "pick": "✅ ", "done": "✔️ ",
         "continue": "✔️ "}
TARGET_NOISE = frozenset({"select", "and", "generate", "get", "user", "input", "step", "type", "the", "a"})


@dataclass(frozen=True)
class Offer:
    kind: Kind
    code: str  # how the LLM names it: "3" (an option), "D", "C", "R1", "J2", "G1", "P4", "A"
    number: int  # 1-based within its kind, as shown ("3.", "Pick #4", the first provider)
    label: str  # as shown
    label_words: tuple[str, ...] = ()  # the label's content stems
    words: frozenset[str] = field(default_factory=frozenset)  # every searchable stem (label, fields, targets)
    option_id: str | None = None  # retry / jump / continue: the retryable option's id
    target_module: str | None = None
    feedback: bool = False  # a retry that takes words
    prompt_key: str | None = None  # generate: the panel
    content_id: str | None = None  # pick: the file
    price: str = "free"
    detail: str = ""  # an option's one-line summary (its subtitle, else its first field)

    def line(self) -> str:
        """The offer as one line of a list ("2. Cozy window nap", "🔄 New scene ideas")."""
        head = f"{self.number}. " if self.kind == "option" else ICONS.get(self.kind, "")
        price = f" ({self.price})" if self.kind == "generate" and self.price not in ("", "free") else ""
        return f"{head}{self.label}{price}"


@dataclass(frozen=True)
class Offers:
    """Everything a question offers, and what kind of question it is."""

    request: InteractionRequest
    items: list[Offer]
    shape: Literal["select", "multi", "review", "text", "media", "file"]
    min_selections: int = 1
    max_selections: int | None = 1
    badge: bool = False  # options are numbered "#1" rather than "1."

    def of(self, *kinds: Kind) -> list[Offer]:
        return [o for o in self.items if o.kind in kinds]

    def by_code(self, code: str) -> Offer | None:
        return next((o for o in self.items if o.code == code), None)

    def option(self, number: int) -> Offer | None:
        return next((o for o in self.items if o.kind == "option" and o.number == number), None)

    def pick(self, number: int) -> Offer | None:
        return next((o for o in self.items if o.kind == "pick" and o.number == number), None)


def _target_words(option: RetryOption) -> set[str]:
    words: set[str] = set()
    for name in (option.target_step, option.target_module):
        if name:
            words |= {w for w in stems(name.replace("_", " ")) if w not in TARGET_NOISE}
    return words


def _retry_offers(options: list[RetryOption], with_continue: bool) -> list[Offer]:
    out: list[Offer] = []
    counts = {"retry": 0, "jump": 0}
    for option in options:
        label_words = tuple(content(option.label))
        if option.mode == "continue":
            if with_continue:
                out.append(Offer("continue", "C", 1, option.label, label_words, frozenset(label_words),
                                 option_id=option.id))
            continue
        counts[option.mode] += 1
        code = f"{'R' if option.mode == 'retry' else 'J'}{counts[option.mode]}"
        words = frozenset(label_words) | _target_words(option)
        takes_words = bool(option.feedback and option.feedback.enabled)
        out.append(Offer(option.mode, code, counts[option.mode], option.label, label_words, words,
                         option_id=option.id, target_module=option.target_module, feedback=takes_words))
    return out


def _select_offers(req: InteractionRequest, disp: SelectDisplay) -> Offers:
    review = disp.mode == "review"
    multi = disp.multi_select and not review
    items = selectable_items(disp.data, disp.display_schema)
    offers: list[Offer] = []
    if not review:
        for i, (_path, item, schema) in enumerate(items):
            label = item_title(item, schema, LABEL_LIMIT)
            label_words = tuple(content(label))
            rows = item_rows(item, schema, FIELD_LIMIT)
            first = next((r for r in rows if r.role == "subtitle"), rows[0] if rows else None)
            words = frozenset(label_words) | frozenset(content(" ".join(r.text for r in rows)))
            offers.append(Offer("option", str(i + 1), i + 1, label, label_words, words,
                                detail=shorten(first.text, DETAIL_LIMIT) if first else ""))
    if multi:
        offers.append(Offer("done", "D", 1, "Done"))
    options = disp.retryable.options if disp.retryable else []
    offers += _retry_offers(options, with_continue=review)
    if review and not any(o.kind == "continue" for o in offers):
        offers.insert(0, Offer("continue", "C", 1, "Continue"))
    shape = "review" if review else "multi" if multi else "select"
    high = disp.max_selections if multi else 1
    return Offers(req, offers, shape, disp.min_selections if multi else 1, high, index_badges(items))


def _media_offers(req: InteractionRequest, disp: MediaDisplay) -> Offers:
    offers: list[Offer] = []
    usable = [p for p in disp.panels if p.availability != "unavailable"]
    for n, panel in enumerate(usable, start=1):
        words = frozenset(content(f"{panel.label} {provider_name(panel.provider)}"))
        offers.append(Offer("generate", f"G{n}", n, f"Generate with {panel.label}", tuple(content(panel.label)),
                            words, prompt_key=panel.prompt_key, price=panel.price or "free"))
    for shown in generated_contents(disp):
        offers.append(Offer("pick", f"P{shown.number}", shown.number, f"Pick #{shown.number}",
                            content_id=shown.content_id))
    offers += _retry_offers(disp.retryable.options if disp.retryable else [], with_continue=False)
    return Offers(req, offers, "media", badge=True)


def offers_of(req: InteractionRequest) -> Offers:
    """What `req` offers, in the order a person sees it."""
    disp = req.display_data
    if isinstance(disp, SelectDisplay):
        return _select_offers(req, disp)
    if isinstance(disp, MediaDisplay):
        return _media_offers(req, disp)
    if isinstance(disp, FileInputDisplay):  # the file itself comes as a file; words can only skip it
        skip = [Offer("continue", "C", 1, disp.skip_label, tuple(content(disp.skip_label)),
                      frozenset(content(disp.skip_label)))] if disp.allow_skip else []
        return Offers(req, skip, "file")
    assert isinstance(disp, TextInputDisplay)
    return Offers(req, [Offer("answer", "A", 1, disp.prompt)], "text")
