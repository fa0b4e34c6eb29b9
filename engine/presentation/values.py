"""Fields and values of display data as neutral rows: what is shown, its label and its text.

Driven only by a display schema's `_ux` hints (`display`, `display_label`,
`display_format`, `render_as`, `highlight`), never by state key names. The text
is plain (never escaped); a front end decides how a row looks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from engine.selection import ux
from engine.templating import TemplateEngine, Where

TITLE_KIND = ("card-title", "section-title", "title")  # `render_as` values that name a title
SUBTITLE_KIND = ("card-subtitle", "section-summary")  # ... and a one-line summary under it
DEFAULT_FIELD_LIMIT = 700
DEFAULT_TITLE_LIMIT = 40

Role = Literal["title", "subtitle", "highlight", "field", "text"]


@dataclass(frozen=True)
class Row:
    """One shown line. `role`: "title" (the name of what is shown), "subtitle" (a
    summary shown without its label), "highlight" (a field to stand out),
    "field" (`label: text`), "text" (an unlabelled value, e.g. a plain item)."""

    label: str
    text: str
    role: Role = "field"


def shorten(text: Any, limit: int) -> str:
    """Collapse whitespace and cut at a word boundary with an ellipsis."""
    s = re.sub(r"\s+", " ", "" if text is None else str(text)).strip()
    if limit <= 0:
        return ""
    if len(s) <= limit:
        return s
    cut = s[: max(1, limit - 1)]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


# -------------------------------------------------------------- schema tools


def properties(schema: Any) -> dict[str, Any]:
    """A schema node's `properties` ({} when there are none)."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    return props if isinstance(props, dict) else {}


def is_hidden(key: str, schema: Any) -> bool:
    """`_`-keys and fields whose `_ux.display` is false ("false", "hidden", "none")."""
    if key.startswith("_"):
        return True
    shown = ux(schema).get("display", True)
    return shown is False or (isinstance(shown, str) and shown.lower() in ("false", "hidden", "none"))


def _humanize(key: str) -> str:
    words = re.sub(r"[_\-]+", " ", key).strip()
    return words[:1].upper() + words[1:] if words else key


def field_label(key: str, schema: Any) -> str:
    """`_ux.display_label`, else the schema's `title`, else the key in words."""
    label = ux(schema).get("display_label") or (schema.get("title") if isinstance(schema, dict) else None)
    return str(label) if label else _humanize(key)


def field_role(schema: Any, *, titles: bool = True) -> Role:
    """How a field presents itself: a title (unless `titles` is off), a
    subtitle, highlighted or a plain field."""
    hints = ux(schema)
    if titles and hints.get("render_as") in TITLE_KIND:
        return "title"
    if hints.get("render_as") in SUBTITLE_KIND:
        return "subtitle"
    return "highlight" if hints.get("highlight") else "field"


def schema_at(schema: Any, path: Iterable[Any]) -> dict[str, Any]:
    """The schema node for a data path (str -> properties, int -> items)."""
    node: Any = schema if isinstance(schema, dict) else {}
    for part in path:
        if isinstance(part, int):
            node = node.get("items") if isinstance(node.get("items"), dict) else {}
        else:
            node = properties(node).get(part, {})
            if not isinstance(node, dict):
                node = {}
    return node


# ---------------------------------------------------------- display_format


@lru_cache(maxsize=1)
def display_templates() -> TemplateEngine:
    """The sandboxed engine for `display_format` templates, made on first use."""
    return TemplateEngine()


def apply_display_format(fmt: str, value: Any, templates: TemplateEngine | None = None) -> str | None:
    """`value` through a `_ux.display_format`: a Jinja template over `value`
    ("{{ value | join(' / ') }}") or a format string ("{value:.1f} s").
    None when the hint is neither, or fails: a bad hint never breaks a screen."""
    try:
        if "{{" in fmt or "{%" in fmt:
            engine = templates or display_templates()
            return engine.render_text(fmt, {"value": value}, Where(input_key="display_format"))
        if "{value" in fmt:
            return fmt.format(value=value)
    except Exception:  # fall back to the plain value
        return None
    return None


# ------------------------------------------------------------------ values


def format_value(
    value: Any, schema: Any = None, limit: int = DEFAULT_FIELD_LIMIT, *, templates: TemplateEngine | None = None
) -> str:
    """A field value as one line of plain text, cut to `limit`: lists joined,
    objects summarised as `Label: value, ...` (hidden fields left out)."""
    fmt = ux(schema).get("display_format")
    if isinstance(fmt, str):
        formatted = apply_display_format(fmt, value, templates)
        if formatted is not None:
            return shorten(formatted, limit)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, str)):
        return shorten(value, limit)
    item_schema = schema.get("items", {}) if isinstance(schema, dict) else {}
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return shorten(", ".join(format_value(v, item_schema, limit, templates=templates) for v in value), limit)
        return shorten("; ".join(item_title(v, item_schema, limit, templates=templates) for v in value), limit)
    if isinstance(value, dict):
        props = properties(schema)
        parts = []
        for key, sub in value.items():
            sub_schema = props.get(key, {})
            if is_hidden(key, sub_schema):
                continue
            text = format_value(sub, sub_schema, limit, templates=templates)
            if text:
                parts.append(f"{field_label(key, sub_schema)}: {text}")
        return shorten(", ".join(parts), limit)
    return shorten(json.dumps(value, ensure_ascii=False, default=str), limit)


def title_key(item: dict[str, Any], schema: Any) -> str | None:
    """The field that names an item: its card-title/section-title field, else the
    first labelled visible string, else the first visible string."""
    props = properties(schema)
    for key, sub in props.items():
        if key in item and ux(sub).get("render_as") in TITLE_KIND:
            return key
    for key, sub in props.items():
        value = item.get(key)
        if not is_hidden(key, sub) and ux(sub).get("display_label") and isinstance(value, str) and value.strip():
            return key
    for key, sub in list(props.items()) + [(k, {}) for k in item if k not in props]:
        if key in item and not is_hidden(key, sub) and isinstance(item[key], str) and item[key].strip():
            return key
    return None


def item_title(
    item: Any, schema: Any = None, limit: int = DEFAULT_TITLE_LIMIT, *, templates: TemplateEngine | None = None
) -> str:
    """A short plain-text title for an item (its `title_key` field, else the whole
    item summarised); never empty ("…")."""
    if isinstance(item, dict):
        key = title_key(item, schema)
        if key is not None:
            return format_value(item[key], properties(schema).get(key, {}), limit, templates=templates) or "…"
    return format_value(item, schema, limit, templates=templates) or "…"


def item_rows(
    item: Any,
    schema: Any = None,
    field_limit: int = DEFAULT_FIELD_LIMIT,
    include_title: bool = False,
    *,
    templates: TemplateEngine | None = None,
) -> list[Row]:
    """The visible fields of an item, in schema order: hidden fields left out,
    `display: "passthrough"` objects flattened, lists joined, nested objects
    summarised. Without `include_title` the title field is left out (it is
    `item_title`); with it the title field is an ordinary labelled row, and a
    plain (non-object) item is one "text" row."""
    if not isinstance(item, dict):
        text = format_value(item, schema, field_limit, templates=templates) if include_title else ""
        return [Row("", text, "text")] if text else []
    if field_limit <= 0:
        return []
    props = properties(schema)
    title = None if include_title else title_key(item, schema)
    keys = [k for k in props if k in item] + ([k for k in item if k not in props] if not props else [])
    rows: list[Row] = []
    for key in keys:
        sub = props.get(key, {})
        if key == title or is_hidden(key, sub):
            continue
        if ux(sub).get("display") == "passthrough" and isinstance(item[key], dict):
            rows += item_rows(item[key], sub, field_limit, include_title=True, templates=templates)
            continue
        text = format_value(item[key], sub, field_limit, templates=templates)
        if text:
            rows.append(Row(field_label(key, sub), text, field_role(sub, titles=False)))
    return rows


def section_rows(
    data: Any,
    schema: Any,
    limit: int = DEFAULT_FIELD_LIMIT,
    *,
    skip: Callable[[Any], bool] | None = None,
    templates: TemplateEngine | None = None,
) -> list[Row]:
    """The visible top-level fields of an object shown as a section: its
    title/subtitle fields as such, the rest labelled. `skip(schema)` leaves out
    the fields some other part of the screen shows (e.g. media panels)."""
    if not isinstance(data, dict):
        return []
    rows = []
    for key, sub in properties(schema).items():
        if key not in data or is_hidden(key, sub) or (skip and skip(sub)):
            continue
        text = format_value(data[key], sub, limit, templates=templates)
        if text:
            rows.append(Row(field_label(key, sub), text, field_role(sub)))
    return rows


def status_rows(fields: list[list[tuple[str, str]]], step_name: str) -> list[list[Row]]:
    """A run's status as lines of rows: the step as a title, then one line per
    group of `(label, value)` pairs, the values highlighted; empty ones left out."""
    lines = [[Row("", shorten(step_name, 200), "title")]]
    for group in fields:
        line = [Row(shorten(k, 40), shorten(v, 120), "highlight") for k, v in group if v not in (None, "")]
        if line:
            lines.append(line)
    return lines
