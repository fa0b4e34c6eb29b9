"""OpenAI strict structured output: a workflow's JSON schema as the Responses API `text.format`.

Display hints (`_ux*` keys) are stripped; a schema that meets strict mode's
rules is sent with strict=True, any other is still sent, with strict=False,
rather than failing the call.
"""

from __future__ import annotations

import re
from typing import Any

# Keywords strict mode accepts (per OpenAI's structured-output guide). Anything
# else (default, allOf, not, if/then/else, oneOf, patternProperties...) makes
# the schema non-strict: it is then sent with strict=False rather than failing.
_STRICT_KEYWORDS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "items", "anyOf",
        "enum", "const", "description", "title", "$defs", "definitions", "$ref",
        "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "minLength", "maxLength",
    }
)  # fmt: skip
_STRICT_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"})


def strip_ux_keys(value: Any) -> Any:
    """A copy of a schema without `_ux*` keys (display hints the API does not know)."""
    if isinstance(value, dict):
        return {k: strip_ux_keys(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("_ux"))}
    if isinstance(value, list):
        return [strip_ux_keys(v) for v in value]
    return value


def is_strict_compatible(schema: dict[str, Any]) -> bool:
    """True when `schema` satisfies OpenAI's strict structured-output rules.

    Root is an object; every object closes with additionalProperties false and
    requires all its properties; only supported keywords and formats appear.
    """
    if not isinstance(schema, dict) or schema.get("type") != "object" or "anyOf" in schema:
        return False
    return _strict_node(schema)


def _strict_node(node: Any) -> bool:
    if isinstance(node, bool):
        return False  # `true`/`false` schemas are not allowed in strict mode
    if not isinstance(node, dict):
        return False
    for key in node:
        if key not in _STRICT_KEYWORDS and key != "$schema":
            return False
    if "format" in node and node["format"] not in _STRICT_FORMATS:
        return False
    types = node.get("type")
    type_list = types if isinstance(types, list) else [types]
    if "object" in type_list or "properties" in node:
        props = node.get("properties", {})
        if node.get("additionalProperties") is not False:
            return False
        if not isinstance(props, dict) or set(node.get("required", [])) != set(props):
            return False
        if not all(_strict_node(sub) for sub in props.values()):
            return False
    if "items" in node and not _strict_node(node["items"]):
        return False
    if "anyOf" in node and not all(_strict_node(sub) for sub in node["anyOf"]):
        return False
    for defs_key in ("$defs", "definitions"):
        if defs_key in node and not all(_strict_node(sub) for sub in node[defs_key].values()):
            return False
    return True


def schema_format(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """The Responses API `text.format` object for a JSON schema."""
    clean = strip_ux_keys(schema)
    clean.pop("$schema", None)  # meta keyword; not part of the output shape
    safe_name = re.sub(r"[^a-zA-Z0-9_-]", "_", name or "response")[:64] or "response"
    return {
        "type": "json_schema",
        "name": safe_name,
        "schema": clean,
        "strict": is_strict_compatible(clean),
    }
