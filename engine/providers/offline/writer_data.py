"""The offline writer's data: the package's generic vocabulary plus a workflow's hints.

`generic.json` beside this file is a complete writer: themes, vocabularies,
snippets and rules that answer any schema with generic cozy pet text. A
workflow can hand more (`LLMRequest.hints`, from its `config.offline_writer`),
in the same format; the two are merged so the workflow's data wins:

* `rules`, `numbers`, `counts`, `enums`: the workflow's entries first, then the generic ones;
* `vocabularies`, `snippets`, `modes`, `request`: merged by name, the workflow's win;
* anything else (`themes`, `enum_preferred`, `concept_keys`, `fillers`, ...): the workflow's replaces.

The format is described in workflows/cc/README.md ("Offline answers").
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from engine.providers.offline.rules import check_entry, check_piece, check_when

GENERIC_FILE = Path(__file__).with_name("generic.json")

LIST_SECTIONS = ("rules", "numbers", "counts", "enums")
DICT_SECTIONS = ("vocabularies", "snippets", "modes", "request")
OTHER_SECTIONS = ("themes", "extra_elements", "enum_preferred", "concept_keys", "fillers", "true_when",
                  "plain_text", "about")
THEME_FIELDS = ("key", "triggers", "only_when_asked", "elements")


@dataclass(frozen=True)
class Element:
    """One thing in a scene that can move: "sheer curtain", "soft sway", "left window"."""

    name: str
    motion: str = ""
    where: str = ""

    @property
    def detail(self) -> str:  # "sheer curtain (soft sway, left window)"
        extra = ", ".join(x for x in (self.motion, self.where) if x)
        return f"{self.name} ({extra})" if extra else self.name

    @property
    def short(self) -> str:  # "sheer curtain (soft sway)"
        return f"{self.name} ({self.motion})" if self.motion else self.name

    @property
    def action(self) -> str:  # "soft sway of the sheer curtain"
        return f"{self.motion} of the {self.name}" if self.motion else f"the {self.name}"

    @classmethod
    def from_json(cls, raw: Any) -> Element:
        if isinstance(raw, str):
            return cls(raw)
        return cls(*[str(x) for x in list(raw)[:3]])


@dataclass(frozen=True)
class Theme:
    """One scene. The writer knows only its key, trigger words and moving elements;
    every other field is free-form data that templates read as {theme.<field>}."""

    key: str
    triggers: tuple[str, ...]
    only_when_asked: bool  # never offered unless the request names one of its triggers
    elements: tuple[Element, ...]
    fields: dict[str, Any]

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Theme:
        triggers = raw.get("triggers", "")
        words = triggers.split() if isinstance(triggers, str) else [str(t) for t in triggers]
        fields = {k: v for k, v in raw.items() if k not in THEME_FIELDS}
        return cls(str(raw["key"]), tuple(w.lower() for w in words), bool(raw.get("only_when_asked")),
                   tuple(Element.from_json(e) for e in raw.get("elements", [])), {"key": raw["key"], **fields})


class WriterData:
    """Generic data and a workflow's hints, merged, checked and parsed once."""

    def __init__(self, raw: dict[str, Any]) -> None:
        problems = check_data(raw)
        if problems:
            raise ValueError("; ".join(problems[:5]))
        self.raw = raw
        self.themes = tuple(Theme.from_json(t) for t in raw["themes"])
        self.extra_elements = tuple(Element.from_json(e) for e in raw.get("extra_elements", []))
        self.rules = _entries(raw, "rules")
        self.numbers = _entries(raw, "numbers")
        self.counts = _entries(raw, "counts")
        self.enums = _entries(raw, "enums")
        self.vocabularies: dict[str, Any] = raw.get("vocabularies", {})
        self.snippets: dict[str, Any] = raw.get("snippets", {})
        self.modes: dict[str, Any] = raw.get("modes", {})
        self.request: dict[str, Any] = raw.get("request", {})
        self.enum_preferred = frozenset(str(v).lower() for v in raw.get("enum_preferred", []))
        self.concept_keys = frozenset(raw.get("concept_keys", []))
        self.fillers = tuple(raw.get("fillers") or ("soft and cozy",))
        self.true_when = raw.get("true_when", {"key": []})
        self.plain_text = raw.get("plain_text", "{Subject}")

    def request_words(self, name: str) -> tuple[str, ...]:
        value = self.request.get(name, ())
        return tuple(str(v).lower() for v in ([value] if isinstance(value, str) else value))


def _is_comment(entry: Any) -> bool:
    """{"note": "..."} alone heads a group of entries, like a comment."""
    return isinstance(entry, dict) and set(entry) == {"note"}


def _entries(raw: dict[str, Any], section: str) -> list[dict[str, Any]]:
    return [entry for entry in raw.get(section, []) if not _is_comment(entry)]


@cache
def generic_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GENERIC_FILE.read_text(encoding="utf-8"))
    return data


def merge(generic: dict[str, Any], hints: dict[str, Any]) -> dict[str, Any]:
    merged = dict(generic)
    for name, value in hints.items():
        if name in LIST_SECTIONS and isinstance(value, list):
            merged[name] = value + list(generic.get(name, []))
        elif name in DICT_SECTIONS and isinstance(value, dict):
            merged[name] = {**generic.get(name, {}), **value}
        else:
            merged[name] = value
    return merged


_CACHE: OrderedDict[str, WriterData] = OrderedDict()
_BY_IDENTITY: OrderedDict[tuple[tuple[str, int], ...], tuple[list[Any], WriterData]] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def writer_data(hints: dict[str, Any] | None = None) -> WriterData:
    """The merged data for these hints; parsed once per distinct hints (a few kept).

    A workflow's hints are the same objects on every call (its loaded config),
    so they are first looked up by the identity of their sections (kept alive
    in the cache, so an id is never reused); only new objects are serialised."""
    hints = hints or {}
    identity = tuple((name, id(value)) for name, value in hints.items())
    with _CACHE_LOCK:
        hit = _BY_IDENTITY.get(identity)
        if hit is not None:
            _BY_IDENTITY.move_to_end(identity)
            return hit[1]
    key = json.dumps(hints, sort_keys=True, ensure_ascii=False)
    with _CACHE_LOCK:
        data = _CACHE.get(key)
    if data is None:
        data = WriterData(merge(generic_data(), hints))
    with _CACHE_LOCK:
        _CACHE[key] = data
        _BY_IDENTITY[identity] = (list(hints.values()), data)
        for table in (_CACHE, _BY_IDENTITY):
            while len(table) > 8:
                table.popitem(last=False)
    return data


def check_data(raw: Any) -> list[str]:
    """What is wrong with merged writer data (empty when it is usable)."""
    if not isinstance(raw, dict):
        return ["the offline writer data must be a JSON object"]
    known = set(LIST_SECTIONS + DICT_SECTIONS + OTHER_SECTIONS)
    problems = [f"unknown section {name!r}" for name in raw if name not in known]
    themes = raw.get("themes")
    if not isinstance(themes, list) or not themes:
        problems.append("'themes' must be a non-empty list")
    else:
        problems += [f"themes[{i}] needs a 'key'" for i, t in enumerate(themes) if not isinstance(t, dict)
                     or not t.get("key")]
    for section in LIST_SECTIONS:
        entries = raw.get(section, [])
        if not isinstance(entries, list):
            problems.append(f"'{section}' must be a list")
            continue
        for i, entry in enumerate(entries):
            where = f"{section}[{i}]"
            if not isinstance(entry, dict):
                problems.append(f"{where} must be an object")
                continue
            if _is_comment(entry):
                continue
            problems += check_when(entry.get("when", {}), where)
            if section in ("rules", "enums"):
                problems += check_piece(entry, where, text_key="text" if section == "rules" else "value")
            else:
                problems += check_entry(entry, section, where)
    for section in DICT_SECTIONS:
        if not isinstance(raw.get(section, {}), dict):
            problems.append(f"'{section}' must be an object")
    for name, when in (raw.get("modes") or {}).items():
        problems += check_when(when, f"modes.{name}", allow_modes=False)
    problems += check_when(raw.get("true_when", {}), "true_when")
    problems += check_piece({"text": raw.get("plain_text", "")}, "plain_text")
    for name, piece in (raw.get("snippets") or {}).items():
        problems += check_piece(piece if isinstance(piece, dict) else {"text": piece}, f"snippets.{name}")
    return problems
