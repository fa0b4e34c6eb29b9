"""The offline JSON-schema writer: fills any schema with schema-valid, sensible text.

`SchemaWriter` walks the schema generically ($ref, allOf, anyOf, enums,
bounds, lengths, patterns, formats); every string comes from the first
matching rule of the writer data (`writer_data.py`), rendered by
`templates.py`, so the writer itself knows no workflow's property names.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

from engine.providers.offline.context import RequestContext
from engine.providers.offline.rules import Probe, first_match, matches
from engine.providers.offline.templates import Renderer
from engine.providers.offline.text import fit_chars, fit_words
from engine.providers.offline.writer_data import Theme

_LENGTH_HINT = re.compile(r"(\d+)\s*(?:-|–|to)\s*(\d+)\s*(characters|chars|words)", re.IGNORECASE)
_MAX_HINT = re.compile(r"(?:at most|up to|no more than|max(?:imum)?)\s*(\d+)\s*(characters|chars|words)", re.IGNORECASE)


@dataclass
class Scope:
    """Where in the schema a value is being written."""

    key: str = ""
    path: tuple[str, ...] = ()
    index: int | None = None  # position inside the nearest array
    item_index: int | None = None  # position of the nearest array-of-objects item
    theme: Theme | None = None
    theme_locked: bool = False
    objs: tuple[dict[str, Any], ...] = ()  # enclosing objects, outermost first, filled so far
    siblings: frozenset[str] = frozenset()
    length: int = 0  # how many items the nearest array gets

    def find(self, name: str) -> Any:
        """A value already written in this object or an enclosing one (e.g. a set's set_id)."""
        for obj in reversed(self.objs):
            if obj.get(name) is not None:
                return obj[name]
        return None


MAX_DEPTH = 10  # a deep or recursive schema ($ref to itself) stops growing here


def _too_deep(scope: Scope) -> bool:
    return len(scope.path) > MAX_DEPTH or scope.path.count(scope.key) > 2


class SchemaWriter:
    """Fills a JSON schema with sensible values, property by property.

    The walk (objects, arrays, enums, numbers, lengths, patterns) is generic;
    what a property says comes from the writer data's rules.
    """

    def __init__(self, schema: dict[str, Any], ctx: RequestContext) -> None:
        self.root = schema
        self.ctx = ctx
        self.data = ctx.data
        self.rng = ctx.rng

    # ---- the generic walk

    def _resolve(self, schema: Any) -> dict[str, Any]:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 32:
            ref = schema["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#"):
                break
            target: Any = self.root
            for part in ref.lstrip("#").strip("/").split("/"):
                if part:
                    target = target[part.replace("~1", "/").replace("~0", "~")]
            merged = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **merged}
            seen += 1
        if isinstance(schema, dict) and "allOf" in schema:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = self._resolve(part)
                for key, value in part.items():
                    if key in ("properties",) and key in merged:
                        merged[key] = {**merged[key], **value}
                    elif key == "required":
                        merged[key] = list(dict.fromkeys(merged.get(key, []) + list(value)))
                    else:
                        merged.setdefault(key, value)
            schema = merged
        return schema if isinstance(schema, dict) else {}

    def value(self, schema: Any, scope: Scope) -> Any:
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [self._resolve(o) for o in schema[key]]
                chosen = next((o for o in options if o.get("type") != "null"), options[0] if options else {})
                base = {k: v for k, v in schema.items() if k != key}
                return self.value({**base, **chosen}, scope)
        if "enum" in schema:
            return self.enum(list(schema["enum"]), scope)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        if kind == "object":
            return self.obj(schema, scope)
        if kind == "array":
            return self.array(schema, scope)
        if kind == "integer":
            return self.integer(schema, scope)
        if kind == "number":
            return self.number(schema, scope)
        if kind == "boolean":
            return self.boolean(scope)
        if kind == "null":
            return None
        return self.string(schema, scope)

    def obj(self, schema: dict[str, Any], scope: Scope) -> dict[str, Any]:
        props: dict[str, Any] = dict(schema.get("properties") or {})
        required = list(schema.get("required", []))
        if _too_deep(scope):
            props = {name: sub for name, sub in props.items() if name in required}
        for name in required:
            props.setdefault(name, {})
        theme, locked = scope.theme, scope.theme_locked
        # An array item that is a whole concept (a scene, a music option) gets its own theme.
        concept = props.keys() & self.data.concept_keys
        if scope.item_index is not None and not locked and concept:
            theme, locked = self.ctx.themes[scope.item_index % len(self.ctx.themes)], True
        out: dict[str, Any] = {}
        objs = scope.objs + (out,)
        siblings = frozenset(props)
        for name, sub in props.items():
            child = Scope(name, scope.path + (name,), scope.index, scope.item_index, theme, locked, objs, siblings)
            out[name] = self.value(sub, child)
        extra = schema.get("additionalProperties", True)
        want = int(schema.get("minProperties", 0))
        while len(out) < want and extra is not False:
            name = f"extra_{len(out) + 1}"
            child = Scope(name, scope.path + (name,), scope.index, scope.item_index, theme, locked, objs, siblings)
            out[name] = self.value(extra if isinstance(extra, dict) else {"type": "string"}, child)
        return out

    def array(self, schema: dict[str, Any], scope: Scope) -> list[Any]:
        prefix = list(schema.get("prefixItems") or [])
        items = schema.get("items", {})
        lo = int(schema.get("minItems", 0))
        hi = schema.get("maxItems")
        if items is False:  # only the prefix items are allowed
            hi = len(prefix) if hi is None else min(int(hi), len(prefix))
        if not isinstance(items, dict):
            items = {}
        count = lo if _too_deep(scope) else self.count(scope, lo, None if hi is None else int(hi))
        out: list[Any] = []
        for i in range(count):
            sub = prefix[i] if i < len(prefix) else items
            resolved = self._resolve(sub)
            is_obj = resolved.get("type") == "object" or "properties" in resolved
            child = Scope(scope.key, scope.path, i, i if is_obj else scope.item_index,
                           scope.theme, scope.theme_locked, scope.objs, scope.siblings, count)
            value = self.value(sub, child)
            if isinstance(value, str) and value in out:
                if len(out) >= lo:
                    break  # the pool ran out: a shorter list beats a repeated item
                if schema.get("uniqueItems"):
                    value = f"{value} ({i + 1})"
            out.append(value)
        return out

    def count(self, scope: Scope, lo: int, hi: int | None) -> int:
        rule = first_match(self.data.counts, self.probe(scope))
        wanted = self.ctx.number_field(*rule.get("field", [])) if rule else None
        if not wanted and scope.key in self.ctx.fields:  # e.g. "**Paragraphs:** 1" for an array named paragraphs
            wanted = self.ctx.number_field(scope.key)
        if wanted:
            return max(lo, min(wanted, hi if hi is not None else wanted))
        if hi is None:
            return max(lo, 3)
        base = max(lo, min(3, hi))
        return self.rng.randint(base, max(base, min(hi, base + 2)))

    def enum(self, values: list[Any], scope: Scope) -> Any:
        if not values:
            return None
        rule = first_match(self.data.enums, self.probe(scope))
        if rule is not None:
            wanted = self.renderer(scope).piece({"text": rule["value"]})
            if wanted in values:
                return wanted
        preferred = [v for v in values if isinstance(v, str) and v.lower() in self.data.enum_preferred]
        if scope.index is not None:
            # Items of one array get different values; among the cozy ones when there are several.
            pool = preferred if len(preferred) > 1 else values
            return pool[scope.index % len(pool)]
        return self.rng.choice(preferred or values)

    # ---- numbers and flags

    @staticmethod
    def _bounds(schema: dict[str, Any], integer: bool) -> tuple[float | None, float | None]:
        lo, hi = schema.get("minimum"), schema.get("maximum")
        step = 1 if integer else 1e-6
        if isinstance(schema.get("exclusiveMinimum"), (int, float)):
            lo = schema["exclusiveMinimum"] + step if lo is None else max(lo, schema["exclusiveMinimum"] + step)
        if isinstance(schema.get("exclusiveMaximum"), (int, float)):
            hi = schema["exclusiveMaximum"] - step if hi is None else min(hi, schema["exclusiveMaximum"] - step)
        return lo, hi

    def _preferred_number(self, scope: Scope) -> float | None:
        rule = first_match(self.data.numbers, self.probe(scope))
        if rule is None:
            return None
        given = self.ctx.number_field(*rule["field"]) if rule.get("field") else None
        if given:
            return given
        jitter = rule.get("jitter", 0)
        return rule.get("value", 0) + rule.get("step", 0) * (scope.index or 0) + (
            self.rng.randint(0, int(jitter)) if jitter else 0)

    def integer(self, schema: dict[str, Any], scope: Scope) -> int:
        lo, hi = self._bounds(schema, True)
        lo_i = math.ceil(lo) if lo is not None else None
        hi_i = math.floor(hi) if hi is not None else None
        want = self._preferred_number(scope)
        if want is None:
            start = lo_i if lo_i is not None else (hi_i - 9 if hi_i is not None and hi_i < 1 else 1)
            want = self.rng.randint(start, hi_i if hi_i is not None else start + 9)
        value = int(round(want))
        if lo_i is not None:
            value = max(value, lo_i)
        if hi_i is not None:
            value = min(value, hi_i)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0 and value % step:
            up = value + (step - value % step)
            value = up if hi_i is None or up <= hi_i else value - value % step
        return value

    def number(self, schema: dict[str, Any], scope: Scope) -> float:
        lo, hi = self._bounds(schema, False)
        want = self._preferred_number(scope)
        if want is None:
            if lo is not None and hi is not None:
                want = lo + (hi - lo) * self.rng.uniform(0.3, 0.7)
            else:
                want = (lo if lo is not None else 0.0) + self.rng.uniform(0.5, 5)
        value = float(want)
        if lo is not None:
            value = max(value, float(lo))
        if hi is not None:
            value = min(value, float(hi))
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            value = round(round(value / step) * step, 10)
            if hi is not None and value > hi:
                value = round(value - step, 10)
            if lo is not None and value < lo:
                value = round(value + step, 10)
        return round(value, 3) if not step else value

    def boolean(self, scope: Scope) -> bool:
        if matches(self.data.true_when, self.probe(scope)):
            return True
        return self.rng.random() < 0.5

    # ---- strings

    def string(self, schema: dict[str, Any], scope: Scope) -> str:
        fmt = schema.get("format")
        text = self._formatted(fmt) if fmt else None
        if text is None:
            text = self.text_for(scope, str(schema.get("description", "")))
        lo = int(schema.get("minLength", 0))
        hi = schema.get("maxLength")
        description = str(schema.get("description", ""))
        if hint := _LENGTH_HINT.search(description):
            hint_lo, hint_hi, unit = int(hint.group(1)), int(hint.group(2)), hint.group(3).lower()
        elif hint := _MAX_HINT.search(description):
            hint_lo, hint_hi, unit = 0, int(hint.group(1)), hint.group(2).lower()
        if hint and unit == "words":
            text = fit_words(text, hint_lo, hint_hi, self.data.fillers)
        elif hint and "minLength" not in schema and "maxLength" not in schema:
            lo, hi = hint_lo, hint_hi
        text = fit_chars(text, lo, None if hi is None else int(hi), self.data.fillers)
        pattern = schema.get("pattern")
        if pattern and not re.search(pattern, text):
            slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
            for candidate in (slug, slug.replace("_", "-"), "cozy", "Cozy", "1", "a", "2026-01-01", "#f6d7a7"):
                if re.search(pattern, candidate):
                    return candidate
        return text

    def _formatted(self, fmt: str) -> str | None:
        return {
            "date-time": "2026-01-01T09:00:00Z", "date": "2026-01-01", "time": "09:00:00Z",
            "email": "hello@example.com", "uri": "https://example.com/cozy-pet", "url": "https://example.com/cozy-pet",
            "hostname": "example.com", "duration": "PT15S",
            "uuid": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
        }.get(fmt)

    # ---- what a string says: the first rule that matches

    def probe(self, scope: Scope, description: str = "") -> Probe:
        return Probe(key=scope.key.lower(), path="/".join(scope.path).lower(), siblings=frozenset(s.lower() for s in scope.siblings),
                     description=description.lower(), in_array=scope.index is not None, fields=self.ctx.fields,
                     named_pet=self.ctx.pet.named, selected=bool(self.ctx.selected), modes=self.data.modes)

    def renderer(self, scope: Scope, index: Any = "i") -> Renderer:
        return Renderer(self.ctx, self.data, scope, scope.theme or self.ctx.themes[0], index)

    def text_for(self, scope: Scope, description: str = "") -> str:
        """The string for one property, chosen by its name, where it sits and its description."""
        rule = first_match(self.data.rules, self.probe(scope, description))
        return self.renderer(scope).piece(rule) if rule is not None else ""
