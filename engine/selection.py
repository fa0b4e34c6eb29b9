"""Selection paths and `_ux` hints, shared by the engine and every renderer.

A pick is a *path* to the selectable unit of `data`: `[i]` into a top-level
array, `["scenes", i]` into an array under a key (cc-workflow.md §1.8). The
unit is the schema node marked `_ux.selectable: true`; without a mark, the
first array found.
"""

from __future__ import annotations

from typing import Any

Path = list[Any]


def ux(schema: Any) -> dict[str, Any]:
    """The `_ux` hints of a schema node: `"_ux": {...}` merged with `"_ux.x"` keys."""
    if not isinstance(schema, dict):
        return {}
    hints = dict(schema.get("_ux") or {}) if isinstance(schema.get("_ux"), dict) else {}
    for key, value in schema.items():
        if key.startswith("_ux."):
            hints[key[4:]] = value
    return hints


def selectable_items(data: Any, schema: Any) -> list[tuple[Path, Any, dict[str, Any]]]:
    """(path, item, item schema) for every selectable unit, in display order."""
    marked = _walk(data, schema if isinstance(schema, dict) else {}, [])
    if marked:
        return marked
    return _first_array(data, schema if isinstance(schema, dict) else {}, [])


def _walk(data: Any, schema: dict[str, Any], path: Path) -> list[tuple[Path, Any, dict[str, Any]]]:
    found: list[tuple[Path, Any, dict[str, Any]]] = []
    if isinstance(data, list):
        item_schema = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        if ux(item_schema).get("selectable"):
            return [(path + [i], item, item_schema) for i, item in enumerate(data)]
        for i, item in enumerate(data):
            found.extend(_walk(item, item_schema, path + [i]))
    elif isinstance(data, dict):
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        for key, sub_schema in properties.items():
            if key in data:
                found.extend(_walk(data[key], sub_schema if isinstance(sub_schema, dict) else {}, path + [key]))
    return found


def _first_array(data: Any, schema: dict[str, Any], path: Path) -> list[tuple[Path, Any, dict[str, Any]]]:
    if isinstance(data, list):
        item_schema = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [(path + [i], item, item_schema) for i, item in enumerate(data)]
    if isinstance(data, dict):
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        for key, value in data.items():
            if isinstance(value, list):
                sub = properties.get(key) if isinstance(properties.get(key), dict) else {}
                return _first_array(value, sub, path + [key])
    return []


def follow(data: Any, path: Path) -> Any:
    current = data
    for part in path:
        if isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        elif isinstance(current, dict) and isinstance(part, str) and part in current:
            current = current[part]
        else:
            raise KeyError(f"path {path!r} does not exist in the data")
    return current


def strip_metadata(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_metadata(v) for k, v in value.items() if k != "_metadata"}
    if isinstance(value, list):
        return [strip_metadata(v) for v in value]
    return value


def wire_paths(paths: list[Path], multi: bool) -> list[Any]:
    """The spec's wire form: multi-select flattens top-level paths to ints;
    single-select sends its one path unwrapped."""
    if not multi:
        return list(paths[0]) if paths else []
    return [p[0] if len(p) == 1 else list(p) for p in paths]


def parse_wire_paths(indices: list[Any], multi: bool) -> list[Path]:
    if not multi:
        return [list(indices)] if indices else []
    return [list(p) if isinstance(p, list) else [p] for p in indices]
