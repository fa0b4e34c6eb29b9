"""A provider panel's parameter form, read from its `_ux.input_schema` (cc-workflow.md §1.10).

Each property is a `ParamField`: it starts from the prompt data's
`_ux.source_field`, else its `default`; `destination_field` renames it on the
way out. Besides plain values, an `enum` may list objects (the reference
design's model and size lists, or an `api.fetch` answer): `value_key` names
what is sent (default `value`, `id`, `key` or `name`), `label_key` what is
shown (default `label`, `title`, `name`); both may also sit in `_ux`.

`controls` (on the field or in its `_ux`) makes one field's choice restrict
another's values, in one of three spellings:
- `{"resolution": "resolutions"}`: the chosen entry's `resolutions` lists them;
- `["resolution"]`: the chosen entry's own `resolution` key lists them;
- `{"resolution": {"MOTION2": ["480", "720"], ...}}`: by this field's value.
An `enum` given but empty (e.g. `"{{ state.models }}"` after a failed fetch)
leaves the field with no choices: the panel is shown as unavailable.
"""

from __future__ import annotations

import json
from typing import Any

from engine.modules.base import InvalidResponse
from engine.protocol import ParamField
from engine.selection import ux

VALUE_KEYS = ("value", "id", "key", "name")
LABEL_KEYS = ("label", "title", "name", "display_name")
TEXT_LIMIT = 8000


def _hint(spec: dict[str, Any], key: str) -> Any:
    return spec[key] if key in spec else ux(spec).get(key)


class _Options:
    """An enum's entries as values sent and labels shown."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.value_key = _hint(spec, "value_key")
        self.label_key = _hint(spec, "label_key")
        raw = spec.get("enum")
        self.given = "enum" in spec
        self.entries: list[Any] = raw if isinstance(raw, list) else []
        self.values = [self.value(e) for e in self.entries]
        self.labels = {str(spec_key): str(text) for spec_key, text in (spec.get("enum_labels") or {}).items()}
        for entry, value in zip(self.entries, self.values):
            label = self.label(entry)
            if label is not None:
                self.labels.setdefault(str(value), label)

    def value(self, entry: Any) -> Any:
        if not isinstance(entry, dict):
            return entry
        key = self.value_key or next((k for k in VALUE_KEYS if k in entry), None)
        return entry.get(key) if key else json.dumps(entry, sort_keys=True, ensure_ascii=False)

    def label(self, entry: Any) -> str | None:
        if not isinstance(entry, dict):
            return None
        key = self.label_key or next((k for k in LABEL_KEYS if k in entry), None)
        return str(entry[key]) if key and entry.get(key) not in (None, "") else None


def _rules(spec: dict[str, Any], options: _Options) -> dict[str, dict[str, list[Any]]]:
    """This field's `controls` as {target property: {own value as text: raw allowed entries}}."""
    controls = _hint(spec, "controls")
    if isinstance(controls, str):
        controls = [controls]
    if isinstance(controls, list):
        controls = {str(target): str(target) for target in controls}
    if not isinstance(controls, dict):
        return {}
    rules: dict[str, dict[str, list[Any]]] = {}
    for target, how in controls.items():
        if isinstance(how, dict):
            rules[target] = {str(k): v if isinstance(v, list) else [v] for k, v in how.items()}
        elif isinstance(how, str):
            rules[target] = {str(value): entry[how] if isinstance(entry[how], list) else [entry[how]]
                             for entry, value in zip(options.entries, options.values)
                             if isinstance(entry, dict) and how in entry}
    return rules


def panel_fields(panel_schema: dict[str, Any], prompt_data: Any) -> list[ParamField]:
    """The panel's form: one field per input-schema property, object enums
    flattened to values and labels, `controls` resolved to field names."""
    input_schema = ux(panel_schema).get("input_schema") or {}
    specs = {k: v for k, v in (input_schema.get("properties") or {}).items() if isinstance(v, dict)}
    fields: dict[str, ParamField] = {}
    options: dict[str, _Options] = {}
    for name, spec in specs.items():
        opts = options[name] = _Options(spec)
        hints = ux(spec)
        value = spec.get("default")
        source = hints.get("source_field")
        if source and isinstance(prompt_data, dict) and prompt_data.get(source) is not None:
            value = prompt_data[source]
        fields[name] = ParamField(
            name=spec.get("destination_field") or name,
            source_name=name,
            title=spec.get("title") or name,
            type=spec.get("type", "string"),
            input_type=hints.get("input_type"),
            enum=opts.values if opts.given else None,
            enum_labels=opts.labels,
            minimum=spec.get("minimum"),
            maximum=spec.get("maximum"),
            step=spec.get("step"),
            value=opts.value(value),
        )
    for name, spec in specs.items():
        for target, by_value in _rules(spec, options[name]).items():
            goal = fields.get(target) or next((f for f in fields.values() if f.name == target), None)
            if goal is None or not by_value:  # no entries (e.g. a fetch that failed): nothing to restrict
                continue
            goal_options = options[goal.source_name]
            allowed = {key: [goal_options.value(e) for e in entries] for key, entries in by_value.items()}
            for entries in by_value.values():
                for entry in entries:
                    label = goal_options.label(entry)
                    if label is not None:
                        goal.enum_labels.setdefault(str(goal_options.value(entry)), label)
            if goal.enum is None:  # its values come from the controller alone
                goal.enum = list(dict.fromkeys(v for values in allowed.values() for v in values))
            fields[name].controls[goal.name] = allowed
    return list(fields.values())


def form_problems(panel_schema: dict[str, Any]) -> list[str]:
    """Load-time problems of a panel's form: a `controls` naming no field of it."""
    specs = (ux(panel_schema).get("input_schema") or {}).get("properties") or {}
    names = set(specs) | {s.get("destination_field") for s in specs.values() if isinstance(s, dict)}
    problems = []
    for name, spec in specs.items():
        if not isinstance(spec, dict):
            continue
        controls = _hint(spec, "controls")
        targets = [controls] if isinstance(controls, str) else list(controls or [])
        problems += [f"field '{name}' controls '{t}', which is not a field of this panel" for t in targets
                     if t not in names]
    return problems


def no_choices(fields: list[ParamField]) -> list[str]:
    """The titles of fields given an `enum` that holds nothing to choose."""
    return [f.title for f in fields if f.enum is not None and not f.enum]


def coerce(field: ParamField, raw: Any, allowed: list[Any] | None) -> Any:
    """A form value (enum values arrive as text) as the provider request takes it."""
    if field.enum is not None:
        choices = field.enum if allowed is None else allowed
        by_text = {str(v): v for v in choices}
        if str(raw) not in by_text:
            raise InvalidResponse(f"{field.title}: {raw!r} is not one of {', '.join(by_text) or 'nothing'}")
        return by_text[str(raw)]
    if field.type in ("integer", "number"):
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise InvalidResponse(f"{field.title}: {raw!r} is not a number") from None
        if field.minimum is not None and number < field.minimum:
            raise InvalidResponse(f"{field.title}: at least {field.minimum:g}")
        if field.maximum is not None and number > field.maximum:
            raise InvalidResponse(f"{field.title}: at most {field.maximum:g}")
        return int(number) if field.type == "integer" else number
    if field.type == "boolean" and isinstance(raw, str):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    text = "" if raw is None else str(raw)
    if len(text) > TEXT_LIMIT:
        raise InvalidResponse(f"{field.title}: too long ({len(text)} characters)")
    return text
