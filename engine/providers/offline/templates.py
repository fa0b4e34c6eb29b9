"""The offline writer's little template language.

    {theme.setting|cap}                   a value, then filters
    {field.setting or theme.setting}      the first alternative that is not empty
    {look + theme.subjects|at}            lists joined into one
    {vocab.captions[find.set_id]}         a key looked up from another value
    {theme.moments|pick:item*length+i}    a distinct pick per array position
    [[, {must_have|first:3|comma}]]       kept only when every value inside is filled

Strings that come from data (vocabularies, themes, snippets) are templates
themselves and are filled in turn; strings from the request are never filled.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from engine.providers.offline.text import cap, decap, fit_chars, fit_words, listing

PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
OPTIONAL = re.compile(r"\[\[(.*?)\]\]", re.S)
_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|\[([^\[\]]+)\]|(\.))")
_INDEX = re.compile(r"^\s*(i|item|length|\d+)(\s*[*+]\s*(i|item|length|\d+))*\s*$")

GRAMMAR = ("subject", "Subject", "noun", "Noun", "a_noun", "is", "s", "has", "pet_sound", "emojis", "label",
           "look", "parts", "spot")
ROOTS = frozenset(GRAMMAR + ("theme", "field", "number", "find", "vocab", "snippet", "moving", "elements",
                             "element", "blocked", "must_have", "parent", "position", "key"))
ELEMENT_FORMS = frozenset({"name", "names", "motion", "where", "detail", "short", "action"})
MAX_DEPTH = 4  # data strings filled inside data strings, at most this deep


class Where(Protocol):
    """Where in the answer the value goes (the writer's scope)."""

    key: str
    path: tuple[str, ...]
    index: int | None
    item_index: int | None
    length: int

    def find(self, name: str) -> Any: ...


def index_problems(expr: Any) -> list[str]:
    return [] if isinstance(expr, int) or (isinstance(expr, str) and _INDEX.match(expr)) else \
        [f"index {expr!r} is not like 'i', 'item', '2*item+1' or 'item*length+i'"]


def index_of(expr: Any, where: Where) -> int:
    """'i' (position in the nearest array), 'item' (the nearest array-of-objects item), 'length', sums, products."""
    atoms = {"i": where.index or 0, "item": where.item_index or 0, "length": max(1, where.length)}
    total = 0
    for term in str(expr).split("+"):
        product = 1
        for factor in term.split("*"):
            factor = factor.strip()
            product *= atoms[factor] if factor in atoms else int(factor)
        total += product
    return total


@dataclass
class Val:
    value: Any
    data: bool = False  # strings in it are templates to fill
    name: str = ""  # where it came from: the shuffle key of |pick


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


class Renderer:
    """Fills templates for one property: `ctx` reads the request, `data` is the merged writer data."""

    def __init__(self, ctx: Any, data: Any, where: Where, theme: Any, index: Any = "i") -> None:
        self.ctx, self.data, self.where, self.theme = ctx, data, where, theme
        self.default_index = index
        self.depth = 0

    # ---- pieces: a rule's or a snippet's text, fitted to words or characters

    def piece(self, piece: Any) -> str:
        if not isinstance(piece, dict):
            piece = {"text": piece}
        outer = self.default_index
        self.default_index = piece.get("index", outer)
        try:
            texts = piece.get("text", "")
            options = [self.render(t) for t in (texts if isinstance(texts, list) else [texts])] or [""]
        finally:
            self.default_index = outer
        text = options[0]
        if words := piece.get("words"):
            lo, hi = int(words[0]), int(words[1])
            text = next((o for o in options if lo <= len(o.split()) <= hi), None) or fit_words(text, lo, hi,
                                                                                               self.data.fillers)
        if chars := piece.get("chars"):
            text = fit_chars(text, int(chars[0]), int(chars[1]), self.data.fillers)
        return text

    def render(self, template: str) -> str:
        if self.depth > MAX_DEPTH:
            return ""
        self.depth += 1
        try:
            def optional(match: re.Match[str]) -> str:
                inner = match.group(1)
                if any(_empty(self.expr(m.group(1)).value) for m in PLACEHOLDER.finditer(inner)):
                    return ""
                return PLACEHOLDER.sub(lambda m: self.string(self.expr(m.group(1))), inner)

            text = OPTIONAL.sub(optional, str(template))
            return PLACEHOLDER.sub(lambda m: self.string(self.expr(m.group(1))), text)
        finally:
            self.depth -= 1

    # ---- expressions

    def expr(self, expr: str) -> Val:
        head, *filters = expr.split("|")
        val = Val(None)
        for alternative in head.split(" or "):
            val = self.alternative(alternative.strip())
            if not _empty(val.value):
                break
        for spec in filters:
            name, _, arg = spec.partition(":")
            val = FILTERS[name.strip()](self, val, arg)
        return val

    def alternative(self, text: str) -> Val:
        terms = [t.strip() for t in text.split(" + ")]
        if len(terms) == 1:
            return self.term(terms[0])
        items: list[Any] = []
        for term in terms:
            val = self.term(term)
            items += self.strings(val) if isinstance(val.value, (list, tuple)) else [self.string(val)]
        return Val([i for i in items if i], False, "+".join(terms))

    def term(self, text: str) -> Val:
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            return Val(text[1:-1])
        return self.lookup(text)

    def lookup(self, path: str) -> Val:
        segments = self.segments(path)
        if not segments:
            return Val(None)
        return self.root(segments[0], segments[1:])

    def segments(self, path: str) -> list[str]:
        out: list[str] = []
        pos = 0
        while pos < len(path):
            match = _TOKEN.match(path, pos)
            if not match or match.end() == pos:
                break
            pos = match.end()
            if match.group(1):
                out.append(match.group(1))
            elif match.group(2):
                out.append(self.string(self.lookup(match.group(2))))
        return out

    def root(self, root: str, rest: list[str]) -> Val:
        ctx, where, theme = self.ctx, self.where, self.theme
        name = ".".join([root, *rest])
        if root in GRAMMAR:
            return Val(self.grammar(root), root == "spot", name)
        if root == "theme":
            return Val(_walk(theme.fields, rest), True, f"{name}@{theme.key}")
        if root == "vocab":
            return Val(_walk(self.data.vocabularies, rest), True, name)
        if root == "snippet":
            snippet = self.data.snippets.get(rest[0]) if rest else None
            return Val(None if snippet is None else self.piece(snippet), False, name)
        if root == "field":
            return Val(ctx.fields.get(rest[0]) if rest else None, False, name)
        if root == "number":
            number = ctx.number_field(*rest) if rest else None
            return Val(None if number is None else str(number), False, name)
        if root == "find":
            return Val(where.find(rest[0]) if rest else None, False, name)
        if root in ("moving", "elements", "element"):
            return Val(self.elements(root, rest[0] if rest else "names"), False, f"{name}@{theme.key}")
        if root == "blocked":
            return Val(ctx.blocked_for(theme), False, name)
        if root == "must_have":
            return Val(list(ctx.must_have), False, name)
        if root == "parent":
            return Val(where.path[-2] if len(where.path) > 1 else where.key, False, name)
        if root == "position":
            return Val(str((where.index or 0) + 1), False, name)
        if root == "key":
            return Val(where.key, False, name)
        return Val(None, False, name)

    def grammar(self, name: str) -> Any:
        pet = self.ctx.pet
        return {
            "subject": pet.subject, "Subject": cap(pet.subject), "noun": pet.noun, "Noun": pet.title_noun,
            "a_noun": pet.a_noun, "is": pet.is_, "s": pet.s, "has": pet.has, "pet_sound": pet.sound,
            "emojis": pet.emojis, "label": pet.label, "look": self.ctx.look, "parts": list(pet.parts),
            "spot": self.theme.fields.get("spot", ""),
        }[name]

    def elements(self, root: str, form: str) -> Any:
        form = "name" if form == "names" else form
        if root == "element":
            all_elements = self.ctx.elements(self.theme)
            return getattr(all_elements[(self.where.index or 0) % len(all_elements)], form, None)
        chosen = self.ctx.moving_for(self.theme) if root == "moving" else self.ctx.elements(self.theme)
        return [getattr(e, form) for e in chosen]

    # ---- turning values into text

    def string(self, val: Val) -> str:
        value = val.value
        if isinstance(value, (list, tuple)):
            return ", ".join(self.strings(val))
        if value is None or isinstance(value, dict):
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return self.render(value) if val.data and isinstance(value, str) else str(value)

    def strings(self, val: Val) -> list[str]:
        value = val.value
        items = value if isinstance(value, (list, tuple)) else [] if _empty(value) else [value]
        return [self.string(Val(item, val.data)) for item in items]


def _walk(value: Any, keys: list[str]) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _text(fn: Callable[[str], str]) -> Callable[[Renderer, Val, str], Val]:
    return lambda r, val, arg: Val(fn(r.string(val)), False, val.name)


def _joined(fn: Callable[[list[str]], str]) -> Callable[[Renderer, Val, str], Val]:
    return lambda r, val, arg: Val(fn(r.strings(val)), False, val.name)


def _first(r: Renderer, val: Val, arg: str) -> Val:
    if not isinstance(val.value, (list, tuple)):
        return val
    if arg.strip():
        return Val(list(val.value[: int(arg)]), val.data, val.name)
    return Val(val.value[0] if val.value else None, val.data, val.name)


def _choose(shuffle: bool) -> Callable[[Renderer, Val, str], Val]:
    def choose(r: Renderer, val: Val, arg: str) -> Val:
        pool = val.value
        if not isinstance(pool, (list, tuple)):
            return val
        if not pool:
            return Val(None)
        index = index_of(arg.strip() or r.default_index, r.where)
        order = r.ctx.shuffled(val.name, pool) if shuffle else list(pool)
        return Val(order[index % len(order)], val.data, val.name)

    return choose


def _split(r: Renderer, val: Val, arg: str) -> Val:
    return Val([part.strip() for part in r.string(val).split(arg or ",") if part.strip()], False, val.name)


def _each(r: Renderer, val: Val, arg: str) -> Val:
    return Val([arg.replace("%", item) for item in r.strings(val)], False, val.name)


def _without(r: Renderer, val: Val, arg: str) -> Val:
    gone = {s.lower() for s in r.strings(r.lookup(arg.strip()))}
    return Val([s for s in r.strings(val) if s.lower() not in gone], False, val.name)


def _keys(r: Renderer, val: Val, arg: str) -> Val:
    return Val(list(val.value) if isinstance(val.value, dict) else [], False, val.name)


FILTERS: dict[str, Callable[[Renderer, Val, str], Val]] = {
    "cap": _text(cap),
    "decap": _text(decap),
    "lower": _text(str.lower),
    "nodot": _text(lambda s: s.rstrip(".")),
    "singular": _text(lambda s: s.rstrip("s")),
    "tag": _text(lambda s: re.sub(r"[^A-Za-z0-9_]", "", s)),
    "and": _joined(listing),
    "comma": _joined(", ".join),
    "semi": _joined("; ".join),
    "space": _joined(" ".join),
    "first": _first,
    "pick": _choose(shuffle=True),
    "at": _choose(shuffle=False),
    "split": _split,
    "each": _each,
    "without": _without,
    "keys": _keys,
}


def template_problems(template: Any, where: str) -> list[str]:
    """Unknown roots, filters or index expressions in one template."""
    if not isinstance(template, str):
        return [f"{where}: a template must be a string"]
    problems: list[str] = []
    for match in PLACEHOLDER.finditer(template):
        head, *filters = match.group(1).split("|")
        for alternative in head.split(" or "):
            for term in alternative.split(" + "):
                term = term.strip()
                if term[:1] in "\"'":
                    continue
                root = re.match(r"[A-Za-z_][A-Za-z0-9_]*", term)
                if not root or root.group() not in ROOTS:
                    problems.append(f"{where}: unknown value {term!r} in {{{match.group(1)}}}")
        for spec in filters:
            name, _, arg = spec.partition(":")
            if name.strip() not in FILTERS:
                problems.append(f"{where}: unknown filter {name.strip()!r} in {{{match.group(1)}}}")
            elif name.strip() in ("pick", "at") and arg.strip():
                problems += [f"{where}: {p}" for p in index_problems(arg.strip())]
    return problems
