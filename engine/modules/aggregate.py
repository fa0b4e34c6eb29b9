"""A MongoDB-style aggregation pipeline over JSON documents: a pure function, no database.

`aggregate(documents, pipeline)` runs the common stages the reference design's
workflows use, with Mongo's meaning: `$match`, `$project`, `$unwind`,
`$replaceRoot` (and `$replaceWith`), `$addFields` (and `$set`), `$sort`,
`$limit`, `$skip`, `$group` (`$push`, `$sum`, `$addToSet`, `$first`, `$last`,
`$min`, `$max`, `$avg`, `$count`) and `$count`. `check_pipeline(pipeline)`
lists what it can find wrong without data. Anything unsupported is a
`QueryError` that names the stage and what is supported.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from engine.modules.expressions import (
    MISSING,
    QueryError,
    check_expression,
    drop_field,
    evaluate,
    get_field,
    set_field,
    sort_key,
)

__all__ = ["STAGES", "QueryError", "aggregate", "check_pipeline"]

Docs = list[Any]


# ------------------------------------------------------------------ $match


def _candidates(value: Any) -> list[Any]:
    return [value, *value] if isinstance(value, list) else [value]


def _same_kind(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    return (isinstance(a, numbers) and isinstance(b, numbers)) or (isinstance(a, str) and isinstance(b, str))


_QUERY_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": lambda value, arg: any(c == arg for c in _candidates(value)),
    "$ne": lambda value, arg: not any(c == arg for c in _candidates(value)),
    "$gt": lambda value, arg: any(_same_kind(c, arg) and c > arg for c in _candidates(value)),
    "$gte": lambda value, arg: any(_same_kind(c, arg) and c >= arg for c in _candidates(value)),
    "$lt": lambda value, arg: any(_same_kind(c, arg) and c < arg for c in _candidates(value)),
    "$lte": lambda value, arg: any(_same_kind(c, arg) and c <= arg for c in _candidates(value)),
    "$in": lambda value, arg: any(c in arg for c in _candidates(value)),
    "$nin": lambda value, arg: not any(c in arg for c in _candidates(value)),
    "$exists": lambda value, arg: (value is not MISSING) == bool(arg),
    "$size": lambda value, arg: isinstance(value, list) and len(value) == arg,
}


def _check_query(query: Any) -> None:
    if not isinstance(query, dict):
        raise QueryError("a query must be an object")
    for key, cond in query.items():
        if key in ("$and", "$or", "$nor"):
            if not isinstance(cond, list) or not cond:
                raise QueryError(f"{key} needs a non-empty list of queries")
            for sub in cond:
                _check_query(sub)
        elif key == "$expr":
            check_expression(cond)
        elif str(key).startswith("$"):
            raise QueryError(f"unsupported query operator {key!r} ($and, $or, $nor, $expr are)")
        elif isinstance(cond, dict) and any(str(k).startswith("$") for k in cond):
            for op, arg in cond.items():
                if op not in _QUERY_OPS:
                    raise QueryError(f"unsupported query operator {op!r} (operators: {', '.join(_QUERY_OPS)})")
                if op in ("$in", "$nin") and not isinstance(arg, list):
                    raise QueryError(f"{op} needs a list")


def matches(doc: Any, query: dict[str, Any]) -> bool:
    """Does one document satisfy a `$match` query (field equality, dotted paths,
    arrays matching any element, comparison operators, $and/$or/$nor/$expr)."""
    for key, cond in query.items():
        if key == "$and" and not all(matches(doc, q) for q in cond):
            return False
        if key == "$or" and not any(matches(doc, q) for q in cond):
            return False
        if key == "$nor" and any(matches(doc, q) for q in cond):
            return False
        if key == "$expr" and evaluate(cond, doc) in (None, False, 0, MISSING):
            return False
        if str(key).startswith("$"):
            continue
        value = get_field(doc, key)
        if isinstance(cond, dict) and any(str(k).startswith("$") for k in cond):
            if not all(_QUERY_OPS[op](value, arg) for op, arg in cond.items()):
                return False
        elif not (value == cond or any(c == cond for c in _candidates(value)) or (cond is None and value is MISSING)):
            return False
    return True


# ------------------------------------------------------------------ stages


def _match(docs: Docs, spec: Any) -> Docs:
    _check_query(spec)
    return [d for d in docs if matches(d, spec)]


def _project(docs: Docs, spec: Any) -> Docs:
    if not isinstance(spec, dict) or not spec:
        raise QueryError("needs an object of fields")
    flags = {k: v for k, v in spec.items() if isinstance(v, (bool, int)) and not isinstance(v, float)}
    exclude = {k for k, v in flags.items() if not v}
    include = {k for k, v in flags.items() if v}
    computed = {k: v for k, v in spec.items() if k not in flags}
    if exclude - {"_id"} and (include or computed):
        raise QueryError("cannot mix excluded fields with included or computed ones")
    for expr in computed.values():
        check_expression(expr)
    out = []
    for doc in docs:
        source = doc if isinstance(doc, dict) else {}
        if not include and not computed:
            kept = copy.deepcopy(source)
            for path in exclude:
                drop_field(kept, path)
        else:
            kept = {"_id": copy.deepcopy(source["_id"])} if "_id" in source and "_id" not in exclude else {}
            _put(kept, source, {path: f"${path}" for path in include})
            _put(kept, source, computed)
        out.append(kept)
    return out


def _put(target: dict[str, Any], doc: Any, fields: dict[str, Any]) -> None:
    """Set each (dotted) field of `target` to its expression over `doc`; a missing value is left out."""
    for path, expr in fields.items():
        value = evaluate(expr, doc)
        if value is not MISSING:
            set_field(target, path, copy.deepcopy(value))


def _unwind(docs: Docs, spec: Any) -> Docs:
    options = {"path": spec} if isinstance(spec, str) else spec
    path = options.get("path") if isinstance(options, dict) else None
    if not isinstance(path, str) or not path.startswith("$") or path.startswith("$$"):
        raise QueryError('needs a field path such as "$scene_keywords" (or {"path": ...})')
    field, index_field = path[1:], options.get("includeArrayIndex")
    keep_empty = bool(options.get("preserveNullAndEmptyArrays"))
    out = []
    for doc in docs:
        value = get_field(doc, field) if isinstance(doc, dict) else MISSING
        if isinstance(value, list) and value:
            for i, item in enumerate(value):
                copied = copy.deepcopy(doc)
                set_field(copied, field, copy.deepcopy(item))
                if index_field:
                    set_field(copied, index_field, i)
                out.append(copied)
        elif isinstance(value, list) or value is None or value is MISSING:
            if keep_empty:
                copied = copy.deepcopy(doc)
                if index_field:
                    set_field(copied, index_field, None)
                out.append(copied)
        else:  # a single value counts as a one-element array
            copied = copy.deepcopy(doc)
            if index_field:
                set_field(copied, index_field, None)
            out.append(copied)
    return out


def _replace_with(docs: Docs, expr: Any) -> Docs:
    check_expression(expr)
    out = []
    for doc in docs:
        root = evaluate(expr, doc)
        if not isinstance(root, dict):
            shown = "nothing" if root is MISSING else json.dumps(root, default=str)[:60]
            raise QueryError(f"the new root must be an object, not {shown}")
        out.append(copy.deepcopy(root))
    return out


def _replace_root(docs: Docs, spec: Any) -> Docs:
    if not isinstance(spec, dict) or "newRoot" not in spec:
        raise QueryError('needs {"newRoot": <expression>}')
    return _replace_with(docs, spec["newRoot"])


def _add_fields(docs: Docs, spec: Any) -> Docs:
    if not isinstance(spec, dict):
        raise QueryError("needs an object of fields")
    for expr in spec.values():
        check_expression(expr)
    out = []
    for doc in docs:
        copied = copy.deepcopy(doc) if isinstance(doc, dict) else {}
        _put(copied, doc, spec)
        out.append(copied)
    return out


def _sort(docs: Docs, spec: Any) -> Docs:
    if not isinstance(spec, dict) or not spec or any(v not in (1, -1) for v in spec.values()):
        raise QueryError("needs {field: 1 or -1, ...}")
    out = list(docs)
    for field, direction in reversed(list(spec.items())):  # stable sorts, last key first
        out.sort(key=lambda d, f=field: sort_key(get_field(d, f)), reverse=direction == -1)
    return out


def _count_of(spec: Any, name: str) -> int:
    if isinstance(spec, bool) or not isinstance(spec, int) or spec < (1 if name == "$limit" else 0):
        raise QueryError("needs a positive whole number" if name == "$limit" else "needs a whole number")
    return spec


_ACCUMULATORS = ("$push", "$sum", "$addToSet", "$first", "$last", "$min", "$max", "$avg", "$count")


def _accumulate(op: str, values: list[Any]) -> Any:
    present = [v for v in values if v is not MISSING]
    numbers = [v for v in present if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if op == "$push":
        return present
    if op == "$addToSet":
        unique: dict[str, Any] = {}
        for v in present:
            unique.setdefault(json.dumps(v, sort_keys=True, default=str), v)
        return list(unique.values())
    if op in ("$sum", "$count"):
        return sum(numbers) if op == "$sum" else len(values)
    if op == "$avg":
        return sum(numbers) / len(numbers) if numbers else None
    if op in ("$first", "$last"):
        return (values[0] if op == "$first" else values[-1]) if values else None
    ranked = sorted((v for v in present if v is not None), key=sort_key)
    return (ranked[0] if op == "$min" else ranked[-1]) if ranked else None


def _group(docs: Docs, spec: Any) -> Docs:
    if not isinstance(spec, dict) or "_id" not in spec:
        raise QueryError('needs {"_id": <expression>, field: {<accumulator>: <expression>}}')
    fields: dict[str, tuple[str, Any]] = {}
    for name, acc in spec.items():
        if name == "_id":
            continue
        if not isinstance(acc, dict) or len(acc) != 1 or next(iter(acc)) not in _ACCUMULATORS:
            raise QueryError(f"field {name!r} needs one accumulator ({', '.join(_ACCUMULATORS)})")
        op, expr = next(iter(acc.items()))
        check_expression(expr)
        fields[name] = (op, expr)
    check_expression(spec["_id"])
    groups: dict[str, tuple[Any, Docs]] = {}
    for doc in docs:
        key = evaluate(spec["_id"], doc)
        key = None if key is MISSING else key
        groups.setdefault(json.dumps(key, sort_keys=True, default=str), (key, []))[1].append(doc)
    out = []
    for key, members in groups.values():
        row: dict[str, Any] = {"_id": copy.deepcopy(key)}
        for name, (op, expr) in fields.items():
            values = [1 if op == "$count" else evaluate(expr, d) for d in members]
            row[name] = copy.deepcopy(_accumulate(op, values))
        out.append(row)
    return out


def _count(docs: Docs, spec: Any) -> Docs:
    if not isinstance(spec, str) or not spec or spec.startswith("$") or "." in spec:
        raise QueryError("needs the name of the field to hold the count")
    return [{spec: len(docs)}] if docs else []


STAGES: dict[str, Callable[[Docs, Any], Docs]] = {
    "$match": _match,
    "$project": _project,
    "$unwind": _unwind,
    "$replaceRoot": _replace_root,
    "$replaceWith": _replace_with,
    "$addFields": _add_fields,
    "$set": _add_fields,
    "$sort": _sort,
    "$limit": lambda docs, spec: docs[: _count_of(spec, "$limit")],
    "$skip": lambda docs, spec: docs[_count_of(spec, "$skip"):],
    "$group": _group,
    "$count": _count,
}


def _stage(stage: Any, number: int) -> tuple[str, Any]:
    if not isinstance(stage, dict) or len(stage) != 1:
        raise QueryError(f"stage {number}: a stage is an object with one key, such as {{\"$match\": {{...}}}}")
    name, spec = next(iter(stage.items()))
    if name not in STAGES:
        raise QueryError(f"stage {number}: {name!r} is not supported (supported: {', '.join(STAGES)})")
    return name, spec


def aggregate(documents: Any, pipeline: Any) -> list[Any]:
    """Run `pipeline` over `documents` (a list; one object counts as a list of one;
    null as none). The input is never changed."""
    if not isinstance(pipeline, list):
        raise QueryError("the pipeline must be a list of stages")
    if documents is None:
        docs: Docs = []
    elif isinstance(documents, list):
        docs = list(documents)
    else:
        docs = [documents]
    for number, stage in enumerate(pipeline, start=1):
        name, spec = _stage(stage, number)
        try:
            docs = STAGES[name](docs, spec)
        except QueryError as exc:
            raise QueryError(f"stage {number} ({name}): {exc}") from None
    return docs


def check_pipeline(pipeline: Any) -> list[str]:
    """The problems of a pipeline that show without data (none: [])."""
    try:
        aggregate([], pipeline)
    except QueryError as exc:
        return [str(exc)]
    return []
