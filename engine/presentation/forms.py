"""Form state of a media panel: which values a parameter cycles through, the
effective parameters after a person's changes, and a short name for a set.

A front end keeps the overrides (`{field name: value}`) per panel; everything
else is derived here from the `ParamField`s the engine sends.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from engine.protocol import MediaPanel, ParamField

SAMPLED_STEPS = 6  # a long range is sampled to this many values (+ the starting one)


def short_hash(value: str, length: int = 6) -> str:
    """A short stable token for any text (base32 of its SHA-256, lower case)."""
    digest = hashlib.sha256(value.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:length]


def param_values(f: ParamField) -> list[Any]:
    """The values a parameter cycles through (enum, or a slider's steps;
    long ranges are sampled to at most ~7 values including the starting one)."""
    if f.enum:
        return list(f.enum)
    if f.minimum is None or f.maximum is None or f.maximum < f.minimum:
        return []
    step = f.step or 1
    count = int(round((f.maximum - f.minimum) / step)) + 1
    integral = f.type == "integer" or all(float(x).is_integer() for x in (f.minimum, f.maximum, step))
    if count <= 10:
        raw = [f.minimum + k * step for k in range(count)]
    else:
        last = SAMPLED_STEPS - 1
        raw = [f.minimum + round(k * (count - 1) / last) * step for k in range(SAMPLED_STEPS)]
        if isinstance(f.value, (int, float)) and f.minimum <= f.value <= f.maximum:
            raw.append(f.value)
    return sorted({int(round(v)) if integral else round(v, 6) for v in raw})


def is_choice_field(f: ParamField) -> bool:
    """A field chosen from values (a button to cycle), not typed as free text."""
    return f.input_type not in ("textarea", "text") and len(param_values(f)) > 1


def value_label(f: ParamField, value: Any) -> str:
    """A parameter value as shown: its `enum_labels` entry, else the value."""
    return str(f.enum_labels.get(str(value), value))


def panel_params(panel: MediaPanel, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every field's effective value (keyed by `ParamField.name`), a value that
    a controlling field no longer allows corrected (`MediaPanel.settle`)."""
    overrides = overrides or {}
    return panel.settle({f.name: overrides.get(f.name, f.value) for f in panel.fields})


def field_values(panel: MediaPanel, f: ParamField, params: dict[str, Any]) -> list[Any]:
    """The values a field cycles through now: what its controllers allow, else `param_values`."""
    allowed = panel.allowed(f, params)
    return param_values(f) if allowed is None else allowed


def next_param_choice(
    panel: MediaPanel, field_index: int, overrides: dict[str, Any] | None = None, value_index: int | None = None
) -> dict[str, Any]:
    """New overrides for `panel` after a parameter change: the next value in the
    cycle, or value number `value_index`. A field this one controls that is left
    on a value no longer allowed is corrected in the overrides too."""
    new = dict(overrides or {})
    if not 0 <= field_index < len(panel.fields):
        return new
    f = panel.fields[field_index]
    values = field_values(panel, f, panel_params(panel, new))
    if not values:
        return new
    if value_index is not None:
        if not 0 <= value_index < len(values):
            return new
        new[f.name] = values[value_index]
    else:
        current = panel_params(panel, new)[f.name]
        keyed = [str(v) for v in values]
        pos = keyed.index(str(current)) if str(current) in keyed else -1
        new[f.name] = values[(pos + 1) % len(values)]
    settled = panel_params(panel, new)
    for other in panel.fields:
        if other.name in new or str(settled[other.name]) != str(other.value):
            new[other.name] = settled[other.name]
    return new


def params_signature(params: dict[str, Any]) -> str:
    """4 chars naming a parameter set (stale-form check, idempotency keys)."""
    return short_hash(json.dumps(params, sort_keys=True, default=str), 4)


@dataclass(frozen=True)
class Setting:
    """A choice field of a panel with its current value, as shown."""

    index: int  # into `MediaPanel.fields`
    title: str
    value: str


def panel_settings(panel: MediaPanel, overrides: dict[str, Any] | None = None) -> list[Setting]:
    """The panel's choice fields, in order, with their effective values."""
    params = panel_params(panel, overrides)
    return [
        Setting(i, f.title, value_label(f, params.get(f.name))) for i, f in enumerate(panel.fields) if is_choice_field(f)
    ]
