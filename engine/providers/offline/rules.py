"""When a rule of the offline writer applies: a `when` object tested against one property.

    {"key": ["title"]}                         the property's name is one of these
    {"key_has": ["genre"], "mode": "music"}    every test in an object must hold
    [{"key": ["caption"]}, {...}]              a list: any of its objects

Tests: key, key_has, key_starts, key_ends (the property name, lower case);
siblings (all of these are properties of the same object), siblings_any;
path_has (a name on the way from the root, e.g. "veo"); description_has (the
schema's description); fields (the request has one of these "**Name:** value"
fields); in_array; named_pet (the request names the pet); selected (the
request lists selected elements); mode / not_mode (a named `modes` entry,
itself a `when`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.providers.offline.templates import index_problems, template_problems

PIECE_KEYS = frozenset({"when", "text", "value", "index", "words", "chars", "note"})
ENTRY_KEYS = {"numbers": frozenset({"when", "field", "value", "step", "jitter", "note"}),
              "counts": frozenset({"when", "field", "note"})}


def _words(want: Any) -> tuple[str, ...]:
    return tuple(str(w).lower() for w in ([want] if isinstance(want, (str, bool)) else want))


@dataclass
class Probe:
    """What a rule can test about the property being written."""

    key: str
    path: str  # the names from the root, "/"-joined, lower case
    siblings: frozenset[str]
    description: str
    in_array: bool
    fields: dict[str, str]
    named_pet: bool
    selected: bool
    modes: dict[str, Any]
    _mode_cache: dict[str, bool] = field(default_factory=dict)

    def mode(self, name: str) -> bool:
        if name not in self._mode_cache:
            when = self.modes.get(name)
            self._mode_cache[name] = when is not None and matches(when, self, allow_modes=False)
        return self._mode_cache[name]


def _test(probe: Probe, test: str, want: Any, allow_modes: bool) -> bool:
    if test in ("in_array", "named_pet", "selected"):
        return bool(getattr(probe, test)) == bool(want)
    if test in ("mode", "not_mode"):
        held = allow_modes and any(probe.mode(name) for name in _words(want))
        return held if test == "mode" else not held
    words = _words(want)
    if test == "key":
        return probe.key in words
    if test == "key_has":
        return any(w in probe.key for w in words)
    if test == "key_starts":
        return probe.key.startswith(words)
    if test == "key_ends":
        return probe.key.endswith(words)
    if test == "siblings":
        return set(words) <= probe.siblings
    if test == "siblings_any":
        return bool(set(words) & probe.siblings)
    if test == "path_has":
        return any(w in probe.path for w in words)
    if test == "description_has":
        return any(w in probe.description for w in words)
    if test == "fields":
        return any(w in probe.fields for w in words)
    return False


TESTS = frozenset({"key", "key_has", "key_starts", "key_ends", "siblings", "siblings_any", "path_has",
                   "description_has", "fields", "in_array", "named_pet", "selected", "mode", "not_mode"})


def matches(when: Any, probe: Probe, *, allow_modes: bool = True) -> bool:
    if isinstance(when, list):
        return any(matches(w, probe, allow_modes=allow_modes) for w in when)
    return all(_test(probe, test, want, allow_modes) for test, want in (when or {}).items())


def first_match(entries: list[dict[str, Any]], probe: Probe) -> dict[str, Any] | None:
    return next((entry for entry in entries if matches(entry.get("when", {}), probe)), None)


# ------------------------------------------------------------------ checking


def check_when(when: Any, where: str, *, allow_modes: bool = True) -> list[str]:
    if isinstance(when, list):
        return [p for i, w in enumerate(when) for p in check_when(w, f"{where}[{i}]", allow_modes=allow_modes)]
    if not isinstance(when, dict):
        return [f"{where}: 'when' must be an object or a list of objects"]
    problems = [f"{where}: unknown test {test!r}" for test in when if test not in TESTS]
    if not allow_modes and ({"mode", "not_mode"} & set(when)):
        problems.append(f"{where}: a mode cannot test another mode")
    return problems


def check_piece(piece: dict[str, Any], where: str, *, text_key: str = "text") -> list[str]:
    problems = [f"{where}: unknown key {k!r}" for k in piece if k not in PIECE_KEYS]
    texts = piece.get(text_key)
    if texts is None:
        problems.append(f"{where}: needs {text_key!r}")
    for i, text in enumerate(texts if isinstance(texts, list) else [texts] if texts is not None else []):
        problems += template_problems(text, f"{where}.{text_key}" + (f"[{i}]" if isinstance(texts, list) else ""))
    if "index" in piece:
        problems += [f"{where}: {p}" for p in index_problems(piece["index"])]
    for bounds in ("words", "chars"):
        value = piece.get(bounds)
        if value is not None and not (isinstance(value, list) and len(value) == 2
                                      and all(isinstance(v, int) for v in value)):
            problems.append(f"{where}: {bounds!r} must be [low, high]")
    return problems


def check_entry(entry: dict[str, Any], section: str, where: str) -> list[str]:
    """A `numbers` or `counts` entry: its keys and its number fields."""
    problems = [f"{where}: unknown key {k!r}" for k in entry if k not in ENTRY_KEYS[section]]
    for name in ("value", "step", "jitter"):
        if name in entry and not isinstance(entry[name], (int, float)):
            problems.append(f"{where}: {name!r} must be a number")
    return problems
